"""One job per GPU (d2s/core/devices.py, d2s/ops/workflow.py), with fake GPUs (``D2S_FAKE_GPUS``):
the workflow's own helpers schedule jobs that record the device they were given."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

RECORD = textwrap.dedent(
    """
    import os, sys, time
    start = time.time()
    time.sleep(float(sys.argv[2]))
    launched = os.environ.get("LAUNCHED", start)  # when Snakemake started the job's shell
    with open(sys.argv[1], "w") as f:
        device = os.environ.get("CUDA_VISIBLE_DEVICES", "-")
        f.write(f"{start} {time.time()} {device} {launched}\\n")
    """
)

# The real config and common.smk (its GPU slots: d2s/ops/workflow.py); test rules that record the
# device they were given, one of them the latency benchmark's exclusive request.
SNAKEFILE = """
from snakemake.utils import validate
configfile: "{repo}/workflow/config/config.yaml"
configfile: "{repo}/workflow/config/demo.yaml"
config["training"]["device"] = "auto"
validate(config, "{repo}/workflow/schemas/config.schema.yaml", set_default=True)
include: "{repo}/workflow/rules/common.smk"

rule all:
    input: expand("rec/train{{i}}.txt", i=range({jobs})), {bench}

rule train_job:
    output: "rec/train{{i}}.txt"
    threads: 1
    resources: **COMPUTE.request("train")
    params: slot=COMPUTE.gpu_slot("train")
    shell: "LAUNCHED=$(date +%s.%N) {{params.slot}} {python} record.py {{output}} {sleep}"

rule bench_job:
    output: "rec/bench.txt"
    threads: COMPUTE.exclusive_threads("benchmark_suite")
    resources: **COMPUTE.exclusive_request("benchmark_suite")
    params: slot=COMPUTE.gpu_slot("benchmark_suite")
    shell: "LAUNCHED=$(date +%s.%N) {{params.slot}} {python} record.py {{output}} {sleep}"
"""


def _run_workflow(tmp_path: Path, gpus: int, jobs: int, bench: bool, *extra: str):
    (tmp_path / "record.py").write_text(RECORD)
    (tmp_path / "Snakefile").write_text(
        SNAKEFILE.format(
            repo=REPO,
            jobs=jobs,
            bench='"rec/bench.txt"' if bench else "",
            python=sys.executable,
            sleep=2.0,
        )
    )
    env = {**os.environ, "D2S_FAKE_GPUS": str(gpus), "D2S_GPU_LOCKS": str(tmp_path / "locks")}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "8", *extra],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    records = {}
    for file in (tmp_path / "rec").glob("*.txt"):
        start, end, device, launched = file.read_text().split()
        records[file.stem] = (float(start), float(end), device, float(launched))
    return records


def _most_at_once(records, launched=False) -> int:
    """The most jobs running at one instant (see :func:`_overlapping`)."""
    at = 3 if launched else 0
    return max(
        sum(row[at] <= row_x[at] < row[1] for row in records.values()) for row_x in records.values()
    )


def _overlapping(records, name, launched=False):
    """Jobs running at the same time as ``name``: on the device (after their slot was free), or
    with ``launched`` as Snakemake scheduled them (before any slot wait)."""
    at = 3 if launched else 0
    start, end = records[name][at], records[name][1]
    return [
        other
        for other, row in records.items()
        if other != name and row[at] < end and start < row[1]
    ]


@pytest.mark.parametrize("gpus", [4])
def test_four_gpus_run_four_jobs_on_four_devices_and_a_fifth_waits(tmp_path, gpus):
    records = _run_workflow(tmp_path, gpus, jobs=5, bench=False)
    assert _most_at_once(records, launched=True) == gpus  # Snakemake's cap
    for name, (_, _, device, _) in records.items():
        together = _overlapping(records, name)
        assert device not in {records[other][2] for other in together}, records
    starts = sorted(records.values())
    assert len({row[2] for row in starts[:4]}) == 4  # four at once, four devices
    assert starts[4][3] >= min(row[1] for row in starts[:4]) - 0.05  # the fifth waited


def test_latency_job_runs_with_nothing_beside_it(tmp_path):
    records = _run_workflow(tmp_path, 2, jobs=3, bench=True)
    assert _overlapping(records, "bench", launched=True) == []
    assert len({r[2] for r in records.values()}) == 2  # the other jobs still used both GPUs


def test_readme_plain_command_never_shares_a_gpu(tmp_path):
    """`snakemake --cores 8` with no `gpu` limit on a one-GPU machine: one GPU job at a time."""
    records = _run_workflow(tmp_path, 1, jobs=3, bench=False)
    for name in records:
        assert _overlapping(records, name, launched=True) == []


def test_gpu_slot_waits_for_a_free_device(tmp_path):
    """Outside the workflow too (two shells, two workflows): a second job waits for the lock."""
    (tmp_path / "record.py").write_text(RECORD)
    env = {**os.environ, "D2S_FAKE_GPUS": "1", "D2S_GPU_LOCKS": str(tmp_path / "locks")}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    command = [sys.executable, "-m", "d2s", "gpu-slot", "--", sys.executable, "record.py"]
    first = subprocess.Popen([*command, "a.txt", "1.5"], cwd=tmp_path, env=env)
    time.sleep(0.5)
    second = subprocess.run(
        [*command, "b.txt", "0"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    first.wait()
    a, b = ((tmp_path / n).read_text().split()[:3] for n in ("a.txt", "b.txt"))
    assert a[2] == b[2] == "0"
    assert float(b[0]) >= float(a[1]) - 0.05  # started once the first had ended
    assert "busy; waiting" in second.stderr


def test_runs_per_gpu_packs_k_slots_spread_over_gpus(tmp_path):
    from d2s.core.devices import try_slot

    held = [try_slot(tmp_path, ["0", "1"], 2) for _ in range(4)]
    assert [(gpu, slot) for gpu, slot, _ in held] == [("0", 0), ("1", 0), ("0", 1), ("1", 1)]
    assert try_slot(tmp_path, ["0", "1"], 2) is None
    os.close(held[1][2])  # GPU 1's first job ended
    assert try_slot(tmp_path, ["0", "1"], 2)[:2] == ("1", 0)
