"""``d2s slurm preflight [-- SNAKEMAKE ARGS]``: refuse a SLURM run whose jobs can never start.

Runs ``snakemake -n --workflow-profile workflow/profiles/slurm SNAKEMAKE ARGS`` (the DAG with the
profile's account and partitions and the config's per-rule requests), asks ``sinfo`` for the
partitions' largest nodes and time limits, and exits 2 naming each rule and request no node can
satisfy (d2s.ops.slurm). Run it before the submission command (docs/slurm-and-gpu.md), with the
same arguments.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

#: Cores of the pre-flight dry run: large, so that threads are shown as the jobs will ask them.
UNCAPPED_CORES = 100000


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "slurm",
        help="SLURM helpers: `d2s slurm preflight` checks the DAG's requests against sinfo",
        description="SLURM helpers (docs/slurm-and-gpu.md: On SLURM).",
    )
    sub = p.add_subparsers(dest="slurm_command", required=True, metavar="SUBCOMMAND")
    pre = sub.add_parser(
        "preflight",
        help="stop before submitting when a job asks more than any node of its partition has",
        description="Build the DAG with `snakemake -n` through the SLURM profile, compare each "
        "rule's largest request (CPUs, mem_mb, GPUs, runtime) with the largest node and the time "
        "limit of its partition (sinfo), and exit 2 naming every rule and request that can never "
        "be scheduled. Arguments after `--` go to snakemake (targets, --configfile …).",
    )
    pre.add_argument(
        "--profile",
        default="workflow/profiles/slurm",
        help="workflow profile (default: workflow/profiles/slurm)",
    )
    pre.add_argument(
        "--sinfo",
        type=Path,
        default=None,
        help="read sinfo output from FILE (format d2s.ops.slurm.SINFO_FORMAT) instead of running sinfo",
    )
    pre.add_argument(
        "--dry-run",
        type=Path,
        default=None,
        help="read `snakemake -n` output from FILE instead of running snakemake",
    )
    pre.add_argument("snakemake_args", nargs=argparse.REMAINDER, metavar="-- SNAKEMAKE ARGS")
    pre.set_defaults(func=run)


def _run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _dry_run(args: argparse.Namespace) -> str:
    from d2s.cli import CLIError

    if args.dry_run is not None:
        return args.dry_run.read_text()
    extra = list(args.snakemake_args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    # --cores: a dry run caps each job's threads at the local cores; a SLURM job is not capped.
    command = [sys.executable, "-m", "snakemake", "-n", "--cores", str(UNCAPPED_CORES)]
    command += ["--workflow-profile", args.profile]
    done = _run(command + extra)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise CLIError(f"snakemake -n through {args.profile} failed:\n{tail}")
    return done.stdout + done.stderr


def _sinfo(args: argparse.Namespace) -> str:
    from d2s.cli import CLIError
    from d2s.ops.slurm import SINFO_FORMAT

    if args.sinfo is not None:
        return args.sinfo.read_text()
    if shutil.which("sinfo") is None:
        raise CLIError("sinfo not found: run this on a machine of the SLURM cluster (or --sinfo)")
    done = _run(["sinfo", "--exact", "--noheader", f"--format={SINFO_FORMAT}"])
    if done.returncode != 0:
        raise CLIError(f"sinfo failed: {done.stderr.strip()}")
    return done.stdout


def run(args: argparse.Namespace) -> int:
    from d2s.cli import CLIError
    from d2s.ops.slurm import (
        PreflightError,
        accounting_disabled,
        check,
        jobs_from_dry_run,
        parse_sinfo,
        summarize,
    )

    try:
        partitions = parse_sinfo(_sinfo(args))
        jobs = jobs_from_dry_run(_dry_run(args))
    except (OSError, PreflightError) as err:
        raise CLIError(str(err)) from None
    problems = check(jobs, partitions)
    if problems:
        raise CLIError(
            f"{len(problems)} request(s) can never be scheduled on this cluster:\n- "
            + "\n- ".join(problems)
        )
    for line in summarize(jobs, partitions):
        print(line)
    if args.sinfo is None and shutil.which("scontrol"):
        config = _run(["scontrol", "show", "config"]).stdout
        if accounting_disabled(config):
            print(
                "warning: SLURM accounting is off (AccountingStorageType=accounting_storage/none): "
                "add --slurm-status-command squeue, or snakemake never sees a job finish"
            )
    submitted = sum(not j.local for j in jobs)
    print(f"preflight: {submitted} job(s) fit their partitions")
    return 0
