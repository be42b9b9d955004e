"""The SLURM pre-flight check (d2s.ops.slurm, `d2s slurm preflight`) on captured sinfo and
`snakemake -n` output, and the SLURM profile's refusal of an unset account."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from d2s.cli import main
from d2s.ops.slurm import (
    accounting_disabled,
    check,
    jobs_from_dry_run,
    parse_sinfo,
    parse_time_limit,
)

REPO = Path(__file__).resolve().parents[1]

# `sinfo --exact --noheader --format='%P|%c|%m|%l|%G|%t'` of a cluster with two CPU node types
# and one GPU node type (captured format; values of a small site).
SINFO = """\
cpu*|32|192000|2-00:00:00|(null)|idle
cpu*|64|515000|2-00:00:00|(null)|mix
gpu|16|256000|1-00:00:00|gpu:a100:4(S:0-1)|mix
debug|4|16000|30:00|(null)|idle
"""

# Jobs of `snakemake -n --cores 100000 --workflow-profile workflow/profiles/slurm` (paper config:
# GPU training and captioning; demo: CPU training), trimmed to the fields the check reads.
DRY_RUN = """\
Building DAG of jobs...
Job stats:
job              count
-------------  -------
captions             1
data_demo            1
train                2
total                4

[Wed Dec  2 15:35:46 2026]
rule captions:
    input: resources/datasets/ic9600/.d2s-verified.json
    output: resources/captions/ic9600/blip.tsv, resources/captions/ic9600/blip.tsv.json
    log: logs/captions/ic9600_blip.log
    jobid: 4
    wildcards: real_set=ic9600, captioner=blip
    threads: 4
    resources: tmpdir=/tmp, runtime=720, gpu=1, slurm_account=lab, slurm_partition=gpu, mem_mb=32000, mem=32 GB, mem_mib=30518
Shell command: python -m d2s caption --captioner blip > logs/captions/ic9600_blip.log 2>&1

[Wed Dec  2 15:35:46 2026]
rule train:
    input: resources/datasets/ic9600/.d2s-verified.json
    output: results/runs/ic9600/official/iccorn/default/seed1215/metrics.json
    jobid: 10
    wildcards: dataset=ic9600, split=official, model=iccorn, variant=default, seed=1215
    threads: 8
    resources: tmpdir=/tmp, runtime=720, gpu=1, slurm_account=lab, slurm_partition=gpu, mem_mb=32000, mem=32 GB, mem_mib=30518
Shell command: python -m d2s train --out results/runs/ic9600/official/iccorn/default/seed1215

[Wed Dec  2 15:32:52 2026]
rule data_demo:
    output: resources/demo/demo.json
    log: logs/data/demo.log
    jobid: 2
    resources: tmpdir=/tmp, runtime=30, gpu=0, slurm_account=d2s, slurm_partition=cpu, mem_mb=2000, mem=2 GB, mem_mib=1908
Shell command: python -m d2s data make-demo resources/demo > logs/data/demo.log 2>&1

[Wed Dec  2 15:32:52 2026]
rule train:
    input: resources/demo/demo.json
    output: results/ci/runs/demo/official/icnet/default/seed42/metrics.json
    jobid: 13
    resources: tmpdir=/tmp, runtime=30, gpu=0, slurm_account=d2s, slurm_partition=cpu, mem_mb=2000, mem=2 GB, mem_mib=1908
Shell command: python -m d2s train --out results/ci/runs/demo/official/icnet/default/seed42

[Wed Dec  2 15:32:52 2026]
localrule all_tables:
    input: results/ci/table1.csv
    output: results/ci/all
    jobid: 0
    threads: 64
    resources: tmpdir=/tmp
