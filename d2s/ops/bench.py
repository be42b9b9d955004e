"""Latency benchmarks → Table 1's Params / Latency columns and the data of Fig. 3.

The measurements come from ``pytest --benchmark-only`` (``tests/test_bench_latency.py`` for the
per-image inference latency, ``tests/test_bench_training.py`` and
``tests/test_captions_benchmark.py`` for our own pipeline's speed). This module holds

- (re-exported from :mod:`d2s.ops.latency`) the rows the latency suite times (:data:`LATENCY_SPECS`,
  the paper's rows of :mod:`d2s.paper.models`) and how each is built and called
  (:func:`build_latency_model`), so the benchmark file and the table agree on names;
- :func:`latency_table`, which turns a pytest-benchmark JSON into one row per model (params,
  median per-image latency, ratio to ICNet, input size, device, threads, torch version) and
  derives the ratios the efficiency claims are judged by (:func:`derived_ratios`);
- :func:`write_latency_table`, which writes the CSV and a JSON of the ratios atomically.

Latency (docs/design.md §4) is the per-image forward time of the inference model at its training
resolution: batch 1, eval mode, ``torch.inference_mode()``, median over the benchmark rounds.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from d2s.ops.latency import (
    LATENCY_SPECS,
    TABLE1_MODELS,
    LatencyModel,
    LatencySpec,
    build_latency_model,
    device_name,
    runtime_info,
)
from d2s.paper.models import HEADLINE_RATIO, LATENCY_RATIOS, LATENCY_REFERENCE

if TYPE_CHECKING:  # heavy imports stay inside the functions
    import pandas as pd

__all__ = [
    "BENCHMARK_TESTS",
    "BenchmarkJSONError",
    "LATENCY_SPECS",
    "LatencyModel",
    "LatencySpec",
    "TABLE1_MODELS",
    "TARGETS",
    "build_latency_model",
    "derived_ratios",
    "device_name",
    "latency_table",
    "load_benchmark_json",
    "runtime_info",
    "write_latency_table",
]


#: The pytest-benchmark suite behind Table 1's Params / Latency, Fig. 3 and the efficiency ratios
#: (``d2s bench run`` runs it from a checkout; the files live in the repository's tests/).
BENCHMARK_TESTS: tuple[str, ...] = (
    "test_bench_latency.py",
    "test_bench_training.py",
    "test_captions_benchmark.py",
)

#: The efficiency targets each measured ratio is judged by: ratio name → (comparison, bound).
TARGETS: dict[str, tuple[str, float]] = {
    "d2s_r18_over_icnet": ("<=", 0.55),
    "d2s_r18_overhead_over_backbone": ("<=", 0.10),
    "d2s_r50_overhead_over_backbone": ("<=", 0.10),
    "captioning_batched_speedup": (">=", 3.0),
    "training_step_d2s_over_vision_only": ("<=", 1.6),
}


# --------------------------------------------------------------------------------------------
# Benchmark JSON → table
# --------------------------------------------------------------------------------------------


class BenchmarkJSONError(ValueError):
    """A pytest-benchmark JSON that is missing, malformed or lacks a needed benchmark."""


def load_benchmark_json(path: str | os.PathLike) -> dict:
    """Read and check a pytest-benchmark JSON (``--benchmark-json``); errors name the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchmarkJSONError(
            f"benchmark JSON {path} does not exist; write it with "
            f"`pytest --benchmark-only --benchmark-json={path}`"
        ) from None
    except OSError as err:
        raise BenchmarkJSONError(f"cannot read benchmark JSON {path}: {err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise BenchmarkJSONError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise BenchmarkJSONError(
            f"{path} is not a pytest-benchmark JSON: no top-level 'benchmarks' list"
        )
    for i, bench in enumerate(data["benchmarks"]):
        stats = bench.get("stats") if isinstance(bench, dict) else None
        if not isinstance(stats, dict) or not _is_number(stats.get("median")):
            name = bench.get("name", f"#{i}") if isinstance(bench, dict) else f"#{i}"
            raise BenchmarkJSONError(f"{path}: benchmark {name} has no numeric stats.median")
        if not isinstance(bench.get("extra_info", {}), dict):
            raise BenchmarkJSONError(
                f"{path}: benchmark {bench.get('name')} extra_info is not a dict"
            )
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _latency_entries(data: dict, path: Path) -> dict[str, dict]:
    entries: dict[str, dict] = {}
    for bench in data["benchmarks"]:
        info = bench.get("extra_info") or {}
        if info.get("kind") != "latency":
            continue
        model = info.get("model")
        if not isinstance(model, str):
            raise BenchmarkJSONError(f"{path}: latency benchmark {bench.get('name')} has no model")
        if model in entries:
            raise BenchmarkJSONError(
                f"{path}: two latency benchmarks for model {model!r} "
                f"({entries[model].get('name')}, {bench.get('name')}); merge runs by hand"
            )
        entries[model] = bench
    return entries


