"""``d2s data``: inspect, fetch, place, split and generate datasets (facts: docs/design.md §3).

Sub-commands::

    d2s data inspect NAME ROOT [--no-decode]
    d2s data make-demo ROOT [--seed S] [--size N] [--image-size PX]
    d2s data fetch NAME --dest DIR [--source hf|official|github|git] [--downloads DIR] [--any-count]
    d2s data place NAME --src PATH --dest DIR [--any-count]
    d2s data splits NAME ROOT --out DIR --kind official|val|sst|nriqa [--seed S] [--sizes ...]

``fetch`` reads from a local mirror instead of the network when ``D2S_MIRROR=DIR`` is set: each
file at ``DIR/<host>/<path of its URL>`` (e.g. ``DIR/huggingface.co/datasets/chaofengc/
IQA-PyTorch-Datasets/resolve/main/kadid10k.tgz``); everything else runs as for a download.
"""

from __future__ import annotations

import argparse
import json
import sys

from d2s.cli import CLIError
from d2s.data.registry import DATASETS

DATASET_NAMES = tuple(DATASETS)


def _dataset_errors(func):
    """Turn a :class:`DatasetError` into a :class:`CLIError` (message, no traceback, exit 2)."""

    def wrapper(args: argparse.Namespace) -> int:
        from d2s.data.records import DatasetError

        try:
            return func(args)
        except DatasetError as err:
            raise CLIError(str(err)) from err

    return wrapper


def _print_json(record: dict) -> None:
    print(json.dumps(record, indent=2))


@_dataset_errors
def run_inspect(args: argparse.Namespace) -> int:
    from d2s.data.validate import summarize

    _print_json(summarize(args.name, args.root, decode=not args.no_decode, progress=args.progress))
    return 0


@_dataset_errors
def run_make_demo(args: argparse.Namespace) -> int:
    from d2s.core.outputs import check_output
    from d2s.data.demo import is_demo, make_demo

    if args.size < 8:
        raise CLIError("--size must be at least 8 (one image per IC9600 category)")
    if not 16 <= args.image_size <= 4096:
        raise CLIError(f"--image-size must be between 16 and 4096, got {args.image_size}")
    check_output(
        args.root,
        command="data make-demo",
        force=args.force,
        ours=is_demo,
        option="ROOT",
        folder=True,
    )
    counts = make_demo(
        args.root,
        seed=args.seed,
        size=args.size,
        image_size=args.image_size,
        progress=args.progress,
    )
    _print_json(counts)
    return 0


@_dataset_errors
def run_fetch(args: argparse.Namespace) -> int:
    from d2s.data.fetch import fetch_dataset

    record = fetch_dataset(
        args.name,
        args.dest,
        source=args.source,
        downloads=args.downloads,
        progress=args.progress,
        keep_archives=not args.delete_archives,
        strict_count=not args.any_count,
    )
    _print_json(record)
    return 0


@_dataset_errors
def run_place(args: argparse.Namespace) -> int:
    from d2s.data.place import place_dataset

    record = place_dataset(
        args.name, args.src, args.dest, progress=args.progress, strict_count=not args.any_count
    )
    _print_json(record)
    return 0