Job stats:
job              count
"""


def test_dry_run_jobs_carry_threads_memory_runtime_gpus_and_partition():
    jobs = jobs_from_dry_run(DRY_RUN)
    assert [(j.rule, j.local) for j in jobs] == [
        ("captions", False),
        ("train", False),
        ("data_demo", False),
        ("train", False),
        ("all_tables", True),
    ]
    captions, gpu_train, demo, cpu_train, _ = jobs
    assert (captions.cpus, captions.mem_mb, captions.runtime_min, captions.gpus) == (
        4,
        32000,
        720,
        1,
    )
    assert (gpu_train.cpus, gpu_train.partition) == (8, "gpu")
    assert (demo.cpus, demo.mem_mb, demo.gpus, demo.partition) == (1, 2000, 0, "cpu")  # no line: 1
    assert (cpu_train.cpus, cpu_train.gpus, cpu_train.partition) == (1, 0, "cpu")


def test_sinfo_gives_each_partitions_largest_node_and_time_limit():
    parts = parse_sinfo(SINFO)
    assert set(parts) == {"cpu", "gpu", "debug"}
    assert parts["cpu"].default and not parts["gpu"].default
    assert (parts["cpu"].cpus, parts["cpu"].mem_mb, parts["cpu"].gpus) == (64, 515000, 0)
    assert parts["cpu"].time_limit_min == 2 * 24 * 60
    assert (parts["gpu"].cpus, parts["gpu"].gpus) == (16, 4)
    assert parts["debug"].time_limit_min == 30


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("infinite", float("inf")),
        ("30", 30),
        ("45:30", 45.5),
        ("12:00:00", 720),
        ("1-02:03:00", 1563),
    ],
)
def test_time_limits(text, minutes):
    assert parse_time_limit(text) == minutes


def test_jobs_that_fit_pass():
    assert check(jobs_from_dry_run(DRY_RUN), parse_sinfo(SINFO)) == []


def test_a_request_larger_than_every_node_names_the_rule_and_the_request():
    small = "cpu*|2|20000|infinite|(null)|idle\ngpu|2|20000|12:00:00|(null)|idle\n"
    problems = check(jobs_from_dry_run(DRY_RUN), parse_sinfo(small))
    text = "\n".join(problems)
    # GPU training: 8 CPUs, 32000 MB, one GPU and 720 min on a node with 2 CPUs, 20000 MB, no GPU
    assert "rule train asks CPUs=8" in text and "rule train asks mem_mb=32000" in text
    assert "rule train asks GPUs=1" in text and "rule captions asks CPUs=4" in text
    assert "runtime" not in text  # 720 min == the 12 h limit
    assert "data_demo" not in text  # 1 CPU, 2000 MB fit
    assert "all_tables" not in text  # a localrule is never submitted
    assert len(problems) == 6  # train and captions: CPUs, mem_mb, GPUs (one message each)
    # the message of a rule names its largest request, not its first job's
    assert all("partition 'gpu'" in p for p in problems)


def test_runtime_over_the_limit_and_a_missing_partition():
    jobs = jobs_from_dry_run(DRY_RUN)
    short = "cpu*|64|515000|20:00|(null)|idle\n"
    problems = check(jobs, parse_sinfo(short))
    assert any("rule data_demo asks runtime (min)=30" in p and "20 min" in p for p in problems)
    assert any("partition 'gpu' does not exist" in p and "rule train" in p for p in problems)


def test_accounting_switch():
    assert accounting_disabled("AccountingStorageType   = accounting_storage/none\n")
    assert not accounting_disabled("AccountingStorageType   = accounting_storage/slurmdbd\n")


def test_cli_exit_2_names_rule_from_captured_files(tmp_path, capsys):
    (tmp_path / "sinfo.txt").write_text("cpu*|1|1000|infinite|(null)|idle\n")
    (tmp_path / "dry.txt").write_text(DRY_RUN)
    args = ["slurm", "preflight", "--sinfo", str(tmp_path / "sinfo.txt")]
    code = main([*args, "--dry-run", str(tmp_path / "dry.txt")])
    err = capsys.readouterr().err
    assert code == 2
    assert "rule data_demo asks mem_mb=2000" in err and "Traceback" not in err
    (tmp_path / "sinfo.txt").write_text(SINFO)
    assert main([*args, "--dry-run", str(tmp_path / "dry.txt")]) == 0
    assert "preflight: 4 job(s) fit" in capsys.readouterr().out


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    root = tmp_path_factory.mktemp("checkout")
    shutil.copy(REPO / "Snakefile", root / "Snakefile")
    shutil.copytree(REPO / "workflow", root / "workflow")
    return root


CI_DEMO = ("--configfile", "workflow/config/demo.yaml", "workflow/config/ci.yaml")
TARGET = ("--", "results/ci/table1.csv")
CLUSTER = ("--config", "slurm_account=d2s", "slurm_cpu_partition=cpu", "slurm_gpu_partition=gpu")


def _d2s(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "d2s", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


def _snakemake_dry_run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=False,
        timeout=300,
    )


def test_profile_with_the_account_unset_stops_saying_where_to_set_it(checkout):
    done = _snakemake_dry_run(
        checkout,
        "--workflow-profile",
        "workflow/profiles/slurm",
        *CI_DEMO,
        "--",
        "results/ci/table1.csv",
    )
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "slurm_account is not set" in out and "workflow/profiles/slurm/config.yaml" in out


def test_preflight_on_the_demo_dag_puts_cpu_training_on_the_cpu_partition(checkout, tmp_path):
    """The real DAG through the profile: the demo's training (device: cpu) asks the cpu
    partition, one thread and 2000 MB (its compute block), no GPU; a node of 1000 MB refuses it."""
    sinfo = tmp_path / "sinfo.txt"
    sinfo.write_text("cpu*|2|1000|infinite|(null)|idle\ngpu|2|1000|infinite|(null)|idle\n")
    done = _d2s(
        checkout, "slurm", "preflight", "--sinfo", str(sinfo), "--", *CI_DEMO, *CLUSTER, *TARGET
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "rule train asks mem_mb=2000 per job, but partition 'cpu'" in done.stderr
    assert "GPUs" not in done.stderr and "'gpu'" not in done.stderr
    sinfo.write_text("cpu*|2|20000|infinite|(null)|idle\ngpu|2|20000|infinite|(null)|idle\n")
    done = _d2s(
        checkout, "slurm", "preflight", "--sinfo", str(sinfo), "--", *CI_DEMO, *CLUSTER, *TARGET
    )
    assert done.returncode == 0, done.stderr
    assert "train: 12 job(s) on cpu: up to 1 CPUs, 2000 MB, 0 GPUs" in done.stdout


def test_paper_dag_sends_gpu_training_and_captioning_to_the_gpu_partition(checkout, tmp_path):
    """Paper config (training.device: auto, captions.device: cuda): train and captions ask the GPU
    partition, one GPU and the compute block's threads and memory; data and tables stay on cpu."""
    (tmp_path / "ic9600").mkdir()
    placed = tmp_path / "placed.yaml"
    placed.write_text(
        f"datasets:\n  ic9600: {{path: {tmp_path / 'ic9600'}}}\nlatency: {{enabled: false}}\n"
    )
    dry = _snakemake_dry_run(
        checkout,
        "--cores",
        "100000",
        "--workflow-profile",
        "workflow/profiles/slurm",
        "--configfile",
        str(placed),
        *CLUSTER,
        "--",
        "results/table1.csv",
    )
    assert dry.returncode == 0, dry.stderr[-2000:]
    jobs = jobs_from_dry_run(dry.stdout + dry.stderr)
    by_rule = {}
    for job in jobs:
        by_rule.setdefault(job.rule, set()).add((job.partition, job.gpus, job.cpus, job.mem_mb))
    assert by_rule["train"] == {("gpu", 1, 8, 32000)}  # 12 runs, compute.train of config.yaml
    assert by_rule["captions"] == {("gpu", 1, 4, 32000)}
    assert by_rule["data_place"] == {("cpu", 0, 1, 8000)} and by_rule["table"] == {
        ("cpu", 0, 1, 8000)
    }
    assert by_rule["text_features"] == {("cpu", 0, 1, 8000)}
