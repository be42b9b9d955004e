"""Pixel-mode handling shared by training, evaluation and scoring."""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB version of ``image`` for any Pillow mode.

    High-bit-depth greyscale is rescaled rather than clipped (Pillow's own ``convert`` clips
    ``I;16`` to 255, turning most 16-bit images white): ``I;16*`` by 1/257; ``I`` by 1/257 when
    its values fit in 16 bits, else min–max; ``F`` ×255 when in [0, 1], else clipped to 0–255.
    Alpha is dropped (not composited), as ``convert("RGB")`` does in training. Always returns a
    new image (safe to use after ``image`` is closed).
    """
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        array = np.asarray(image).astype(np.float64)
        if mode.startswith("I;16"):
            array = array / 257.0
        elif mode == "I":
            low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 0.0)
            if low >= 0 and high <= 255:
                pass
            elif low >= 0 and high <= 65535:
                array = array / 257.0
            else:
                array = (array - low) / max(high - low, 1.0) * 255.0
        elif array.size and float(np.nanmin(array)) >= 0 and float(np.nanmax(array)) <= 1:
            array = array * 255.0
        array = np.nan_to_num(array, nan=0.0)
        gray = np.clip(np.rint(array), 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if mode == "P" and "transparency" in image.info:
        return image.convert("RGBA").convert("RGB")
    return image.convert("RGB")