@_dataset_errors
def run_splits(args: argparse.Namespace) -> int:
    from d2s.core.outputs import check_output, has_marker
    from d2s.data.splits import MARKER, N_BINS, make_splits

    if not 0 < args.val_fraction < 1:
        raise CLIError(f"--val-fraction must lie strictly between 0 and 1, got {args.val_fraction}")
    bad = [size for size in args.sizes if size < 1 or size % N_BINS]
    if args.kind == "sst" and bad:
        raise CLIError(
            f"--sizes: {bad[0]} is not a positive multiple of {N_BINS} (one share per label bin)"
        )
    check_output(
        args.out,
        command="data splits",
        inputs=[args.root],
        force=args.force,
        ours=has_marker(MARKER),
        folder=True,
    )
    counts = make_splits(
        args.name,
        args.root,
        args.out,
        kind=args.kind,
        seed=args.seed,
        sizes=args.sizes,
        val_fraction=args.val_fraction,
    )
    _print_json(counts)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "data",
        help="inspect, fetch, place and split datasets; write the demo data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    progress = argparse.ArgumentParser(add_help=False)
    progress.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=sys.stderr.isatty(),
        help="show progress bars (default: when stderr is a terminal)",
    )

    inspect = commands.add_parser(
        "inspect",
        parents=[progress],
        help="validate a dataset folder; print items per split as JSON",
    )
    inspect.add_argument("name", choices=DATASET_NAMES)
    inspect.add_argument("root", help="the dataset folder, in its official layout")
    inspect.add_argument(
        "--no-decode", action="store_true", help="check files exist but do not decode images"
    )
    inspect.set_defaults(func=run_inspect)

    demo = commands.add_parser(
        "make-demo",
        parents=[progress],
        help="write the procedurally generated demo data (IC9600 layout + companions)",
    )
    demo.add_argument("root", help="output folder")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--size", type=int, default=400, help="number of images (default 400)")
    demo.add_argument("--image-size", type=int, default=128, help="side in pixels (default 128)")
    demo.add_argument(
        "--force", action="store_true", help="write into a non-empty ROOT that is not a dataset"
    )
    demo.set_defaults(func=run_make_demo)

    fetch = commands.add_parser(
        "fetch",
        parents=[progress],
        help="download, verify and mark a public dataset (savoias, kadid10k, koniq10k, tid2013)",
    )
    fetch.add_argument("name", choices=("savoias", "kadid10k", "koniq10k", "tid2013"))
    fetch.add_argument("--dest", required=True, help="dataset folder to create")
    fetch.add_argument(
        "--source",
        choices=("hf", "official", "github", "git"),
        help="hf: pyiqa's Hugging Face mirror (IQA sets' default); official: the authors' "
        "archives; github / git: Savoias from GitHub (archive, the default, or git clone)",
    )
    fetch.add_argument("--downloads", help="where archives go (default: DEST/../downloads/NAME)")
    fetch.add_argument(
        "--delete-archives", action="store_true", help="delete archives once verified"
    )
    fetch.add_argument(
        "--any-count",
        action="store_true",
        help="accept a subset (skip the check of the official image count; recorded in the "
        "marker as subset: true)",
    )
    fetch.set_defaults(func=run_fetch)

    place = commands.add_parser(
        "place",
        parents=[progress],
        help="verify and link/unpack a user-supplied dataset (ic9600, nagle4k, visc-c, visc-ci)",
    )
    place.add_argument("name", choices=("ic9600", "nagle4k", "visc-c", "visc-ci"))
    place.add_argument("--src", help="the user's folder, or a .zip/.tar archive")
    place.add_argument("--dest", required=True, help="dataset folder to create")
    place.add_argument(
        "--any-count",
        action="store_true",
        help="accept a subset (skip the check of the official image count)",
    )
    place.set_defaults(func=run_place)

    splits = commands.add_parser("splits", help="write reproducible split files")
    splits.add_argument("name", choices=DATASET_NAMES)
    splits.add_argument("root", help="the dataset folder")
    splits.add_argument("--out", required=True, help="folder for <split>.txt files (its own)")
    splits.add_argument(
        "--force", action="store_true", help="write into a non-empty --out not made by this command"
    )
    splits.add_argument("--kind", required=True, choices=("official", "val", "sst", "nriqa"))
    splits.add_argument("--seed", type=int, default=0)
    splits.add_argument(
        "--sizes", type=int, nargs="+", default=[10, 50, 100, 500], help="SST sizes"
    )
    splits.add_argument(
        "--val-fraction", type=float, default=0.1, help="share of train for val (default 0.1)"
    )
    splits.set_defaults(func=run_splits)
