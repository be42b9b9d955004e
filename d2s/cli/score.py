"""``d2s score PATH... --checkpoint CKPT``: complexity scores of your own images as CSV.

Exit status: 0 when every input was scored; 1 when some were skipped (each named on stderr, the
others still scored and written); 2 on a usage error (bad checkpoint, nothing to score).
The CSV (:mod:`d2s.inference.outputs`: a header line recording the checkpoint's hash, then
``path,score``) is written only once every image is done: to ``--out`` atomically, or to stdout
in one piece, so an interrupted run never leaves a CSV that looks complete. With ``--resume``
the rows also go to ``<out>.partial`` as they come, and a rerun scores only the rest.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from d2s.inference.outputs import MAP_FORMATS, SCORE_CONVENTION


def _workers(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 'auto' or 0 or more, got {text!r}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "score",
        help="score your own images with a trained model",
        description="Score image files, folders (recursive) and glob patterns with a trained "
        "model (best.pt of d2s train, the authors' released D2S_R18.pth / D2S_R50.pth, or the "
        "IC9600 authors' ICNet ck.pth) and write a CSV 'path,score'. Bad files are skipped "
        "and named on stderr; the exit status is then 1. " + SCORE_CONVENTION,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders or globs")
    p.add_argument("--checkpoint", "-c", required=True, type=Path, help="model checkpoint")
    p.add_argument("--out", "-o", type=Path, default=None, help="CSV file (default: stdout)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows of an interrupted (or earlier) run of the same model in --out and "
        "score only the rest",
    )
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="input resolution (default: the checkpoint's training resolution; 512 for released)",
    )
    p.add_argument(
        "--workers",
        type=_workers,
        default="auto",
        help="image-decoding processes: auto (default: every core with a GPU, half of them "
        "on the CPU, the model's threads taking the rest) or a number (0: none)",
    )
    p.add_argument(
        "--gpu-decode",
        action="store_true",
        help="decode JPEGs on the CUDA device (nvJPEG) and resize there; scores differ "
        "slightly from the default PIL path",
    )
    p.add_argument(
        "--maps",
        type=Path,
        default=None,
        metavar="DIR",
        help="also write each image's complexity map (ICNet, ICCORN) to DIR, named after the "
        "image; existing files are never overwritten",
    )
    p.add_argument("--map-format", choices=sorted(MAP_FORMATS), default="both")
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
        help="progress bar with images/s on stderr (default: when stderr is a terminal)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm.auto import tqdm

    import d2s.inference.outputs as outputs
    from d2s.checkpoint import CheckpointError
    from d2s.cli import CLIError
    from d2s.data.images import DEFAULT_MAX_PIXELS, collect_images
    from d2s.inference.batch import auto_workers, model_threads
    from d2s.inference.scoring import load

    if args.batch_size < 1:
        raise CLIError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.max_pixels is not None and args.max_pixels < 0:
        raise CLIError(f"--max-pixels must be 0 (no limit) or more, got {args.max_pixels}")
    if args.out is not None and args.out.is_dir():
        raise CLIError(f"--out {args.out} is a folder; give a file name, e.g. scores.csv")
    if args.resume and args.out is None:
        raise CLIError("--resume needs --out (the CSV to continue)")
    if args.maps is not None and args.maps.exists() and not args.maps.is_dir():
        raise CLIError(f"--maps {args.maps} is a file; give a folder")
    if args.out is not None:
        from d2s.core.outputs import check_output, first_line_is

        check_output(
            args.out,
            command="score",
            inputs=[*args.paths, args.checkpoint],
            force=args.force,
            ours=first_line_is(outputs.HEADER_START, prefix=True),
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
    if args.maps is not None and not scorer.module.has_maps:
        raise CLIError(f"--maps: model {scorer.name!r} predicts no complexity map")
    if args.gpu_decode and scorer.device.type != "cuda":
        raise CLIError(f"--gpu-decode needs a CUDA device; this run is on {scorer.device}")
    decode = "gpu" if args.gpu_decode else "cpu"
    header = outputs.header_line(
        scorer.name, scorer.image_size, decode, outputs.sha256_of(scorer.source)
    )

    rows: list[tuple[str, str]] = []
    partial = None
    if args.resume:
        partial_file = outputs.partial_path(args.out)
        source = next((f for f in (partial_file, args.out) if f.exists()), None)
        try:
            rows = outputs.read_rows(source, header) if source else []
        except outputs.ScoresFileError as err:
            raise CLIError(str(err)) from None
        partial = outputs.start_partial(partial_file, header, rows)
    kept = {row[0] for row in rows}
    done = frozenset(i for i, p in enumerate(paths) if str(p) in kept)
    workers = args.workers
    if workers == "auto":
        workers = auto_workers(len(paths), args.batch_size, scorer.device.type)
    threads = torch.get_num_threads()
    if scorer.device.type == "cpu" and workers:
        torch.set_num_threads(min(threads, model_threads(workers)))
    stems = outputs.map_stems(paths) if args.maps is not None else []

    progress = sys.stderr.isatty() if args.progress is None else args.progress
    scored, skipped = len(done), len(problems)
    bar = tqdm(
        total=len(paths), initial=scored, unit="img", desc="score", disable=not progress,
        file=sys.stderr, smoothing=0.1,
    )  # fmt: skip
    index = {str(p): i for i, p in enumerate(paths)}
    try:
        for item in scorer.score_paths(
            paths, args.batch_size, workers, done, args.maps is not None, args.gpu_decode
        ):
            if item.error is not None:
                report(item.error)
                skipped += 1
            else:
                if item.map is not None:
                    stem = stems[index[str(item.path)]]
                    for message in outputs.write_map(item.map, args.maps, stem, args.map_format):
                        report(message)
                        skipped += 1
                row = (str(item.path), repr(item.score))
                rows.append(row)
                if partial is not None:
                    partial.write(outputs.format_rows([row]))
                    partial.flush()
                scored += 1
            bar.update(1)
    finally:
        bar.close()
        torch.set_num_threads(threads)
        if partial is not None:
            partial.close()
    if not rows:
        print(f"d2s score: no image could be scored ({skipped} skipped)", file=sys.stderr)
        return 1
    outputs.write_csv(outputs.csv_text(header, outputs.in_input_order(rows, paths)), args.out)
    if partial is not None:
        outputs.partial_path(args.out).unlink(missing_ok=True)
    where = f" → {args.out}" if args.out is not None else ""
    if done:
        where = f" ({scored - len(done)} now, {len(done)} kept from the earlier run){where}"
    if skipped:
        print(
            f"d2s score: scored {scored} image(s){where}; skipped {skipped} input(s) (named above)",
            file=sys.stderr,
        )
        return 1
    if args.out is not None:
        print(f"d2s score: scored {scored} image(s){where}", file=sys.stderr)
    return 0
