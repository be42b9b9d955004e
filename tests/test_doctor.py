"""``d2s doctor`` (d2s/ops/doctor.py): each pre-flight check reproduces its blocker with a fake
machine (small /dev/shm, low disk, no CUDA, a wheel newer than the driver, no hub, no IC9600)
and names the fix; the workflow runs it before its first job."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest
import torch
import yaml

import d2s.ops.doctor as doctor
from d2s.cli import main
from d2s.ops.plan import matrix_runs

REPO = Path(__file__).resolve().parents[1]
GIB = 2**30
Usage = namedtuple("Usage", "total used free")


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A healthy fake machine: 2 GPUs, a matching driver, room everywhere, weights cached,
    IC9600 placed; each test breaks one thing."""
    state = {"shm": 64 * GIB, "disk": 4000 * GIB}
    monkeypatch.setattr(
        doctor, "visible_gpu_memory", lambda: [("Fake GPU", 70 * GIB, 80 * GIB)] * 2
    )
    monkeypatch.setattr(doctor, "driver_cuda", lambda: "13.0")
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setattr(doctor, "cached_repos", lambda repos: set(repos))
    monkeypatch.setattr(doctor, "hub_reachable", lambda: False)
    monkeypatch.setattr(
        shutil,
        "disk_usage",
        lambda path: Usage(0, 0, state["shm"] if str(path) == "/dev/shm" else state["disk"]),
    )
    ic = tmp_path / "ic9600"
    ic.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {"resources": str(tmp_path / "res"), "datasets": {"ic9600": {"path": str(ic)}}}
        )
    )
    state["argv"] = ["doctor", "--configfile", str(REPO / "workflow/config/config.yaml")]
    state["argv"] += ["--configfile", str(config)]
    return state


def _doctor(machine, capsys):
    code = main(machine["argv"])
    out = capsys.readouterr().out
    return code, [line for line in out.splitlines() if line.startswith("BLOCKER")], out


def test_a_healthy_machine_is_ready(machine, capsys):
    code, blockers, out = _doctor(machine, capsys)
    assert code == 0 and blockers == [] and "ready" in out
    assert "2 visible: Fake GPU 70.0 GiB free of 80.0 GiB" in out


def test_small_dev_shm_is_a_blocker_naming_shm_size(machine, capsys):
    machine["shm"] = 64 * 2**20  # Docker's default
    code, blockers, _ = _doctor(machine, capsys)
    assert code == 2 and len(blockers) == 1
    assert "shared memory" in blockers[0] and "num_workers 8" in blockers[0]
    assert "--shm-size" in blockers[0] and "0.1 GiB free" in blockers[0]


def test_low_disk_is_a_blocker_naming_what_will_be_written(machine, capsys):
    machine["disk"] = 20 * GIB
    code, blockers, _ = _doctor(machine, capsys)
    assert code == 2 and len(blockers) == 1
    assert "disk" in blockers[0] and "20.0 GiB free" in blockers[0]
    paper = yaml.safe_load((REPO / "workflow/config/config.yaml").read_text())
    runs = len(matrix_runs(paper))  # the paper matrix, none of it trained yet
    assert "image caches" in blockers[0] and f"{runs} runs" in blockers[0]


def test_no_cuda_is_a_blocker_unless_the_config_trains_on_the_cpu(
    machine, capsys, monkeypatch, tmp_path
):
    monkeypatch.setattr(doctor, "visible_gpu_memory", lambda: [])
    code, blockers, _ = _doctor(machine, capsys)
    assert code == 2 and len(blockers) == 1
    assert "no CUDA GPU visible" in blockers[0] and "--gpus all" in blockers[0]
    assert "training.device: cpu" in blockers[0]
    assert not doctor.check_gpus(False, [], "none").blocker
    # `auto` outside a paper run (the rehearsal) trains on the CPU when there is no GPU
    (tmp_path / "rehearsal.yaml").write_text(yaml.safe_dump({"run_label": "rehearsal"}))
    machine["argv"] += ["--configfile", str(tmp_path / "rehearsal.yaml")]
    assert _doctor(machine, capsys)[0] == 0


def test_a_wheel_newer_than_the_driver_or_a_cpu_wheel_is_a_blocker(machine, capsys, monkeypatch):
    monkeypatch.setattr(doctor, "driver_cuda", lambda: "12.2")
    code, blockers, _ = _doctor(machine, capsys)
    assert code == 2 and "built for CUDA 13.0" in blockers[0] and "driver" in blockers[0]
    monkeypatch.setattr(torch.version, "cuda", None)
    code, blockers, _ = _doctor(machine, capsys)
    assert code == 2 and "CPU-only build" in blockers[0] and "cu122" in blockers[0]


