"""The rehearsal's pieces (docs/rehearsal.md): hub-shaped files loaded through the suite's own
path, what runs record about what they loaded, the one-line stop on a missing open_clip file,
the caption device ``auto``, and the rule-coverage check's reading of Snakemake's output."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from d2s.data.demo import make_demo
from d2s.ops.rehearsal import RehearsalError
from d2s.ops.rehearsal.coverage import check_run, job_stats, summary_rules
from d2s.ops.rehearsal.hub import clip_hub, timm_hub_id, write_timm

ROOT = Path(__file__).resolve().parents[1]


def _d2s(args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "d2s", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def test_hub_ids_are_the_paper_paths():
    assert timm_hub_id("resnet18") == "timm/resnet18.a1_in1k"
    assert timm_hub_id("resnet50") == "timm/resnet50.a1_in1k"
    assert clip_hub() == ("laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "open_clip_model.safetensors")


def test_pretrained_run_loads_the_hub_file_and_records_it(tmp_path):
    """A `pretrained: true` run reads timm's weights from an offline HF cache, and its
    metrics.json says so (hub id, device, dtypes, text encoder)."""
    hf = tmp_path / "hf"
    snapshot = write_timm(hf, "resnet18")
    assert (snapshot / "model.safetensors").is_file() and (snapshot / "config.json").is_file()
    assert (hf / "hub/models--timm--resnet18.a1_in1k/refs/main").read_text() == snapshot.name
    demo = tmp_path / "demo"
    make_demo(demo, seed=0, size=32, image_size=32)
    out = tmp_path / "run"
    words = [
        f"root={demo}",
        f"captions={demo / 'captions.tsv'}",
        "clip_weights=random",
        f"text_cache={tmp_path / 'text'}",
        "image_size=32",
        "epochs=1",
        "batch_size=12",
        "buffer_size=8",
        "refresh_steps=2",
        "pretrained=true",
        "device=cpu",
        "threads=1",
        f"image_cache={tmp_path / 'cache'}",
    ]
    env = {"HF_HOME": str(hf), "HF_HUB_OFFLINE": "1"}
    done = _d2s(["train", "--out", str(out), "--no-progress", *words], env)
    assert done.returncode == 0, done.stderr
    loaded = json.loads((out / "metrics.json").read_text())["loaded"]
    assert loaded["weights"] == ["hf-hub:timm/resnet18.a1_in1k"]
    assert loaded["device"] == "cpu"
    assert loaded["weights_dtype"] == loaded["forward_dtype"] == "float32"
    assert loaded["text_encoder"] == "open_clip:ViT-B-32:random-init-seed0"


def test_missing_open_clip_file_is_one_line_naming_it(tmp_path):
    """No silent fallback to random weights and no traceback: one line naming the file."""
    env = {"HF_HOME": str(tmp_path / "empty"), "HF_HUB_OFFLINE": "1"}
    captions = tmp_path / "captions.tsv"
    done = _d2s(
        ["text-features", "--captions", str(captions), "--out", str(tmp_path / "f.pt")], env
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "open_clip_model.safetensors" in lines[0]
    assert "laion/CLIP-ViT-B-32-laion2B-s34B-b79K" in lines[0]
    assert not (tmp_path / "f.pt").exists()


def test_job_stats_and_summary_are_read():
    dry = "Building DAG of jobs...\nJob stats:\njob      count\n-----  -------\ntrain        36\nall_tables    1\ntotal       37\n\n"
    assert job_stats(dry) == {"train": 36, "all_tables": 1}
    summary = (
        "output_file\tdate\trule\tlog-file(s)\tstatus\tplan\n"
        "results/rehearsal/table1.csv\tSun Dec  6 01:00:00 2026\ttable\t\tok\tno update\n"
        "results/rehearsal/table2.csv\t-\t-\t-\tmissing\tupdate pending\n"
    )
    assert summary_rules(summary) == {"table": 1}


def _metrics(tmp_path, loaded, model="d2s-r18", variant="default"):
    path = tmp_path / "runs/ic9600/official" / model / variant / "seed42" / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"model": model, "loaded": loaded}))
    return path


ENCODER = "open_clip:ViT-B-32:laion2b_s34b_b79k"
GOOD = {
    "device": "cpu",
    "weights_dtype": "float32",
    "forward_dtype": "float32",
    "weights": ["hf-hub:timm/resnet18.a1_in1k"],
    "text_encoder": ENCODER,
    "captioner": "blip",
}


@pytest.mark.parametrize(
    "change, says",
    [
        ({"weights": ["random"]}, "not the pretrained hub files"),
        ({"text_encoder": "open_clip:ViT-B-32:random-init-seed0"}, "text encoder"),
        ({"captioner": "demo"}, "captions by demo"),
        ({"weights_dtype": "float16"}, "float16"),
    ],
)
def test_run_records_off_the_paper_path_are_refused(tmp_path, change, says):
    assert check_run(_metrics(tmp_path, GOOD), ENCODER, None) == GOOD
    bad = _metrics(tmp_path / "bad", {**GOOD, **change})
    with pytest.raises(RehearsalError, match=says):
        check_run(bad, ENCODER, None)


def test_run_on_another_device_is_refused(tmp_path):
    with pytest.raises(RehearsalError, match="not cuda"):
        check_run(_metrics(tmp_path, GOOD), ENCODER, "cuda")


def test_table7_variants_expect_their_captioner(tmp_path):
    florence = {**GOOD, "captioner": "florence-cap2"}
    path = _metrics(tmp_path, florence, "concat-r18", "cap-florence-cap2")
    assert check_run(path, ENCODER, None)["captioner"] == "florence-cap2"


def test_check_names_the_paper_rules_that_never_ran(tmp_path, monkeypatch):
    from d2s.ops.rehearsal import coverage

    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("results: results/rehearsal\n")
    monkeypatch.setattr(coverage, "paper_rules", lambda overlays: {"train": 9, "table": 2})
    monkeypatch.setattr(coverage, "rehearsal_rules", lambda overlays, targets: {"train": 1})
    with pytest.raises(RehearsalError, match="never ran in the rehearsal: table"):
        coverage.check(tmp_path / "results", [str(overlay)])


def test_the_rehearsal_summary_reads_every_overlay(monkeypatch):
    """Snakemake keeps only the last of repeated --configfile flags: the overlays go in one."""
    from d2s.ops.rehearsal import coverage

    seen = []
    header = "output_file\tdate\trule\n"
    monkeypatch.setattr(coverage, "_snakemake", lambda args: seen.append(args) or header)
    coverage.rehearsal_rules(["a.yaml", "b.yaml"], ["results/rehearsal/all"])
    (args,) = seen
    assert args.count("--configfile") == 1
    assert args[args.index("--configfile") + 1 : args.index("--configfile") + 3] == [
        "a.yaml",
        "b.yaml",
    ]


def test_report_and_summary_need_no_cores(tmp_path):
    """`snakemake --report` and `--summary` (README, the rehearsal check) build the DAG without
    --cores; no rule may read the core count then."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "--summary", "--configfile", "workflow/config/demo.yaml",
         "--", "results/demo/all"],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "output_file" in out.stdout
