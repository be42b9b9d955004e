"""``d2s score PATH... --checkpoint CKPT``: complexity scores of your own images as CSV.

Exit status: 0 when every input was scored; 1 when some were skipped (each named on stderr, the
others still scored and written); 2 on a usage error (bad checkpoint, nothing to score).
The CSV (``path,score``) is written only once every image is done: to ``--out`` atomically, or to
stdout in one piece, so an interrupted run never leaves a CSV that looks complete.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "score",
        help="score your own images with a trained model",
        description="Score image files, folders (recursive) and glob patterns with a trained "
        "model (best.pt of d2s train, or the authors' released D2S_R18.pth / D2S_R50.pth) and "
        "write a CSV 'path,score'. Bad files are skipped and named on stderr; the exit status "
        "is then 1.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders or globs")
    p.add_argument("--checkpoint", "-c", required=True, type=Path, help="model checkpoint")
    p.add_argument("--out", "-o", type=Path, default=None, help="CSV file (default: stdout)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="input resolution (default: the checkpoint's training resolution; 512 for released)",
    )
    p.add_argument("--workers", type=int, default=0, help="image-decoding processes (default 0)")
    p.add_argument(
        "--max-pixels",
        type=int,
        default=None,
        help="skip images with more pixels than this (default: Pillow's decompression-bomb "
        "limit, about 179 MP; 0 = no limit)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from d2s.cli import CLIError
    from d2s.data.images import DEFAULT_MAX_PIXELS, collect_images
    from d2s.io import atomic_write_text
    from d2s.scoring import load
    from d2s.training.checkpoint import CheckpointError

    if args.batch_size < 1:
        raise CLIError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.workers < 0:
        raise CLIError(f"--workers must be 0 or more, got {args.workers}")
    if args.max_pixels is not None and args.max_pixels < 0:
        raise CLIError(f"--max-pixels must be 0 (no limit) or more, got {args.max_pixels}")
    if args.out is not None:
        from d2s.outputs import check_output, first_line_is

        check_output(
            args.out,
            command="score",
            inputs=[*args.paths, args.checkpoint],
            force=args.force,
            ours=first_line_is("path,score"),
        )
    max_pixels = DEFAULT_MAX_PIXELS if args.max_pixels is None else (args.max_pixels or None)

    def report(message: str) -> None:
        tqdm.write(f"d2s score: skipped {message}", file=sys.stderr)

    paths, problems = collect_images(args.paths)
    for problem in problems:
        report(str(problem))
    if not paths:
        raise CLIError("no images to score" + (" (see the messages above)" if problems else ""))

    try:
        scorer = load(args.checkpoint, args.device, args.image_size, max_pixels)
    except (CheckpointError, ValueError, RuntimeError) as err:
        raise CLIError(str(err)) from None

    progress = sys.stderr.isatty() if args.progress is None else args.progress
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "score"])
    scored = skipped = 0
    bar = tqdm(total=len(paths), unit="img", desc="score", disable=not progress, file=sys.stderr)
    try:
        for path, score, error in scorer.score_paths(paths, args.batch_size, args.workers):
            if error is None:
                writer.writerow([str(path), repr(score)])
                scored += 1
            else:
                report(error)
                skipped += 1
            bar.update(1)
    finally:
        bar.close()
    skipped += len(problems)
    if not scored:
        print(f"d2s score: no image could be scored ({skipped} skipped)", file=sys.stderr)
        return 1
    if args.out is not None:
        atomic_write_text(buffer.getvalue(), args.out)
    else:
        sys.stdout.write(buffer.getvalue())
        sys.stdout.flush()
    if skipped:
        where = f" → {args.out}" if args.out is not None else ""
        print(
            f"d2s score: scored {scored} image(s){where}; skipped {skipped} input(s) (named above)",
            file=sys.stderr,
        )
        return 1
    if args.out is not None:
        print(f"d2s score: scored {scored} image(s) → {args.out}", file=sys.stderr)
    return 0
