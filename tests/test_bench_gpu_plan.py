"""``d2s bench gpu --device cpu`` (the GPU check, tiny), ``d2s bench plan`` and
``d2s cache-images`` through the command line."""

import json
import math

import pytest
import yaml

from d2s.cli import main
from d2s.data.demo import make_demo
from d2s.ops.plan import plan, run_hours, step_costs
from d2s.paper.runs import run_overrides, table_cells


@pytest.fixture(scope="module")
def gpu_json(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu") / "check.json"
    assert main(["bench", "gpu", "--device", "cpu", "--out", str(out)]) == 0
    return out


def test_gpu_check_runs_tiny_on_the_cpu_and_writes_json_and_markdown(gpu_json):
    report = json.loads(gpu_json.read_text())
    assert report["profile"] == "tiny" and report["runtime"]["device"] == "cpu"
    assert report["runtime"]["momentum_precision"] in ("bf16", "fp32")  # auto on a CPU
    assert set(report["latency"]) == {"d2s-r18", "d2s-r50", "icnet", "iccorn"}
    for row in report["latency"].values():
        assert row["latency_ms_batch1"] > 0 and row["params_m"] > 0
    for key in ("d2s-fp32", "vision-only-fp32", "d2s-bf16", "vision-only-bf16"):
        assert report["training"][key]["step_ms"] > 0
    ratio = report["training"]["ratio-fp32"]["d2s_over_vision_only"]
    fp32 = report["training"]
    assert ratio == pytest.approx(
        fp32["d2s-fp32"]["step_ms"] / fp32["vision-only-fp32"]["step_ms"], abs=1e-3
    )
    assert report["data_path"]["cache_images_per_s"] > 0
    assert report["blip"]["fp32"]["ms_per_batch_of_4"] > 0
    assert "skipped" in report["blip"]["bf16"]  # bf16 captioning is CUDA-only
    summary = gpu_json.with_suffix(".md").read_text()
    assert "| d2s-r18 |" in summary and "Data path per worker" in summary
    assert f"momentum model {report['runtime']['momentum_precision']}" in summary


def test_plan_sums_the_workflow_runs_per_table(gpu_json, capsys):
    config = yaml.safe_load(open("workflow/config/config.yaml"))
    costs = {**step_costs(gpu_json), "models": {}}  # every model at D2S-R18's steps
    rows = {row["table"]: row for row in plan(config, costs)}
    # Table 1: 4 models x 3 seeds on the official split; its cost is the sum of its runs
    cells = table_cells("table1", config)
    assert rows["table1"]["runs"] == len({cell.spec for cell in cells}) == 12
    expected = sum(run_hours(cell.spec, config, costs)[0] for cell in cells)
    assert rows["table1"]["hours"] == pytest.approx(expected)
    # one D2S-R18 run: 20 epochs x ceil(6720 / 32) steps at the D2S step, scaled by pixels
    spec = next(c.spec for c in cells if c.spec.model == "d2s-r18")
    keys = run_overrides(spec, config)
    hours, steps = run_hours(spec, config, costs)
    assert steps == keys.get("epochs", 20) * math.ceil(6720 / keys.get("batch_size", 32))
    scale = (keys.get("image_size", 512) / costs["size"]) ** 2
    train_h = steps * costs["d2s"] * 32 / costs["batch"] * scale / 3.6e6
    assert hours > train_h  # plus the per-epoch selection pass
    total = rows["total (each run once)"]
    assert total["hours"] <= sum(
        r["hours"] for t, r in rows.items() if t.startswith(("table", "fig"))
    )
    assert main(["bench", "plan", str(gpu_json)]) == 0
    assert "table1" in capsys.readouterr().out


def test_gpu_check_times_and_plan_costs_every_model_by_its_own_step(gpu_json, capsys):
    from d2s.ops.plan import matrix_runs, wall_hours
    from d2s.registry.models import trainable_models

    report = json.loads(gpu_json.read_text())
    assert set(trainable_models()) <= set(report["models"])
    for name in trainable_models():
        row = report["models"][name]
        assert row["step_ms"] > 0 and row["peak_mib"] is None  # peak memory: CUDA only
    assert report["models"]["device-cache"]["ic9600_train_512_mib"] == 5400
    assert "| d2s-r50 | 4 | 32 |" in gpu_json.with_suffix(".md").read_text()
    config = yaml.safe_load(open("workflow/config/config.yaml"))
    costs = step_costs(gpu_json)
    r50 = next(s for s in matrix_runs(config) if s.model == "d2s-r50")
    base = run_hours(r50, config, costs)[0]
    slower = {**costs, "models": {**costs["models"]}}
    slower["models"]["d2s-r50"] = {**costs["models"]["d2s-r50"]}
    slower["models"]["d2s-r50"]["step_ms"] *= 3
    assert run_hours(r50, config, slower)[0] > 2.5 * base  # its own step, not D2S-R18's
    # one run per GPU, longest first: 4 GPUs take a quarter at best, the longest run at least
    hours = [5.0, 3.0, 3.0, 2.0, 2.0, 1.0]
    assert wall_hours(hours, 1) == 16.0 and wall_hours(hours, 2) == 8.0
    assert wall_hours(hours, 4) == 5.0 and wall_hours(hours, 8) == 5.0
    assert main(["bench", "plan", str(gpu_json), "--gpus", "1,4"]) == 0
    assert "wall-clock, one run per GPU: 1 GPU(s)" in capsys.readouterr().out


def test_plan_refuses_a_json_it_cannot_read(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"benchmarks": []}))
    assert main(["bench", "plan", str(bad)]) == 2
    assert "bad.json" in capsys.readouterr().err


def test_cache_images_builds_once_and_records_the_caches(tmp_path, capsys):
    make_demo(tmp_path / "demo", seed=0, size=32, image_size=32)
    args = [f"root={tmp_path / 'demo'}", "image_size=32", f"image_cache={tmp_path / 'c'}"]
    record = tmp_path / "caches.json"
    assert main(["cache-images", "--no-progress", "--record", str(record), *args]) == 0
    built = capsys.readouterr().out
    assert built.count("built (no cache yet)") == 2
    caches = json.loads(record.read_text())["caches"]
    assert [c["split"] for c in caches] == ["train", "test"]
    assert main(["cache-images", "--no-progress", *args]) == 0
    assert capsys.readouterr().out.count("current") == 2  # left as is
    assert main(["cache-images", *args[:-1], "image_cache=off"]) == 2
    assert "image_cache" in capsys.readouterr().err
