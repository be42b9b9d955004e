"""The Snakemake DAG of the paper and demo configurations, built in dry-run mode."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A fresh checkout (Snakefile, workflow/, the paper's numbers) with user-supplied sets
    'placed' as empty folders, so the DAG can be built without the data."""
    root = tmp_path_factory.mktemp("checkout")
    shutil.copy(REPO / "Snakefile", root / "Snakefile")
    shutil.copytree(REPO / "workflow", root / "workflow")
    shutil.copytree(REPO / "results" / "paper", root / "results" / "paper")
    shutil.copytree(REPO / "tests", root / "tests")  # the benchmark suite feeds Table 1
    datasets = {}
    for name in ("ic9600", "nagle4k", "visc-c", "visc-ci"):
        (root / "supplied" / name).mkdir(parents=True)
        datasets[name] = {"path": str(root / "supplied" / name)}
    (root / "placed.yaml").write_text(yaml.safe_dump({"datasets": datasets}))
    return root


def _dry_run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "8", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=False,
        timeout=300,
    )


def _job_counts(output: str) -> dict[str, int]:
    block = output.split("Job stats:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, flags=re.M)}


def test_table1_needs_three_seeds_of_four_models_and_captions_once(checkout):
    done = _dry_run(checkout, "results/table1.csv", "--configfile", "placed.yaml")
    assert done.returncode == 0, done.stderr[-2000:]
    jobs = _job_counts(done.stdout)
    assert jobs["train"] == 12  # 3 seeds x {D2S-R18, D2S-R50, ICNet, ICCORN}
    assert jobs["captions"] == 1 and jobs["text_features"] == 1  # IC9600, BLIP, once
    assert jobs["data_place"] == 1 and jobs["table"] == 1
    assert jobs["benchmark_suite"] == 1 and jobs["latency_table"] == 1  # Params / Latency
    for seed in (42, 826, 1215):
        for model in ("d2s-r18", "d2s-r50", "icnet", "iccorn"):
            assert (
                f"results/runs/ic9600/official/{model}/default/seed{seed}/metrics.json"
                in done.stdout
            )


def test_every_paper_table_and_captions_once_per_dataset(checkout):
    done = _dry_run(checkout, "results/all", "--configfile", "placed.yaml")
    assert done.returncode == 0, done.stderr[-2000:]
    jobs = _job_counts(done.stdout)
    # counted by hand from Tables 1-7 and Figs. 10-11: 180, plus Table 5's caption controls (2
    # controls x 3 seeds under each EAL mode, and the real-caption runs under the online one)
    assert jobs["train"] == 180 + 2 * 6 + 3
    assert "results/runs/ic9600/official/d2s-r18/captions-constant/seed826/metrics.json" in (
        done.stdout
    )
    online = "results/runs/ic9600/official/d2s-r18/ealmode-online_captions-shuffled/seed1215/"
    assert online + "metrics.json" in done.stdout
    assert jobs["evaluate_cross"] == 48  # 12 short runs x 4 target sets
    # BLIP for IC9600 and the three IQA sets, Florence-2 CapI-III for IC9600: each once
    assert jobs["captions"] == 7 and jobs["text_features"] == 7
    assert jobs["table"] == 10  # Tables 1-8 and the data of Figs. 10-11


def test_fresh_checkout_says_what_to_place(tmp_path):
    shutil.copy(REPO / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(REPO / "workflow", tmp_path / "workflow")
    done = _dry_run(tmp_path, "results/table1.csv")
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "IC9600 is missing" in out and "datasets.ic9600.path" in out


def test_demo_dag_is_self_contained(checkout):
    done = _dry_run(checkout, "results/demo/all", "--configfile", "workflow/config/demo.yaml")
    assert done.returncode == 0, done.stderr[-2000:]
    jobs = _job_counts(done.stdout)
    assert jobs["data_demo"] == 1 and "data_place" not in jobs and "data_fetch" not in jobs
    assert jobs["captions_demo"] == 2 and "captions" not in jobs  # scene descriptions, no BLIP
    # 12 (Table 1) + 3 (Table 1's select: val group, D2S-R18) + 16 trimmed extras + 6 caption
    # controls (Table 5: shuffled / constant on Table 1's seeds; their reference is Table 1's
    # D2S-R18); Table 3's sources are Table 1's seed-42 runs (short protocol = Table 1's epochs)
    assert jobs["train"] == 37 and jobs["table"] == 10
    for control in ("shuffled", "constant"):
        for seed in (42, 826, 1215):
            run = f"official/d2s-r18/captions-{control}/seed{seed}/metrics.json"
            assert f"results/demo/runs/demo/{run}" in done.stdout
    assert "official/icnet/short/" not in done.stdout
    assert "results/demo/runs/demo/official/d2s-r50/default/seed1215/metrics.json" in done.stdout
    assert "results/runs/" not in done.stdout  # demo results never land beside paper results
    assert "results/demo/runs/demo/official/d2s-r18/sel-val/seed826/metrics.json" in done.stdout


def test_demo_figures_draw_both_eal_modes(checkout):
    """Figs. 4(d)/14 of the demo: the probe run and the same run under the online EAL, whose
    features feed a second panel."""
    done = _dry_run(checkout, "-p", "figures/demo/all", "--configfile", "workflow/config/demo.yaml")
    assert done.returncode == 0, done.stderr[-2000:]
    online = "results/demo/runs/demo/official/d2s-r18/ealmode-online/seed42/metrics.json"
    assert online in done.stdout
    assert _job_counts(done.stdout)["figure_features"] == 2
    assert "--compare-features figures/demo/data/alignment-compared.npz" in done.stdout


def test_unknown_config_key_is_named(checkout):
    bad = checkout / "bad.yaml"
    bad.write_text("experiments:\n  ic9600: demo\n  table9: {}\n")
    done = _dry_run(
        checkout, "results/demo/all", "--configfile", "workflow/config/demo.yaml", "bad.yaml"
    )
    assert done.returncode != 0
    assert "table9" in done.stdout + done.stderr


def test_released_blip_captions_replace_blip_for_ic9600_training(checkout):
    """captions.released_blip: IC9600's training captions come from the authors' file (imported,
    no BLIP job); Table 7's caption-only / concat runs, which read test captions, keep BLIP."""
    released = checkout / "train_blip_caption.txt"
    released.write_text("")
    (checkout / "released.yaml").write_text(
        yaml.safe_dump({"captions": {"released_blip": {"ic9600": str(released)}}})
    )
    args = ("--configfile", "placed.yaml", "released.yaml")
    done = _dry_run(checkout, "results/table1.csv", *args)
    assert done.returncode == 0, done.stderr[-2000:]
    jobs = _job_counts(done.stdout)
    assert jobs["captions_released"] == 1 and "captions" not in jobs
    assert "text_features/ic9600/blip-released.pt" in done.stdout
    done = _dry_run(checkout, "results/table7.csv", *args)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "text_features/ic9600/blip.pt" in done.stdout  # caption-only / concat read test captions


def test_image_caches_build_each_split_and_size_once_before_the_runs(checkout):
    done = _dry_run(checkout, "image_caches", "--configfile", "placed.yaml")
    assert done.returncode == 0, done.stderr[-2000:]
    jobs = _job_counts(done.stdout)
    assert jobs["image_cache"] >= 2  # at least IC9600's train and test split at 512 px
    assert "train" not in jobs  # the caches come before, and without, any run


def test_every_gpu_job_gets_a_device_of_its_own_and_the_latency_suite_runs_alone(checkout):
    """With 4 (fake) GPUs: training, captioning and the benchmark run under `d2s gpu-slot`;
    the benchmark suite takes every core and every GPU slot and records that it ran alone."""
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-p", "--cores", "8", "results/table1.csv",
         "--configfile", "placed.yaml"],
        cwd=checkout, capture_output=True, text=True, check=False, timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "D2S_FAKE_GPUS": "4"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    commands = [line for line in done.stdout.splitlines() if " -m d2s " in line]
    gpu_jobs = [c for c in commands if re.search(r"-m d2s (train|caption|bench run) ", c)]
    assert len(gpu_jobs) == 12 + 1 + 1
    for command in gpu_jobs:
        assert "-m d2s gpu-slot --runs-per-gpu 1 --" in command, command
    bench = next(c for c in gpu_jobs if "bench run" in c)
    assert "--threads 2 --alone" in bench
    assert re.search(r"rule benchmark_suite:(.|\n)*?threads: 8", done.stdout)
