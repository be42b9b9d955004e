"""``d2s evaluate CHECKPOINT --dataset NAME --root ROOT``: cross-dataset scoring (Table 3)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score a trained model on a dataset",
        description="Predict every image of a dataset (or one split) with a trained model "
        "(best.pt of d2s train) and write predictions.csv and metrics.json.",
    )
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--dataset", required=True, help="dataset name, e.g. savoias, visc-c")
    p.add_argument("--root", required=True, type=Path, help="dataset folder (official layout)")
    p.add_argument("--split", default=None, help="one split (default: the whole set)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: beside CKPT)")
    p.add_argument("--captions", default=None, help="caption TSV (caption-only/concat models)")
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--force", action="store_true", help="write into a non-empty --out not made by evaluate"
    )
    p.add_argument("--batch-size", type=int, default=64)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from d2s.checkpoint import CheckpointError
    from d2s.cli import CLIError
    from d2s.core.outputs import check_output
    from d2s.data import DatasetError
    from d2s.text.cache import CaptionCacheError
    from d2s.train.cross import evaluate_checkpoint
    from d2s.train.run_folder import is_evaluation

    out = args.out or args.checkpoint.parent / f"eval-{args.dataset}"
    check_output(
        out,
        command="evaluate",
        inputs=[args.checkpoint, args.root, *([args.captions] if args.captions else [])],
        force=args.force,
        ours=is_evaluation,
        folder=True,
    )
    try:
        metrics = evaluate_checkpoint(
            args.checkpoint,
            args.dataset,
            args.root,
            out,
            split=args.split,
            captions=args.captions,
            device=args.device,
            batch_size=args.batch_size,
        )
    except (DatasetError, CheckpointError, CaptionCacheError, ValueError) as err:
        raise CLIError(str(err)) from None
    print(
        f"{metrics['model']} (trained on {metrics['trained_on']}) on {args.dataset}: "
        f"srcc {metrics['srcc']:.4f} plcc {metrics['plcc']:.4f} rmse {metrics['rmse']:.4f} "
        f"rmae {metrics['rmae']:.4f} → {out / 'metrics.json'}"
    )
    return 0
