"""``d2s bench ACTION``, one family: ``run --json BENCH_JSON`` runs the benchmark suite; ``table
BENCH_JSON --out CSV`` turns its JSON into Table 1's Params / Latency columns and Fig. 3's data;
``gpu`` is the GPU check (d2s/ops/gpu_check.py) and ``plan`` the paper matrix's cost
(d2s/ops/plan.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    bench = subparsers.add_parser(
        "bench", help="benchmarks: run the suite, its latency table, the GPU check, the cost plan"
    )
    actions = bench.add_subparsers(dest="bench_command", required=True, metavar="ACTION")
    suite = actions.add_parser(
        "run",
        help="run the latency and throughput benchmarks (pytest-benchmark) into a JSON",
        description="Run the suite's pytest-benchmark files (d2s.ops.bench.BENCHMARK_TESTS, in the "
        "checkout's tests/ folder) with --benchmark-only and write their JSON, the input of "
        "`d2s bench table`. Offline (HF_HUB_OFFLINE); CUDA when torch sees a GPU.",
    )
    suite.add_argument("--json", type=Path, required=True, help="output pytest-benchmark JSON")
    suite.add_argument("--force", action="store_true", help="replace an existing --json file")
    suite.add_argument("--threads", type=int, default=2, help="torch CPU threads (default: 2)")
    suite.add_argument(
        "--tests",
        type=Path,
        default=Path("tests"),
        help="the checkout's tests folder (default: tests)",
    )
    suite.add_argument(
        "--alone",
        action="store_true",
        help="record that nothing else ran beside the suite (the workflow gives it every core "
        "and every GPU slot)",
    )
    suite.set_defaults(func=run_suite)
    p = actions.add_parser(
        "table",
        help="turn a pytest-benchmark JSON into the latency table and its ratios",
        description="Read the JSON written by `pytest --benchmark-only --benchmark-json=BENCH_JSON` "
        "and write one row per timed model (params, median per-image latency, ratio to ICNet, "
        "input size, device, threads, torch version) to CSV, and the derived ratios (D2S-R18 / "
        "ICNet, D2S overhead over its backbone, batched captioning speed-up, D2S training step / "
        "vision-only step) with their targets to a JSON beside it.",
    )
    p.add_argument("bench_json", type=Path, metavar="BENCH_JSON")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("results/benchmarks/latency.csv"),
        help="output CSV (default: results/benchmarks/latency.csv)",
    )
    p.add_argument(
        "--ratios",
        type=Path,
        default=None,
        help="output JSON of the ratios (default: <CSV stem>_ratios.json beside the CSV)",
    )
    p.add_argument("--force", action="store_true", help="replace files not made by bench table")
    p.add_argument(
        "--require",
        default=None,
        help="comma-separated models that must be present "
        "(default: d2s-r18,d2s-r50,icnet,iccorn,hyperiqa,topiq; '' for none)",
    )
    p.set_defaults(func=run)
    register_gpu_and_plan(actions)


def json_with(*keys: str, source: Path | None = None):
    """``ours`` for the output policy (d2s/core/outputs.py): a JSON object (``source``, or the output
    itself) holding every one of ``keys``, which only this suite's writers put there."""

    def ours(path: Path) -> bool:
        try:
            data = json.loads(Path(source or path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(data, dict) and all(key in data for key in keys)

    return ours


def run_suite(args: argparse.Namespace) -> int:
    import os
    import subprocess
    import sys

    from d2s.cli import CLIError
    from d2s.core.outputs import check_output
    from d2s.ops.bench import BENCHMARK_TESTS

    files = [args.tests / name for name in BENCHMARK_TESTS]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise CLIError(
            f"benchmark files not found: {', '.join(missing)}; run from a checkout of the "
            "repository (the suite lives in its tests/ folder) or pass --tests DIR"
        )
    check_output(
        args.json,
        command="bench run",
        force=args.force,
        ours=json_with("d2s_run"),
        option="--json",
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env["D2S_BENCH_THREADS"] = str(args.threads)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    partial = args.json.with_name(args.json.name + ".part")
    command = [sys.executable, "-m", "pytest", "--benchmark-only", f"--benchmark-json={partial}"]
    command += ["-p", "no:cacheprovider", *map(str, files)]
    done = subprocess.run(command, env=env, check=False)
    if done.returncode != 0:
        raise CLIError(f"the benchmark suite failed (pytest exit {done.returncode}); see above")
    data = json.loads(partial.read_text())
    data["d2s_run"] = {"alone": args.alone, "threads": args.threads}
    partial.write_text(json.dumps(data, indent=4))
    partial.replace(args.json)  # a JSON only once the whole suite has run
    print(f"wrote {args.json}")
    return 0


def run(args: argparse.Namespace) -> int:
    from d2s.cli import CLIError
    from d2s.ops.bench import TABLE1_MODELS, BenchmarkJSONError, write_latency_table

    _check_table_outputs(args)
    if args.require is None:
        required = TABLE1_MODELS
    else:
        required = tuple(m.strip() for m in args.require.split(",") if m.strip())
    try:
        table = write_latency_table(args.bench_json, args.out, args.ratios, required=required)
    except BenchmarkJSONError as err:
        raise CLIError(str(err)) from None
    columns = ["model", "params_m", "latency_ms", "latency_ratio_to_icnet", "input_size"]
    columns += ["over_icnet_paired", "overhead_over_backbone", "overhead_over_backbone_paired"]
    columns += ["overhead_from_parts"]
    with_device = table.iloc[0] if len(table) else None
    if with_device is not None:
        print(
            f"device: {with_device['device']} ({with_device['device_name']}), "
            f"threads {with_device['threads']}, torch {with_device['torch']}"
        )
    print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(json.dumps(table.attrs["ratios"]["targets"], indent=2))
    print(f"wrote {args.out} and {table.attrs['ratios_path']}")
    return 0


def register_gpu_and_plan(actions: argparse._SubParsersAction) -> None:
    """``d2s bench gpu`` and ``d2s bench plan``."""
    gpu = actions.add_parser(
        "gpu",
        help="latency, training steps (fp32/bf16), data path and BLIP on one device: JSON + Markdown",
        description="The one command a maintainer runs on a GPU (d2s/ops/gpu_check.py; about 5 "
        "minutes at paper sizes). With --device cpu it runs tiny (seconds).",
    )
    gpu.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    gpu.add_argument(
        "--profile",
        choices=("full", "tiny"),
        default=None,
        help="sizes (default: full on CUDA, tiny on the CPU)",
    )
    gpu.add_argument(
        "--out",
        type=Path,
        default=Path("results/benchmarks/gpu_check.json"),
        help="JSON to write; the Markdown summary goes beside it (.md)",
    )
    gpu.add_argument("--force", action="store_true", help="replace an existing --out and its .md")
    gpu.set_defaults(func=run_gpu)
    plan = actions.add_parser(
        "plan",
        help="projected hours of the paper matrix per table, from a benchmark JSON",
        description="Read the workflow's run list (workflow config, d2s/paper/runs.py) and the "
        "JSON of 'd2s bench gpu' or of 'pytest --benchmark-only tests/test_bench_data.py'; print "
        "the projected hours of every table's runs (d2s/ops/plan.py says how they are costed).",
    )
    plan.add_argument("bench_json", type=Path, nargs="+", metavar="BENCH_JSON")
    plan.add_argument(
        "--configfile",
        type=Path,
        default=Path("workflow/config/config.yaml"),
        help="workflow config (default: workflow/config/config.yaml)",
    )
    plan.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    plan.add_argument(
        "--gpus",
        default="1,2,4,8",
        help="GPU counts to project the wall-clock time for (one run per GPU; default 1,2,4,8)",
    )
    plan.set_defaults(func=run_plan)


def run_gpu(args: argparse.Namespace) -> int:
    from d2s.cli import CLIError
    from d2s.ops.gpu_check import run_check
    from d2s.train.checks import ConfigError, check_device

    try:
        check_device(args.device)
    except ConfigError as err:
        raise CLIError(str(err).replace("config key 'device'", "--device")) from None
    from d2s.core.outputs import check_output

    ours = json_with("runtime", "profile", source=args.out)  # the .md is ours with its JSON
    for out in (args.out, args.out.with_suffix(".md")):
        check_output(out, command="bench gpu", force=args.force, ours=ours)
    report = run_check(args.device, args.out, args.profile)
    print(args.out.with_suffix(".md").read_text())
    print(f"wrote {args.out} and {args.out.with_suffix('.md')} in {report['seconds']} s")
    return 0


def run_plan(args: argparse.Namespace) -> int:
    import yaml

    from d2s.cli import CLIError
    from d2s.ops.plan import PlanError, plan, run_list_hours, step_costs, wall_hours

    if not args.configfile.is_file():
        raise CLIError(f"{args.configfile}: workflow config not found (--configfile)")
    config = yaml.safe_load(args.configfile.read_text())
    try:
        counts = [int(n) for n in args.gpus.split(",") if n.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise CLIError(f"--gpus {args.gpus!r}: a comma-separated list of GPU counts, e.g. 1,2,4")
    for path in args.bench_json:
        try:
            costs = step_costs(path, args.precision)
        except PlanError as err:
            raise CLIError(str(err)) from None
        print(
            f"{path}: {costs['source']} on {costs['device']}: D2S step {costs['d2s']:.1f} ms, "
            f"vision-only {costs['vision-only']:.1f} ms (batch {costs['batch']}, {costs['size']} px)"
        )
        for row in plan(config, costs):
            print(
                f"  {row['table']:<25} {row['runs']:>5} runs {row['steps']:>10} steps "
                f"{row['hours']:>10.1f} h"
            )
        hours = run_list_hours(config, costs)
        walls = ", ".join(f"{n} GPU(s) {wall_hours(hours, n):.1f} h" for n in counts)
        print(f"  wall-clock, one run per GPU: {walls}")
        if costs.get("models"):
            print("  (each model costed by its own step at its own batch; see d2s/ops/plan.py)")
        else:
            print("  (non-EAL runs are costed at the vision-only step; see d2s/ops/plan.py)")
    return 0


def _check_table_outputs(args: argparse.Namespace) -> None:
    """The output policy (d2s/core/outputs.py) for the CSV and its ratios JSON (the pair is ours when
    the JSON holds the ratios' ``targets``)."""
    from d2s.core.outputs import check_output

    ratios = args.ratios or args.out.with_name(f"{args.out.stem}_ratios.json")

    def ours(_: Path) -> bool:
        try:
            return "targets" in json.loads(ratios.read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError):
            return False

    for out in (args.out, ratios):
        check_output(
            out, command="bench table", inputs=[args.bench_json], force=args.force, ours=ours
        )
