"""``d2s train``: train one model on one split (config file plus ``key=value`` overrides)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train one model on one split",
        description="Train one model; resumes from OUT/last.pt, skips a complete run. "
        "Keys: see d2s/train/config.py (TrainConfig).",
    )
    p.add_argument("--config", type=Path, help="YAML file of config keys")
    p.add_argument("--out", type=Path, required=True, help="run folder")
    p.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. epochs=5"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--restart",
        action="store_true",
        help="when OUT holds a run of another config or data, discard it and train afresh "
        "(default: refuse, naming what changed)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from d2s.checkpoint import CheckpointError
    from d2s.cli import CLIError
    from d2s.data import DatasetError
    from d2s.text.cache import CaptionCacheError
    from d2s.text.clip import TextEncoderError
    from d2s.train.checks import ConfigError
    from d2s.train.config import parse_overrides
    from d2s.train.config_file import load_config
    from d2s.train.engine import TrainingDiverged, train

    try:
        config = load_config(args.config, parse_overrides(args.overrides))
        metrics = train(config, args.out, progress=not args.no_progress, restart=args.restart)
    except (
        ConfigError,
        DatasetError,
        CheckpointError,
        CaptionCacheError,
        TextEncoderError,
        TrainingDiverged,
    ) as err:
        raise CLIError(str(err)) from None
    print(
        f"{config.model} on {config.dataset} ({config.test_split}): srcc {metrics['srcc']:.4f} "
        f"plcc {metrics['plcc']:.4f} rmse {metrics['rmse']:.4f} rmae {metrics['rmae']:.4f} "
        f"[select {config.select}, epoch {metrics['selected_epoch']}] → {args.out / 'metrics.json'}"
    )
    return 0
