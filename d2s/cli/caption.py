"""``d2s caption``: caption a dataset into a resumable caption cache (docs/design.md §1.2).

    d2s caption --captioner blip|florence-cap1|florence-cap2|florence-cap3|demo
                --dataset NAME --root ROOT --out FILE [--model PATH_OR_ID] [--split all]
                [--batch-size B] [--device D] [--precision auto|fp32|bf16|fp16] [--workers N]
                [--florence-decoding released|model-card]

``FILE`` is a TSV (``image<TAB>caption``) with the sidecar ``FILE.json``. Running again after a
kill resumes; a cache made with other settings is refused. ``--captioner demo`` copies the demo's
scene descriptions (``ROOT/captions.tsv``, or ``--model FILE``) into the same format: on the demo
they stand in for BLIP.

    d2s caption import FILE --root ROOT --out FILE [--split train] [--split-dir DIR]

imports the authors' released ``train_blip_caption.txt`` (D2S repository, commit 57e2c59) as a
caption cache (captioner ``blip-released``), after checking every name and score against the
IC9600 split (``ROOT/train.txt``, or ``DIR/train.txt`` with ``--split-dir``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    from d2s.text.precision import PRECISIONS
    from d2s.text.prompts import CAPTIONERS, FLORENCE_DECODING, FLORENCE_DECODINGS

    p = subparsers.add_parser(
        "caption",
        help="caption a dataset's images into a resumable caption cache",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Required unless the `import` sub-command is given (checked in run()).
    p.add_argument("--captioner", choices=CAPTIONERS)
    p.add_argument(
        "--model",
        default=None,
        help="hub id or local folder (default: Salesforce/blip-image-captioning-large for blip, "
        "florence-community/Florence-2-large for florence-*); for demo: the captions.tsv to import",
    )
    p.add_argument("--dataset", help="dataset name, e.g. ic9600 (the demo: ic9600)")
    p.add_argument("--root", help="dataset folder in its official layout")
    p.add_argument("--out", help="caption cache TSV (sidecar: OUT.json)")
    p.add_argument("--split", default="all", help="official split, or all (default)")
    p.add_argument("--split-dir", default=None, help="folder of split files (d2s data splits)")
    p.add_argument("--batch-size", type=int, default=16, help="images per batch (default 16)")
    p.add_argument(
        "--device",
        default="auto",
        help="cuda, cuda:N or cpu; auto (default): the GPU, and a stop when there is none "
        "(captioning a dataset on the CPU takes hours: say --device cpu to mean it)",
    )
    p.add_argument("--precision", default="fp32", choices=PRECISIONS)
    p.add_argument("--workers", type=int, default=None, help="image loading workers")
    p.add_argument(
        "--florence-decoding",
        default=FLORENCE_DECODING,
        choices=list(FLORENCE_DECODINGS),
        help="Florence-2 generate arguments: released (the authors' prototype, default) or "
        "model-card (also do_sample=False, early_stopping=False)",
    )
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="load a Florence-2 repository with its own code (microsoft/Florence-2-*)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="show a progress bar with images/s (default: on)",
    )
    p.set_defaults(func=run, caption_parser=p)
    actions = p.add_subparsers(dest="caption_action", metavar="{import}")
    _register_import(actions)


def _register_import(actions: argparse._SubParsersAction) -> None:
    q = actions.add_parser(
        "import",
        help="import the authors' released BLIP captions (train_blip_caption.txt)",
        description="Import the D2S authors' train_blip_caption.txt (D2S repository, commit "
        "57e2c59) as a caption cache, checking every name and score against the IC9600 split.",
    )
    q.add_argument("file", metavar="FILE", help="the released train_blip_caption.txt")
    q.add_argument("--root", required=True, help="IC9600 folder in its official layout")
    q.add_argument("--out", required=True, help="caption cache TSV to write (sidecar: OUT.json)")
    q.add_argument("--split", default="train", help="split the file must fit (default: train)")
    q.add_argument(
        "--split-dir",
        default=None,
        help="folder of split files (d2s data splits) holding SPLIT.txt",
    )
    q.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    from d2s.cli import CLIError
    from d2s.data import DatasetError, load_items
    from d2s.text.cache import CaptionCacheError
    from d2s.text.released import import_released

    _check_out(args.out, [args.file, args.root, args.split_dir])
    try:
        items = load_items("ic9600", args.root, args.split, args.split_dir)
        split_file = Path(args.split_dir or args.root) / f"{args.split}.txt"
        record = import_released(
            args.file,
            items,
            args.out,
            split=str(split_file),
            info={"dataset": "ic9600", "root": str(args.root), "split": args.split},
        )
    except (CaptionCacheError, DatasetError) as err:
        raise CLIError(str(err)) from err
    print(json.dumps(record, indent=2), file=sys.stdout)
    return 0


def run(args: argparse.Namespace) -> int:
    from d2s.cli import CLIError
    from d2s.data import DatasetError, load_items
    from d2s.text.cache import CaptionCacheError

    missing = [
        f"--{key}" for key in ("captioner", "dataset", "root", "out") if not getattr(args, key)
    ]
    if missing:
        args.caption_parser.error("the following arguments are required: " + ", ".join(missing))
    if args.batch_size < 1:
        raise CLIError("--batch-size must be at least 1")
    _check_out(
        args.out, [args.root, args.split_dir, args.model if args.captioner == "demo" else None]
    )
    split = None if args.split == "all" else args.split
    try:
        items = load_items(args.dataset, args.root, split, args.split_dir)
    except DatasetError as err:
        raise CLIError(str(err)) from err
    info = {"dataset": args.dataset, "root": str(args.root), "split": args.split}
    try:
        if args.captioner == "demo":
            from d2s.text.run import import_demo_captions

            source = args.model or Path(args.root) / "captions.tsv"
            record = import_demo_captions(source, items, args.out)
        else:
            record = _caption(args, items, info)
    except (CaptionCacheError, DatasetError) as err:
        raise CLIError(str(err)) from err
    print(json.dumps(record, indent=2), file=sys.stdout)
    return 0


def _caption(args: argparse.Namespace, items, info) -> dict:
    import torch

    from d2s.cli import CLIError
    from d2s.text.run import caption_items, load_captioner

    device = args.device
    if device == "auto":
        if not torch.cuda.is_available():
            from d2s.core.devices import cpu_fallback_reason

            raise CLIError(
                f"--device auto but {cpu_fallback_reason()}; captioning a dataset on the CPU "
                "takes hours. Run `d2s doctor` for the fix, or pass --device cpu to mean it"
            )
        device = "cuda"
    workers = args.workers if args.workers is not None else (4 if device.startswith("cuda") else 0)
    try:
        captioner = load_captioner(
            args.captioner,
            args.model,
            device=device,
            precision=args.precision,
            trust_remote_code=args.trust_remote_code,
            florence_decoding=args.florence_decoding,
        )
    except (OSError, ValueError) as err:
        raise CLIError(f"cannot load captioner {args.captioner!r}: {err}") from err
    return caption_items(
        captioner,
        items,
        args.out,
        batch_size=args.batch_size,
        workers=workers,
        progress=args.progress,
        info=info,
    )


def _check_out(out: str, inputs: list) -> None:
    """The output policy (d2s/core/outputs.py): never an input or into a dataset; an existing caption
    cache (it has its sidecar) is resumed or checked by the command itself."""
    from d2s.core.outputs import check_output
    from d2s.text.cache import sidecar_path

    check_output(
        out,
        command="caption",
        inputs=[path for path in inputs if path],
        ours=lambda path: sidecar_path(path).is_file(),
        hint="an existing caption cache has its sidecar OUT.json; choose a new --out",
    )
