"""Scoring many files: decoding in ``DataLoader`` workers, resuming, maps, GPU JPEG decoding.

:meth:`d2s.inference.scoring.Scorer.score_paths` runs :func:`score_files`. Batches are always the same
slices of the input list (``[0, B)``, ``[B, 2B)``, …) whatever has been scored before, and a
batch is run whole when any of its files is still to be scored: a resumed run feeds the model
exactly the batches of an uninterrupted one, so its scores are bit for bit the same.

GPU decoding (``gpu_decode``): workers read the file bytes and check the header (the same image
policy and pixel limit as :func:`d2s.data.images.read_image`); JPEGs are decoded on the GPU with
``torchvision.io.decode_jpeg(device="cuda")`` and resized there (bilinear, antialiased), every
other file as usual on the CPU. Its scores differ slightly from PIL's resize (docs/scoring.md,
"GPU decoding").
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import torch
from PIL import Image

from d2s.data.images import ImageError
from d2s.inference.preprocess import prepare_image

JPEG_MAGIC = b"\xff\xd8\xff"


class ScoredFile(NamedTuple):
    """One input's result: its score (or the error message) and, when asked, its map."""

    path: Path
    score: float | None
    error: str | None
    map: torch.Tensor | None = None


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def auto_workers(n_files: int, batch_size: int, device_type: str = "cpu") -> int:
    """``--workers auto``: every core between decoding and the model. With the model on a GPU
    every core decodes; on the CPU half of them do and the model's threads get the other half
    (:func:`model_threads`), as decoding processes and an oversubscribed model slow each other
    down many times over. Never more processes than batches (a handful of files starts none)."""
    cores = usable_cores()
    batches = -(-n_files // batch_size)
    wanted = cores if device_type == "cuda" else max(1, cores // 2)
    return 0 if batches <= 1 else min(wanted, batches)


def model_threads(workers: int) -> int:
    """Torch threads of the scoring process on the CPU next to ``workers`` decoding processes."""
    return max(1, usable_cores() - workers)


class PathDataset(torch.utils.data.Dataset):
    """``(index, tensor or JPEG bytes, error)`` per path; a bad file gives its message instead."""

    def __init__(self, paths: list, size: int, max_pixels: int | None, raw_jpeg: bool) -> None:
        self.paths, self.size, self.max_pixels, self.raw_jpeg = paths, size, max_pixels, raw_jpeg

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | bytes | None, str | None]:
        path = Path(self.paths[index])
        try:
            if self.raw_jpeg:
                data = path.read_bytes() if path.is_file() else b""
                if data.startswith(JPEG_MAGIC) and _jpeg_header_ok(path, self.max_pixels):
                    return index, data, None
            return index, prepare_image(path, self.size, self.max_pixels), None
        except ImageError as err:
            return index, None, str(err)


def _jpeg_header_ok(path: Path, max_pixels: int | None) -> bool:
    """A plain 8-bit RGB/greyscale JPEG within the pixel limit (else the CPU path decides)."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            plain = image.mode in ("RGB", "L")
    except Exception:
        return False
    return plain and not (max_pixels and width * height > max_pixels)


def decode_on_device(blobs: list[bytes], size: int, device: torch.device) -> list[torch.Tensor]:
    from torchvision.io import ImageReadMode, decode_jpeg
    from torchvision.transforms import functional as TF

    encoded = [torch.frombuffer(bytearray(blob), dtype=torch.uint8) for blob in blobs]
    images = decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device)
    return [TF.resize(img.float() / 255.0, [size, size], antialias=True) for img in images]


def score_files(
    scorer,
    paths: Sequence[str | os.PathLike],
    batch_size: int = 32,
    num_workers: int = 0,
    done: frozenset[int] = frozenset(),
    maps: bool = False,
    gpu_decode: bool = False,
) -> Iterator[ScoredFile]:
    """Every input whose index is not in ``done``, in order (see the module docstring)."""
    from torch.utils.data import DataLoader

    paths = list(paths)
    batches = [
        list(range(start, min(start + batch_size, len(paths))))
        for start in range(0, len(paths), batch_size)
    ]
    batches = [batch for batch in batches if any(i not in done for i in batch)]
    if not batches:
        return
    raw_jpeg = gpu_decode  # decoded on scorer.device (``d2s score`` allows CUDA only)
    loader = DataLoader(
        PathDataset(paths, scorer.image_size, scorer.max_pixels, raw_jpeg),
        batch_sampler=batches,
        num_workers=num_workers,
        collate_fn=list,
        pin_memory=scorer.device.type == "cuda",
    )
    for rows in loader:
        if raw_jpeg:
            rows = decode_jpegs(rows, paths, scorer)
        good = [row for row in rows if row[1] is not None]
        scores, cmaps = scorer.forward_batch([row[1] for row in good], maps) if good else ([], [])
        if cmaps is None:
            cmaps = [None] * len(good)
        by_index = {row[0]: (float(s), m) for row, s, m in zip(good, scores, cmaps, strict=True)}
        for index, _, error in rows:
            if index in done:
                continue
            if error is None:
                score, cmap = by_index[index]
                yield ScoredFile(Path(paths[index]), score, None, cmap)
            else:
                yield ScoredFile(Path(paths[index]), None, error)


def decode_jpegs(rows: list, paths: list, scorer) -> list:
    """Rows with JPEG bytes decoded on ``scorer.device`` (nvJPEG on CUDA); a file the decoder
    refuses goes the PIL way, and is reported if that fails too."""
    blobs = [row for row in rows if isinstance(row[1], bytes)]
    if not blobs:
        return rows
    try:
        decoded = dict(
            zip(
                [r[0] for r in blobs],
                decode_on_device([r[1] for r in blobs], scorer.image_size, scorer.device),
                strict=True,
            )
        )
    except RuntimeError:
        decoded = {}
        for index, blob, _ in blobs:
            try:
                decoded[index] = decode_on_device([blob], scorer.image_size, scorer.device)[0]
            except RuntimeError:
                try:
                    decoded[index] = scorer.prepare(Path(paths[index]))
                except ImageError as err:
                    decoded[index] = str(err)
    out = []
    for index, item, error in rows:
        item = decoded.get(index, item)
        out.append((index, None, item) if isinstance(item, str) else (index, item, error))
    return out
