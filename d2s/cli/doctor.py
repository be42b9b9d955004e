"""``d2s doctor [--configfile FILE]``: the pre-flight (d2s/ops/doctor.py); exit 2 on any blocker."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "doctor",
        help="pre-flight: GPUs, CUDA build, shared memory, disk, hub, IC9600 (exit 2 on a blocker)",
        description="Check what the workflow config will need before any job runs: visible GPUs "
        "and their free memory, torch's CUDA build vs the driver, /dev/shm vs num_workers, free "
        "disk vs the caches and downloads, the hub's weights reachable or cached, IC9600 placed. "
        "One line per check; a blocker names the fix. The workflow runs it before its first job.",
    )
    p.add_argument(
        "--configfile",
        type=Path,
        action="append",
        help="workflow config(s), later ones over earlier (default: workflow/config/config.yaml)",
    )
    p.set_defaults(func=run)


def load_workflow_config(files: list[Path]) -> dict:
    """The workflow configs merged as Snakemake merges --configfile (nested keys updated)."""
    import yaml

    from d2s.cli import CLIError

    def merge(base: dict, over: dict) -> dict:
        for key, value in over.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value
        return base

    config: dict = {}
    for file in files:
        if not file.is_file():
            raise CLIError(f"{file}: workflow config not found (--configfile)")
        merge(config, yaml.safe_load(file.read_text()) or {})
    return config


def run(args: argparse.Namespace) -> int:
    from d2s.ops.doctor import run_checks

    files = args.configfile or [Path("workflow/config/config.yaml")]
    findings = run_checks(load_workflow_config(files))
    for finding in findings:
        print(finding)
    blockers = [f for f in findings if f.blocker]
    if blockers:
        print(f"d2s doctor: {len(blockers)} blocker(s); fix them before running the workflow")
        return 2
    print("d2s doctor: ready")
    return 0
