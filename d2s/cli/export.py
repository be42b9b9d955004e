"""``d2s export CHECKPOINT --format torchscript|onnx --out FILE``: a model for inference elsewhere.

The exported model takes ``(B, 3, N, N)`` float RGB in [0, 1] (resized to N², N = the training
resolution) and returns ``(B,)`` scores; ImageNet normalisation is inside (see ``d2s/inference/export.py``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a trained model to TorchScript or ONNX",
        description="Export a trained model (best.pt of d2s train, or a released D2S_R18.pth / "
        "D2S_R50.pth) for inference elsewhere. Input: float32 (B, 3, N, N) RGB in [0, 1], "
        "already resized to N×N; output: (B,) scores. ImageNet normalisation is inside.",
    )
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--format", choices=("torchscript", "onnx"), default="torchscript")
    p.add_argument("--out", "-o", type=Path, required=True, help="output file (.pt / .onnx)")
    p.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="input resolution N (default: the checkpoint's training resolution; 512 released)",
    )
    p.add_argument("--device", default="cpu", help="device to trace on (default cpu)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from d2s.checkpoint import CheckpointError
    from d2s.cli import CLIError
    from d2s.core.outputs import check_output
    from d2s.inference.export import ExportError, export

    check_output(
        args.out, command="export", inputs=[args.checkpoint], force=args.force, ours=is_export
    )
    try:
        meta = export(args.checkpoint, args.out, args.format, args.image_size, args.device)
    except (CheckpointError, ExportError, ValueError) as err:
        raise CLIError(str(err)) from None
    size = meta["image_size"]
    print(
        f"{meta['model']} → {args.out} ({args.format}; input float32 (B, 3, {size}, {size}) "
        "RGB in [0, 1], normalisation inside; output (B,) scores)",
        file=sys.stderr,
    )
    return 0


def is_export(path: Path) -> bool:
    """Whether ``path`` is a model this command exported (TorchScript ``d2s.json`` extra file or
    ONNX metadata, see ``d2s/inference/export.py``)."""
    import zipfile

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return any(name.endswith("/extra/d2s.json") for name in archive.namelist())
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        return any(prop.key == "model" for prop in model.metadata_props)
    except Exception:  # any unreadable file is simply not ours
        return False
