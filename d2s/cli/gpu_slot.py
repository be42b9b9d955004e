"""``d2s gpu-slot [--runs-per-gpu K] -- COMMAND …``: run COMMAND on a GPU of its own
(d2s/core/devices.py); the workflow prefixes every GPU job with it on a workstation."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "gpu-slot",
        help="run a command on a GPU of its own (one job per GPU)",
        description="Take a free GPU slot (a file lock per GPU and slot; waits while all are "
        "busy), set CUDA_VISIBLE_DEVICES to that GPU and run COMMAND in this process, which "
        "holds the slot until it ends. Without a visible GPU, COMMAND runs unchanged.",
    )
    p.add_argument(
        "--runs-per-gpu",
        type=int,
        default=1,
        help="slots per GPU (default 1: no two jobs share a device)",
    )
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from d2s.cli import CLIError
    from d2s.core.devices import exec_on_slot

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise CLIError("no command given: d2s gpu-slot -- COMMAND [ARGS…]")
    if args.runs_per_gpu < 1:
        raise CLIError(f"--runs-per-gpu {args.runs_per_gpu}: must be at least 1")
    exec_on_slot(command, args.runs_per_gpu)
    return 0  # not reached: exec replaced this process
