"""``d2s`` command line. Each sub-command lives in its own module exposing ``register``.

Heavy imports (torch, timm, open_clip) happen inside the commands, so ``d2s --help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Sub-command modules under ``d2s.cli``; each defines ``register(subparsers)``.
COMMANDS = (
    "params",
    "demo",
    "data",
    "caption",
    "text_features",
    "cache_images",
    "train",
    "evaluate",
    "score",
    "export",
    "figure",
    "bench",
    "slurm",
    "gpu_slot",
    "doctor",
    "rehearse",
)


class CLIError(Exception):
    """An error whose message is shown to the user as is (no traceback); exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="d2s", description="D2S (Describe-to-Score) reproducibility suite"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"d2s.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from d2s.core.io import DiskFull
    from d2s.core.outputs import OutputRefused

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # KEY=VALUE words after an option (``d2s train --config C --out R epochs=2``) are overrides too
    words = [word for word in extra if "=" in word and not word.startswith("-")]
    if extra and (len(words) < len(extra) or not hasattr(args, "overrides")):
        parser.error("unrecognized arguments: " + " ".join(extra))
    if words:
        args.overrides = [*args.overrides, *words]
    try:
        return int(args.func(args) or 0)
    except DiskFull as err:
        print(f"d2s {args.command}: error: {err.strerror}", file=sys.stderr)
        return 2
    except (CLIError, OutputRefused) as err:
        print(f"d2s {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
