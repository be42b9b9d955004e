"""``d2s text-features``: text features and entropies of a caption cache (docs/design.md §1.2).

    d2s text-features --captions FILE --out OUT.pt [--clip-weights TAG|PATH|random]
                      [--cache-dir DIR] [--device D] [--batch-size B]

Writes ``OUT.pt`` (names, captions, features (N, 512), entropies (N,), key, encoder id), built
through :func:`d2s.text.clip.cached_text_features`, whose entries are keyed by the captions and the
encoder: a changed caption or encoder computes anew, an unchanged one is read back.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "text-features",
        help="compute (or reuse) the CLIP text features of a caption cache",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--captions", required=True, help="a complete caption cache (d2s caption)")
    p.add_argument("--out", required=True, help="output .pt file")
    p.add_argument(
        "--clip-weights",
        default="laion2b_s34b_b79k",
        help="open_clip pretrained tag, local checkpoint, or 'random' (offline demo/tests)",
    )
    p.add_argument("--cache-dir", default=None, help="feature cache (default: beside --out)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from d2s.cli import CLIError
    from d2s.core.outputs import check_output
    from d2s.text.cache import CaptionCacheError
    from d2s.text.clip import TextEncoderError, load_text_encoder
    from d2s.text.features import build_text_features

    for out in (args.out, f"{args.out}.json"):
        check_output(
            out,
            command="text-features",
            inputs=[args.captions, f"{args.captions}.json"],
            force=args.force,
            ours=lambda _: _is_features(Path(args.out)),
        )
    pretrained = None if args.clip_weights == "random" else args.clip_weights
    try:
        encoder = load_text_encoder(pretrained=pretrained, device=args.device)
    except TextEncoderError as err:
        raise CLIError(str(err)) from None
    except Exception as err:  # open_clip raises several types for a missing/unreachable tag
        raise CLIError(f"cannot load the text encoder {args.clip_weights!r}: {err}") from err
    try:
        record = build_text_features(
            args.captions,
            args.out,
            encoder,
            cache_dir=args.cache_dir,
            batch_size=args.batch_size,
            progress=args.progress,
        )
    except CaptionCacheError as err:
        raise CLIError(str(err)) from err
    summary = {
        "out": args.out,
        "captions": len(record["names"]),
        "encoder_id": record["encoder_id"],
        "key": record["key"],
    }
    print(json.dumps(summary, indent=2))
    return 0


def _is_features(out: Path) -> bool:
    """Whether ``out`` and its sidecar are this command's (the sidecar's own keys)."""
    import json

    try:
        record = json.loads(Path(f"{out}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and "truncated_at_context" in record