def _find(data: dict, key: str) -> dict | None:
    """The first benchmark whose extra_info has ``key``."""
    for bench in data["benchmarks"]:
        if key in (bench.get("extra_info") or {}):
            return bench
    return None


def _ms_per_image(bench: dict, stat: str = "median") -> float:
    batch = (bench.get("extra_info") or {}).get("batch", 1)
    return bench["stats"][stat] * 1000.0 / batch


def latency_table(
    benchmark_json_path: str | os.PathLike, required: Iterable[str] = TABLE1_MODELS
) -> pd.DataFrame:
    """One row per timed model, from a pytest-benchmark JSON.

    Columns: ``model, params, params_m, latency_ms`` (median per image), ``latency_ratio_to_icnet,
    input_size, device, threads, torch, benchmark_json``, then ``latency_min_ms, latency_mean_ms,
    latency_stddev_ms, rounds, device_name, forward, backbone, overhead_over_backbone`` (D2S: its
    median over its bare backbone's median, minus 1), ``over_icnet_paired`` (D2S-R18's latency
    over ICNet's from interleaved calls), ``overhead_over_backbone_paired`` (the overhead from
    interleaved calls of the model and its own trunk), ``overhead_from_parts`` (t(pool + head) /
    t(trunk) from interleaved calls: the most precise overhead figure) and ``note``. The paired figures are
    measured inside one benchmark, so load from other processes hits both sides alike.
    Rows follow :data:`LATENCY_SPECS` order, then any other latency entries.

    The derived ratios (:func:`derived_ratios`) are attached as ``table.attrs["ratios"]``.

    Raises:
        BenchmarkJSONError: the file is missing or malformed, or lacks a model of ``required``.
    """
    import pandas as pd

    path = Path(benchmark_json_path)
    data = load_benchmark_json(path)
    entries = _latency_entries(data, path)
    missing = [m for m in required if m not in entries]
    if missing:
        found = ", ".join(entries) or "none"
        raise BenchmarkJSONError(
            f"{path} has no latency benchmark for {', '.join(missing)} (found: {found}); "
            "run `pytest --benchmark-only tests/test_bench_latency.py --benchmark-json=...`"
        )
    order = [m for m in LATENCY_SPECS if m in entries] + [
        m for m in entries if m not in LATENCY_SPECS
    ]
    reference = LATENCY_REFERENCE
    reference_ms = _ms_per_image(entries[reference]) if reference in entries else math.nan
    rows = []
    for model in order:
        bench = entries[model]
        info = bench["extra_info"]
        latency = _ms_per_image(bench)
        backbone = info.get("backbone")
        overhead = math.nan
        if backbone in entries:
            overhead = latency / _ms_per_image(entries[backbone]) - 1.0
        params = info.get("params")
        rows.append(
            {
                "model": model,
                "params": params,
                "params_m": round(params / 1e6, 2) if _is_number(params) else math.nan,
                "latency_ms": latency,
                f"latency_ratio_to_{reference}": latency / reference_ms,
                "input_size": info.get("input_size"),
                "device": info.get("device"),
                "threads": info.get("threads"),
                "torch": info.get("torch"),
                "benchmark_json": str(path),
                "latency_min_ms": _ms_per_image(bench, "min"),
                "latency_mean_ms": _ms_per_image(bench, "mean"),
                "latency_stddev_ms": _ms_per_image(bench, "stddev")
                if _is_number(bench["stats"].get("stddev"))
                else math.nan,
                "rounds": bench["stats"].get("rounds"),
                "device_name": info.get("device_name"),
                "forward": info.get("forward"),
                "backbone": backbone,
                "overhead_over_backbone": overhead,
                f"over_{reference}_paired": info.get(f"over_{reference}_paired", math.nan),
                "overhead_from_parts": info.get("overhead_from_parts", math.nan),
                "overhead_over_backbone_paired": info.get(
                    "overhead_over_backbone_paired", math.nan
                ),
                "note": info.get("note"),
                # True when the workflow ran the suite with nothing beside it (d2s bench run --alone)
                "measured_alone": bool((data.get("d2s_run") or {}).get("alone", False)),
            }
        )
    table = pd.DataFrame(rows)
    table.attrs["ratios"] = derived_ratios(data, path, table)
    return table


