"""``d2s.ops.bench.latency_table`` on a hand-written pytest-benchmark JSON (no timing involved)."""

from __future__ import annotations

import argparse
import json
import math

import pandas as pd
import pytest

from d2s.ops.bench import TABLE1_MODELS, BenchmarkJSONError, latency_table, write_latency_table

# model → (median seconds per call, min seconds, params, input side, backbone)
LATENCY = {
    "d2s-r18": (0.0050, 0.0048, 13_015_105, 512, "resnet18-backbone"),
    "d2s-r50": (0.0120, 0.0110, 38_720_577, 512, "resnet50-backbone"),
    "icnet": (0.0100, 0.0095, 20_328_074, 512, None),
    "icnet-score": (0.0080, 0.0079, 20_328_074, 512, None),
    "iccorn": (0.0104, 0.0101, 20_362_445, 512, None),
    "hyperiqa": (0.0070, 0.0066, 27_375_369, 224, None),
    "topiq": (0.0200, 0.0190, 45_196_934, 384, None),
    "resnet18-backbone": (0.0046, 0.0045, 11_176_512, 512, None),
    "resnet50-backbone": (0.0100, 0.0090, 23_508_032, 512, None),
}
PAIRED = {"d2s-r18": 0.07, "d2s-r50": 0.15}


def latency_entry(model: str) -> dict:
    median, low, params, side, backbone = LATENCY[model]
    info = {
        "kind": "latency",
        "model": model,
        "params": params,
        "input_size": f"{side}x{side}",
        "batch": 1,
        "device": "cpu",
        "device_name": "Test CPU",
        "threads": 2,
        "torch": "2.99.0",
        "backbone": backbone,
        "forward": "forward",
        "note": "",
    }
    if model in PAIRED:
        info["overhead_over_backbone_paired"] = PAIRED[model]
    if model == "d2s-r18":
        info["over_icnet_paired"] = 0.45
    if model == "d2s-r50":
        info["overhead_from_parts"] = 0.12
    return {
        "group": "latency",
        "name": f"test_latency[{model}]",
        "fullname": f"tests/test_bench_latency.py::test_latency[{model}]",
        "params": {"name": model},
        "stats": {
            "min": low,
            "max": median * 1.5,
            "mean": median * 1.05,
            "stddev": median * 0.1,
            "median": median,
            "rounds": 5,
            "iterations": 1,
        },
        "extra_info": info,
    }


def other_entry(name: str, median: float, extra: dict) -> dict:
    stats = {"min": median, "max": median, "mean": median, "stddev": 0.0, "median": median}
    return {"group": "other", "name": name, "stats": {**stats, "rounds": 3}, "extra_info": extra}


def bench_json(models=tuple(LATENCY), others: bool = True) -> dict:
    benchmarks = [latency_entry(m) for m in models]
    if others:
        benchmarks += [
            other_entry("test_benchmark_batched_vs_loop", 0.2, {"throughput_ratio": 4.5}),
            other_entry("test_benchmark_d2s_training_step", 1.3, {"d2s_over_vision_only": 1.25}),
            other_entry("test_benchmark_vision_only_training_step", 1.0, {}),
        ]
    return {
        "machine_info": {"cpu": {"brand_raw": "Test CPU"}},
        "datetime": "2025-01-01T00:00:00",
        "version": "5.3.1",
        "benchmarks": benchmarks,
    }


@pytest.fixture
def json_path(tmp_path):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(bench_json()))
    return path


def test_rows_and_columns(json_path):
    table = latency_table(json_path)
    assert list(table["model"]) == list(LATENCY)  # table order of LATENCY_SPECS
    expected = ["model", "params", "params_m", "latency_ms", "latency_ratio_to_icnet"]
    expected += ["input_size", "device", "threads", "torch", "benchmark_json"]
    assert list(table.columns[: len(expected)]) == expected
    row = table.set_index("model").loc["d2s-r18"]
    assert row["params"] == 13_015_105 and row["params_m"] == 13.02
    assert row["latency_ms"] == pytest.approx(5.0)
    assert row["latency_min_ms"] == pytest.approx(4.8)
    assert row["input_size"] == "512x512" and row["device"] == "cpu" and row["threads"] == 2
    assert row["benchmark_json"] == str(json_path)
    assert table.set_index("model").loc["hyperiqa", "input_size"] == "224x224"


