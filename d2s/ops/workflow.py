"""How the workflow's jobs run (workflow/rules/common.smk asks here): each rule's compute request
from the config's ``compute:`` block, the GPU slot of a GPU job on a workstation, and the checks
that stop the DAG build on a config the jobs could not run with.

Threads, memory and runtime of each rule come from ``compute:`` (the paper config asks what the
paper's runs need, the demo little); the SLURM profile adds only the cluster's facts (account,
partitions) through ``slurm_*`` config keys (docs/slurm-and-gpu.md, "On SLURM"). On a workstation,
Snakemake's ``gpu`` resource counts GPU jobs and ``d2s gpu-slot`` gives each its own device
(:mod:`d2s.core.devices`); under SLURM each GPU job asks ``--gpus=1`` and the cluster isolates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The rules that compute on a GPU unless the config says ``device: cpu``, and where it says so.
GPU_RULES = {
    "train": ("training", "device"),
    "evaluate_cross": ("training", "device"),
    "captions": ("captions", "device"),
    "benchmark_suite": None,  # CUDA timings when a GPU is present, the CPU otherwise
}

#: Threads of a job that takes every core of a local run: Snakemake caps a job's threads at
#: ``--cores`` (reading ``workflow.cores`` instead fails where no ``--cores`` is given, as in
#: ``snakemake --report`` and ``--summary``).
EVERY_CORE = 1 << 20


@dataclass(frozen=True)
class Compute:
    """The compute requests of a config's jobs.

    Args:
        config: the validated workflow config.
        gpus: the GPUs a local run sees (none under SLURM, where the cluster places GPU jobs).
        d2s: the command that runs the suite's CLI (the prefix of ``d2s gpu-slot``).
    """

    config: dict[str, Any]
    gpus: int
    d2s: str

    @classmethod
    def of(cls, config: dict[str, Any], d2s: str) -> Compute:
        from d2s.core.devices import visible_gpus

        slurm = "slurm_account" in config
        return cls(config, 0 if slurm else len(visible_gpus()), d2s)

    @property
    def slurm(self) -> bool:
        """Run under the SLURM profile (it alone sets ``slurm_account``, possibly empty)."""
        return "slurm_account" in self.config

    @property
    def gpu_slots(self) -> int:
        """GPU jobs at once on a workstation: visible GPUs × ``compute.runs_per_gpu``, at least
        one (so GPU jobs on a machine without a GPU run one at a time and then say why they
        cannot use the CPU)."""
        return max(1, self.gpus * self.config["compute"].get("runs_per_gpu", 1))

    def _own(self, key: str) -> dict[str, Any]:
        return self.config["compute"].get(key) or {}

    def _default(self, what: str) -> Any:
        return self.config["compute"]["default"][what]

    def threads(self, key: str) -> int:
        """Threads of a rule (``compute.<key>.threads``, else ``compute.default.threads``)."""
        return self._own(key).get("threads", self._default("threads"))

    def uses_gpu(self, key: str) -> bool:
        """Whether a rule's jobs compute on a GPU, from the config (``device: cpu`` asks none)."""
        if key not in GPU_RULES:
            return False
        where = GPU_RULES[key]
        device = "auto" if where is None else (self.config.get(where[0]) or {}).get(where[1])
        return str(device or "auto") != "cpu"

    def request(self, key: str) -> dict[str, Any]:
        """Resources of a rule: memory and runtime from ``compute:``; ``gpu: 1`` only where the
        rule computes on a GPU; under SLURM, the account and the partition (the GPU partition
        only for GPU jobs)."""
        own = self._own(key)
        out = {
            "mem_mb": own.get("mem_mb", self._default("mem_mb")),
            "runtime": own.get("runtime", self._default("runtime")),
            "gpu": 1 if self.uses_gpu(key) else 0,
        }
        if self.slurm:
            out["slurm_account"] = self.config["slurm_account"]
            part = "slurm_gpu_partition" if out["gpu"] else "slurm_cpu_partition"
            out["slurm_partition"] = self.config[part]
        return out

    def gpu_slot(self, key: str) -> str:
        """Shell prefix of a rule: ``d2s gpu-slot … --`` for GPU jobs on a workstation."""
        if self.slurm or not self.uses_gpu(key):
            return ""
        runs = self.config["compute"].get("runs_per_gpu", 1)
        return f"{self.d2s} gpu-slot --runs-per-gpu {runs} --"

    def exclusive_threads(self, key: str) -> int:
        """Threads of a job that must run alone (the latency benchmark): every core of a local
        run, so nothing else is scheduled beside it (:data:`EVERY_CORE`); under SLURM its own
        threads on a node held exclusively (``slurm_extra --exclusive``)."""
        return self.threads(key) if self.slurm else EVERY_CORE

    def exclusive_request(self, key: str) -> dict[str, Any]:
        """Resources of a job that must run alone: every GPU slot and, under SLURM, a node."""
        out = self.request(key)
        if self.slurm:
            out["slurm_extra"] = "--exclusive"
        elif out["gpu"]:
            out["gpu"] = self.gpu_slots
        return out


def slurm_problems(config: dict[str, Any]) -> list[str]:
    """What the SLURM profile's settings lack (nothing outside SLURM), before anything is
    submitted."""
    if "slurm_account" not in config:
        return []
    account = str(config.get("slurm_account") or "").strip()
    if not account or account.startswith("<"):
        return [
            "slurm_account is not set: write your SLURM account into the `config:` list of "
            "workflow/profiles/slurm/config.yaml (the line `slurm_account=`), e.g. "
            "`slurm_account=my-lab`; `sacctmgr show assoc user=$USER format=account` lists yours."
        ]
    return [
        f"{key} is not set: name the partition in the `config:` list of "
        "workflow/profiles/slurm/config.yaml (`sinfo -s` lists the cluster's partitions)."
        for key in ("slurm_cpu_partition", "slurm_gpu_partition")
        if not str(config.get(key) or "").strip()
    ]


def training_problems(config: dict[str, Any]) -> list[str]:
    """A ``training:`` or ``models:`` key that ``d2s train`` does not know, or a value of the
    wrong type (the keys: :mod:`d2s.train.config`), found while the DAG is built."""
    from d2s.train.checks import ConfigError
    from d2s.train.config import check_keys

    try:
        check_keys(config.get("training") or {}, "config training")
        for name, keys in (config.get("models") or {}).items():
            check_keys(keys or {}, f"config models.{name}")
    except ConfigError as err:
        return [str(err)]
    return []


def preflight_blockers(config: dict[str, Any], local: bool) -> str | None:
    """``d2s doctor``'s blockers before the first job, one line each naming the fix."""
    from d2s.ops.doctor import run_checks

    blockers = [str(f) for f in run_checks(config, local=local) if f.blocker]
    if not blockers:
        return None
    return "pre-flight (d2s doctor) found blockers; nothing was run:\n" + "\n".join(blockers)