def derived_ratios(data: dict, path: Path, table: pd.DataFrame) -> dict[str, Any]:
    """The ratios the efficiency claims are judged by, measured in one run.

    ``None`` where the JSON lacks what a ratio needs. The headline ratios prefer the paired
    (interleaved) measurements recorded in ``extra_info``: D2S-R18 / ICNet and the D2S overheads
    from the latency benchmarks (overhead: from parts, else paired, else medians), the training-step and captioning ratios from those benchmarks;
    each falls back to (or is accompanied by, as ``*_medians``) the ratio of the benchmarks'
    medians, which is exact on a quiet machine but not under load from other processes.
    """
    by_model = table.set_index("model")

    def cell(model: str, column: str) -> float | None:
        if model not in by_model.index:
            return None
        value = by_model.at[model, column]
        return float(value) if _is_number(value) else None

    def ratio(a: str, b: str) -> float | None:
        x, y = cell(a, "latency_ms"), cell(b, "latency_ms")
        return x / y if x is not None and y else None

    headline, model, reference = HEADLINE_RATIO
    paired_reference = cell(model, f"over_{reference}_paired")
    ratios: dict[str, Any] = {
        headline: paired_reference if paired_reference is not None else ratio(model, reference),
        **{name: ratio(a, b) for name, (a, b) in LATENCY_RATIOS.items()},
    }
    # the rows timed beside their own trunk (D2S): overhead from parts, else paired, else medians
    for spec in (s for s in LATENCY_SPECS.values() if s.backbone):
        parts = cell(spec.name, "overhead_from_parts")
        paired = cell(spec.name, "overhead_over_backbone_paired")
        medians = cell(spec.name, "overhead_over_backbone")
        best = next((v for v in (parts, paired, medians) if v is not None), None)
        key = spec.name.replace("-", "_") + "_overhead_over_backbone"
        ratios[key] = best
        ratios[f"{key}_parts"] = parts
        ratios[f"{key}_paired"] = paired
        ratios[f"{key}_medians"] = medians

    captions = _find(data, "throughput_ratio")
    ratios["captioning_batched_speedup"] = (
        float(captions["extra_info"]["throughput_ratio"]) if captions else None
    )
    training = _find(data, "d2s_over_vision_only")
    ratios["training_step_d2s_over_vision_only"] = (
        float(training["extra_info"]["d2s_over_vision_only"]) if training else None
    )
    steps = {b.get("name"): b for b in data["benchmarks"]}
    d2s_step = steps.get("test_benchmark_d2s_training_step")
    vision_step = steps.get("test_benchmark_vision_only_training_step")
    ratios["training_step_d2s_over_vision_only_medians"] = (
        d2s_step["stats"]["median"] / vision_step["stats"]["median"]
        if d2s_step and vision_step
        else None
    )

    targets = {}
    for name, (op, bound) in TARGETS.items():
        value = ratios.get(name)
        met = None if value is None else (value <= bound if op == "<=" else value >= bound)
        targets[name] = {"target": f"{op} {bound}", "value": value, "met": met}
    first = table.iloc[0] if len(table) else {}
    machine = data.get("machine_info") or {}
    return {
        "benchmark_json": str(path),
        "datetime": data.get("datetime"),
        "device": first.get("device"),
        "device_name": first.get("device_name"),
        "threads": _plain(first.get("threads")),
        "torch": first.get("torch"),
        "cpu": (machine.get("cpu") or {}).get("brand_raw"),
        "measured_alone": bool((data.get("d2s_run") or {}).get("alone", False)),
        "ratios": ratios,
        "targets": targets,
    }


def _plain(value: Any) -> Any:
    """numpy scalars → Python (for json)."""
    return value.item() if hasattr(value, "item") else value


def write_latency_table(
    benchmark_json_path: str | os.PathLike,
    out_csv: str | os.PathLike,
    out_ratios: str | os.PathLike | None = None,
    required: Iterable[str] = TABLE1_MODELS,
) -> pd.DataFrame:
    """:func:`latency_table` written atomically to ``out_csv`` and its ratios to ``out_ratios``
    (default: ``<out_csv stem>_ratios.json`` beside it). Nothing is written on error."""
    from d2s.core.io import atomic_write_text

    out_csv = Path(out_csv)
    table = latency_table(benchmark_json_path, required=required)
    ratios = table.attrs["ratios"]
    out_ratios = (
        Path(out_ratios) if out_ratios else out_csv.with_name(f"{out_csv.stem}_ratios.json")
    )
    csv_text = table.to_csv(index=False)
    ratios_text = json.dumps(ratios, indent=2, default=_plain) + "\n"
    atomic_write_text(ratios_text, out_ratios)
    atomic_write_text(csv_text, out_csv)  # last: the CSV's presence means both are complete
    table.attrs["ratios_path"] = str(out_ratios)
    return table