def test_ratios_recomputed(json_path):
    table = latency_table(json_path).set_index("model")
    for model, (median, *_rest) in LATENCY.items():
        want = median / LATENCY["icnet"][0]
        assert table.loc[model, "latency_ratio_to_icnet"] == pytest.approx(want)
    assert table.loc["d2s-r18", "overhead_over_backbone"] == pytest.approx(0.0050 / 0.0046 - 1)
    assert table.loc["d2s-r50", "overhead_over_backbone"] == pytest.approx(0.2)
    assert math.isnan(table.loc["icnet", "overhead_over_backbone"])
    assert table.loc["d2s-r50", "overhead_over_backbone_paired"] == pytest.approx(0.15)

    ratios = latency_table(json_path).attrs["ratios"]
    r = ratios["ratios"]
    assert r["d2s_r18_over_icnet"] == pytest.approx(0.45)  # the paired measurement
    assert r["d2s_r18_over_icnet_medians"] == pytest.approx(0.5)
    assert r["d2s_r18_over_icnet_score_only"] == pytest.approx(0.625)
    assert r["d2s_r18_overhead_over_backbone"] == pytest.approx(0.07)  # the paired measurement
    assert r["d2s_r18_overhead_over_backbone_medians"] == pytest.approx(0.05 / 0.046 - 1)
    assert r["d2s_r50_overhead_over_backbone"] == pytest.approx(0.12)  # parts first
    assert r["d2s_r50_overhead_over_backbone_paired"] == pytest.approx(0.15)
    assert r["d2s_r18_overhead_over_backbone_parts"] is None
    assert r["captioning_batched_speedup"] == pytest.approx(4.5)
    assert r["training_step_d2s_over_vision_only"] == pytest.approx(1.25)
    assert r["training_step_d2s_over_vision_only_medians"] == pytest.approx(1.3)
    met = {name: t["met"] for name, t in ratios["targets"].items()}
    assert met == {
        "d2s_r18_over_icnet": True,
        "d2s_r18_overhead_over_backbone": True,
        "d2s_r50_overhead_over_backbone": False,
        "captioning_batched_speedup": True,
        "training_step_d2s_over_vision_only": True,
    }
    assert ratios["device"] == "cpu" and ratios["threads"] == 2 and ratios["cpu"] == "Test CPU"


def test_missing_other_benchmarks_leave_ratios_empty(tmp_path):
    path = tmp_path / "latency-only.json"
    models = [m for m in LATENCY if not m.endswith("-backbone")]
    path.write_text(json.dumps(bench_json(models, others=False)))
    table = latency_table(path)
    assert table["overhead_over_backbone"].isna().all()
    r = table.attrs["ratios"]["ratios"]
    assert r["captioning_batched_speedup"] is None
    assert r["training_step_d2s_over_vision_only"] is None
    assert r["training_step_d2s_over_vision_only_medians"] is None
    assert r["d2s_r18_overhead_over_backbone"] == pytest.approx(0.07)  # paired still recorded
    assert table.attrs["ratios"]["targets"]["captioning_batched_speedup"]["met"] is None


def test_missing_model_names_model_and_file(tmp_path):
    path = tmp_path / "partial.json"
    path.write_text(json.dumps(bench_json([m for m in LATENCY if m != "iccorn"])))
    with pytest.raises(BenchmarkJSONError, match=r"partial\.json.*iccorn"):
        latency_table(path)
    assert "iccorn" in TABLE1_MODELS
    assert len(latency_table(path, required=("d2s-r18",))) == len(LATENCY) - 1


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "does not exist"),
        ("{not json", "not valid JSON"),
        ('{"machine_info": {}}', "no top-level 'benchmarks' list"),
        ('{"benchmarks": [{"name": "x", "stats": {}}]}', "x has no numeric stats.median"),
    ],
)
def test_bad_json_names_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(BenchmarkJSONError, match=message) as err:
        latency_table(path)
    assert str(path) in str(err.value)