def test_uncached_weights_without_the_hub_are_a_blocker(machine, capsys, monkeypatch):
    monkeypatch.setattr(doctor, "cached_repos", lambda repos: set())
    code, blockers, _ = _doctor(machine, capsys)
    assert code == 2 and len(blockers) == 1
    assert "unreachable" in blockers[0] and "timm/resnet50.a1_in1k" in blockers[0]
    monkeypatch.setattr(doctor, "hub_reachable", lambda: True)
    assert _doctor(machine, capsys)[0] == 0  # reachable: downloaded by the jobs


def test_ic9600_not_placed_is_a_blocker_saying_how(machine, capsys, tmp_path):
    shutil.rmtree(tmp_path / "ic9600")
    code, blockers, _ = _doctor(machine, capsys)
    assert code == 2 and len(blockers) == 1
    assert "ic9600" in blockers[0] and "d2s data place ic9600" in blockers[0]


def test_the_workflow_runs_the_preflight_before_its_first_job(tmp_path):
    """The demo asking for a GPU on a machine with none stops before any job, naming it."""
    shutil.copy(REPO / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(REPO / "workflow", tmp_path / "workflow")
    (tmp_path / "gpu.yaml").write_text(yaml.safe_dump({"training": {"device": "cuda"}}))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "D2S_FAKE_GPUS": "0"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile",
         "workflow/config/demo.yaml", "gpu.yaml", "--", "resources/demo/demo.json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "pre-flight (d2s doctor)" in done.stderr and "BLOCKER gpus" in done.stderr
    assert not (tmp_path / "resources" / "demo").exists()  # nothing ran


def test_a_cpu_config_is_not_blocked_by_the_cuda_build(monkeypatch):
    finding = doctor.check_cuda_build(None, "12.2", needs_gpu=False)
    assert not finding.blocker and "trains on the CPU" in finding.line


def test_offline_random_weight_configs_need_no_hub(monkeypatch):
    """The demo and CI's reduced demo (its own `config_name`) load nothing from the hub."""
    monkeypatch.setattr(doctor, "cached_repos", lambda repos: set())
    monkeypatch.setattr(doctor, "hub_reachable", lambda: False)
    merged = {}
    for name in ("config.yaml", "demo.yaml", "ci.yaml"):
        merged = _merge(merged, yaml.safe_load((REPO / "workflow/config" / name).read_text()))
        blockers = [f.line for f in doctor.run_checks(merged, local=False) if f.blocker]
        assert (name == "config.yaml") == any("hub" in b for b in blockers), (name, blockers)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(base.get(key), dict)
        out[key] = _merge(base[key], value) if both else value
    return out


def test_subset_datasets_are_costed_by_their_own_images(tmp_path):
    """The rehearsal's small sets (`subset: true`) are not costed at the official counts."""
    paper = yaml.safe_load((REPO / "workflow/config/config.yaml").read_text())
    ic = tmp_path / "ic9600"
    (ic / "images").mkdir(parents=True)
    for i in range(4):
        (ic / "images" / f"{i}.jpg").write_bytes(b"x")
    small = _merge(paper, yaml.safe_load((REPO / "workflow/config/rehearsal.yaml").read_text()))
    small["datasets"]["ic9600"]["path"] = str(ic)
    small["resources"] = paper["resources"] = str(tmp_path / "res")
    need, parts = doctor.disk_need(small)
    assert need < doctor.disk_need(paper)[0] / 5
    assert "image caches 0.0 GiB, downloads 0.0 GiB" in parts


def test_only_the_datasets_the_tables_use_are_costed_as_downloads(tmp_path):
    """The demo trains on its own sets: the public sets' 13 GB of archives are not counted
    (they blocked the demo on a machine with 13 GB free)."""
    paper = yaml.safe_load((REPO / "workflow/config/config.yaml").read_text())
    paper["resources"] = str(tmp_path / "res")
    demo = _merge(paper, yaml.safe_load((REPO / "workflow/config/demo.yaml").read_text()))
    assert "downloads 13.0 GiB" in doctor.disk_need(paper)[1]
    assert "downloads 0.0 GiB" in doctor.disk_need(demo)[1]
