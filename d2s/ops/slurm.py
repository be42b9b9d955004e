"""Pre-flight check of a SLURM run: can every job of the DAG ever be scheduled on this cluster?

SLURM accepts a job that asks more CPUs, memory, GPUs or time than any node of its partition
offers, and leaves it ``PENDING (PartitionConfig)`` forever, while Snakemake prints nothing
(docs/slurm-and-gpu.md, "On SLURM"). This module compares the largest request of each rule
with what ``sinfo`` reports, before anything is submitted:

- :func:`jobs_from_dry_run` reads the jobs of ``snakemake -n`` output (each job's rule, threads
  and resources, which the SLURM profile fills with the account and partition);
- :func:`parse_sinfo` reads ``sinfo --exact --noheader --format=SINFO_FORMAT`` into the largest
  node of each partition;
- :func:`check` returns one message per (rule, request) that no node can satisfy.

The functions are pure (text in, records out), so they are tested on captured output;
:mod:`d2s.cli.slurm` runs the commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "SINFO_FORMAT",
    "Job",
    "Partition",
    "PreflightError",
    "accounting_disabled",
    "check",
    "jobs_from_dry_run",
    "parse_sinfo",
    "parse_time_limit",
    "summarize",
]

#: partition (default marked ``*``) | CPUs per node | memory per node (MB) | time limit | GRES |
#: node state. With ``--exact`` sinfo prints one line per distinct node configuration.
SINFO_FORMAT = "%P|%c|%m|%l|%G|%t"


class PreflightError(ValueError):
    """Output of snakemake or sinfo that cannot be read; the message says which."""


@dataclass(frozen=True)
class Job:
    """One job of the DAG as the SLURM executor would submit it."""

    rule: str
    cpus: int
    mem_mb: int | None
    runtime_min: int | None
    gpus: int
    partition: str | None  # None: the cluster's default partition
    local: bool = False  # a localrule: runs where snakemake runs, never submitted


@dataclass
class Partition:
    """The largest node of a partition (each request is checked against its own maximum)."""

    name: str
    cpus: int = 0
    mem_mb: int = 0
    gpus: int = 0
    time_limit_min: float = float("inf")
    default: bool = False
    states: set[str] = field(default_factory=set)


# --------------------------------------------------------------------------------------------
# snakemake -n
# --------------------------------------------------------------------------------------------

_RULE = re.compile(r"^(local)?rule (\S+):\s*$")
_THREADS = re.compile(r"^\s+threads: (\d+)\s*$")
_RESOURCES = re.compile(r"^\s+resources: (.*)$")


def _resources(text: str) -> dict[str, str]:
    out = {}
    for item in re.split(r",\s+(?=[A-Za-z_]\w*=)", text.strip()):
        key, sep, value = item.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _int(value: str | None) -> int | None:
    if value is None or value in ("", "None", "<TBD>"):
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def _job(rule: str, local: bool, threads: int, res: dict[str, str]) -> Job:
    cpus = _int(res.get("cpus_per_task")) or threads
    gpus = _int(res.get("gpu")) or 0
    gres = res.get("gres", "")
    if not gpus and (m := re.search(r"gpu(?::[^:,]+)?:(\d+)", gres)):
        gpus = int(m[1])
    return Job(
        rule=rule,
        cpus=cpus,
        mem_mb=_int(res.get("mem_mb")),
        runtime_min=_int(res.get("runtime")),
        gpus=gpus,
        partition=res.get("slurm_partition") or None,
        # Dry runs print localrules as `rule`; the workflow gives every submitted rule a request
        # (d2s/ops/workflow.py Compute.request) and its localrules none.
        local=local or not {"slurm_account", "slurm_partition", "mem_mb", "runtime"} & set(res),
    )


def jobs_from_dry_run(text: str) -> list[Job]:
    """The jobs in ``snakemake -n`` output: a ``rule NAME:`` (or ``localrule NAME:``) line, then
    indented fields; ``threads:`` is printed only when above 1."""
    jobs: list[Job] = []
    current: tuple[str, bool] | None = None
    threads, res = 1, {}
    for line in text.splitlines():
        if m := _RULE.match(line):
            if current:
                jobs.append(_job(*current, threads, res))
            current, threads, res = (m[2], bool(m[1])), 1, {}
        elif current and (m := _THREADS.match(line)):
            threads = int(m[1])
        elif current and (m := _RESOURCES.match(line)):
            res = _resources(m[1])
        elif current and line and not line[0].isspace():
            jobs.append(_job(*current, threads, res))
            current = None
    if current:
        jobs.append(_job(*current, threads, res))
    return jobs


# --------------------------------------------------------------------------------------------
# sinfo
# --------------------------------------------------------------------------------------------


def parse_time_limit(text: str) -> float:
    """A SLURM time limit (``infinite``, ``30``, ``30:00``, ``12:00:00``, ``1-12:00:00``) in
    minutes."""
    text = text.strip()
    if text.lower() in ("infinite", "unlimited", "n/a", ""):
        return float("inf")
    days = 0
    if "-" in text:
        head, text = text.split("-", 1)
        days = int(head)
    parts = [int(p) for p in text.split(":")]
    if len(parts) == 1:
        minutes, seconds, hours = parts[0], 0, 0
    elif len(parts) == 2:
        hours, minutes, seconds = 0, *parts
    elif len(parts) == 3:
        hours, minutes, seconds = parts
    else:
        raise PreflightError(f"cannot read the sinfo time limit {text!r}")
    return days * 1440 + hours * 60 + minutes + seconds / 60


def _gres_gpus(gres: str) -> int:
    """GPUs per node in a GRES string such as ``gpu:4``, ``gpu:a100:4(S:0-1)`` or ``(null)``."""
    total = 0
    for item in gres.split(","):
        if m := re.match(r"gpu(?::[^:(]+)?:(\d+)", item.strip()):
            total += int(m[1])
    return total


def _number(text: str, what: str, line: str) -> int:
    digits = text.strip().rstrip("+")  # "2+" = the minimum of nodes that differ (without --exact)
    try:
        return int(float(digits))
    except ValueError:
        raise PreflightError(f"cannot read {what} {text!r} in the sinfo line {line!r}") from None


def parse_sinfo(text: str) -> dict[str, Partition]:
    """Partitions from ``sinfo --exact --noheader --format=SINFO_FORMAT`` output."""
    partitions: dict[str, Partition] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) != 6:
            raise PreflightError(
                f"unexpected sinfo line {line!r}: expected the fields {SINFO_FORMAT!r}"
            )
        name, cpus, mem, limit, gres, state = (f.strip() for f in fields)
        default = name.endswith("*")
        name = name.rstrip("*")
        part = partitions.setdefault(name, Partition(name))
        part.default = part.default or default
        part.cpus = max(part.cpus, _number(cpus, "CPUs", line))
        part.mem_mb = max(part.mem_mb, _number(mem, "memory", line))
        part.gpus = max(part.gpus, _gres_gpus(gres))
        part.time_limit_min = parse_time_limit(limit)
        part.states.add(state)
    if not partitions:
        raise PreflightError("sinfo reported no partitions")
    return partitions


def accounting_disabled(scontrol_config: str) -> bool:
    """Whether ``scontrol show config`` says accounting is off (then ``sacct`` never sees a job
    finish and the executor needs ``--slurm-status-command squeue``)."""
    m = re.search(r"^AccountingStorageType\s*=\s*(\S+)", scontrol_config, flags=re.M)
    return bool(m) and m[1].endswith("/none")


# --------------------------------------------------------------------------------------------
# the check
# --------------------------------------------------------------------------------------------


def _minutes(value: float) -> str:
    return "no limit" if value == float("inf") else f"{value:g} min"


def check(jobs: list[Job], partitions: dict[str, Partition]) -> list[str]:
    """One message per rule and request that no node of the job's partition can ever satisfy
    (the rule's largest request is named); empty when every job can be scheduled."""
    default = next((p for p in partitions.values() if p.default), None)
    problems: dict[tuple[str, str], str] = {}
    largest: dict[tuple[str, str], float] = {}  # (rule, request) -> the largest refused value
    for job in jobs:
        if job.local:
            continue
        name = job.partition or (default.name if default else None)
        part = partitions.get(name) if name else None
        if part is None:
            problems[(job.rule, "partition")] = (
                f"rule {job.rule}: partition {name!r} does not exist on this cluster (sinfo "
                f"lists: {', '.join(sorted(partitions))}); set slurm_cpu_partition / "
                "slurm_gpu_partition in workflow/profiles/slurm/config.yaml"
            )
            continue
        asks = [
            ("CPUs", job.cpus, part.cpus, f"{part.cpus} CPUs"),
            ("mem_mb", job.mem_mb or 0, part.mem_mb, f"{part.mem_mb} MB"),
            ("GPUs", job.gpus, part.gpus, f"{part.gpus} GPUs"),
            ("runtime (min)", job.runtime_min or 0, part.time_limit_min, None),
        ]
        for what, wanted, offered, offered_text in asks:
            key = (job.rule, what)
            if wanted <= offered or wanted <= largest.get(key, 0):
                continue
            largest[key] = wanted
            if offered_text is None:
                limit = f"a time limit of {_minutes(offered)}"
            else:
                limit = f"at most {offered_text} per node"
            fix = (
                "name the GPU partition (slurm_gpu_partition) or set the rule's device to cpu "
                "(training.device, captions.device)"
                if what == "GPUs"
                else "lower the rule's request in the `compute:` block of the workflow config"
            )
            problems[key] = (
                f"rule {job.rule} asks {what}={wanted} per job, but partition {name!r} has "
                f"{limit}: the job would wait forever (PENDING, PartitionConfig); {fix}, or "
                "choose another partition in workflow/profiles/slurm/config.yaml"
            )
    return list(problems.values())


def summarize(jobs: list[Job], partitions: dict[str, Partition]) -> list[str]:
    """One line per submitted rule: jobs, partition, largest request and what the partition has."""
    default = next((p.name for p in partitions.values() if p.default), "?")
    rules: dict[str, list[Job]] = {}
    for job in jobs:
        if not job.local:
            rules.setdefault(job.rule, []).append(job)
    lines = []
    for rule, group in rules.items():
        name = group[0].partition or default
        part = partitions.get(name)
        cpus = max(j.cpus for j in group)
        mem = max(j.mem_mb or 0 for j in group)
        gpus = max(j.gpus for j in group)
        runtime = max(j.runtime_min or 0 for j in group)
        has = (
            f"node {part.cpus} CPUs, {part.mem_mb} MB, {part.gpus} GPUs, "
            f"{_minutes(part.time_limit_min)}"
            if part
            else "missing"
        )
        lines.append(
            f"{rule}: {len(group)} job(s) on {name}: up to {cpus} CPUs, {mem} MB, {gpus} GPUs, "
            f"{runtime} min (partition: {has})"
        )
    return lines