def test_duplicate_model_is_an_error(tmp_path):
    data = bench_json()
    data["benchmarks"].append(latency_entry("icnet"))
    path = tmp_path / "dup.json"
    path.write_text(json.dumps(data))
    with pytest.raises(BenchmarkJSONError, match="two latency benchmarks for model 'icnet'"):
        latency_table(path)


def test_write_is_atomic_and_complete(json_path, tmp_path, monkeypatch):
    out = tmp_path / "out" / "latency.csv"
    table = write_latency_table(json_path, out)
    ratios_path = tmp_path / "out" / "latency_ratios.json"
    assert table.attrs["ratios_path"] == str(ratios_path)
    back = pd.read_csv(out)
    assert list(back["model"]) == list(LATENCY)
    assert back["latency_ms"].tolist() == pytest.approx(table["latency_ms"].tolist())
    saved = json.loads(ratios_path.read_text())
    assert saved["ratios"]["d2s_r18_over_icnet_medians"] == pytest.approx(0.5)
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".part")]

    # A failed run leaves the previous outputs untouched and no temporary files.
    before = out.read_text(), ratios_path.read_text()
    bad = tmp_path / "partial.json"
    bad.write_text(json.dumps(bench_json(["d2s-r18"])))
    with pytest.raises(BenchmarkJSONError):
        write_latency_table(bad, out)
    assert (out.read_text(), ratios_path.read_text()) == before

    # A crash while writing the CSV (the last write) leaves no partial CSV behind.
    import d2s.core.io

    real = d2s.core.io.atomic_path

    def failing_atomic_path(path, *args, **kwargs):
        if str(path).endswith(".csv"):
            raise OSError("disk full")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(d2s.core.io, "atomic_path", failing_atomic_path)
    with pytest.raises(OSError, match="disk full"):
        write_latency_table(json_path, tmp_path / "fresh" / "latency.csv")
    assert not (tmp_path / "fresh" / "latency.csv").exists()


def test_cli_bench_table(json_path, tmp_path, capsys):
    from d2s.cli import CLIError
    from d2s.cli.bench import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    out = tmp_path / "latency.csv"
    args = parser.parse_args(["bench", "table", str(json_path), "--out", str(out)])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "d2s-r18" in printed and "icnet" in printed and str(out) in printed
    assert out.exists() and (tmp_path / "latency_ratios.json").exists()

    args = parser.parse_args(["bench", "table", str(tmp_path / "nope.json"), "--out", str(out)])
    with pytest.raises(CLIError, match="nope.json does not exist"):
        args.func(args)

    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(bench_json(["d2s-r18", "icnet"])))
    args = parser.parse_args(["bench", "table", str(partial), "--out", str(tmp_path / "p.csv")])
    with pytest.raises(CLIError, match="d2s-r50"):
        args.func(args)
    args = parser.parse_args(
        ["bench", "table", str(partial), "--out", str(tmp_path / "p.csv"), "--require", "d2s-r18"]
    )
    assert args.func(args) == 0


def test_without_paired_figures_the_medians_are_used(tmp_path):
    data = bench_json()
    for bench in data["benchmarks"]:
        bench["extra_info"].pop("over_icnet_paired", None)
        bench["extra_info"].pop("overhead_over_backbone_paired", None)
        bench["extra_info"].pop("overhead_from_parts", None)
    path = tmp_path / "unpaired.json"
    path.write_text(json.dumps(data))
    r = latency_table(path).attrs["ratios"]["ratios"]
    assert r["d2s_r18_over_icnet"] == pytest.approx(0.5)
    assert r["d2s_r50_overhead_over_backbone"] == pytest.approx(0.2)


def test_bench_run_outside_a_checkout_names_the_missing_files(tmp_path, capsys):
    """`d2s bench run` (the workflow's benchmark_suite rule) runs the suite from the checkout's
    tests/; without it, exit 2 naming the files, and no JSON."""
    from d2s.cli import main

    out = tmp_path / "bench.json"
    assert main(["bench", "run", "--json", str(out), "--tests", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "test_bench_latency.py" in err and "Traceback" not in err
    assert not out.exists()
