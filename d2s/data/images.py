"""Reading images: pixel modes (shared by training, evaluation and scoring), the image policy of
``d2s score``, and expanding command-line paths into image files.

Image policy (what ``d2s score`` reports as a bad file, :class:`ImageError`): missing, unreadable
(permission denied), not an image, corrupt or truncated (Pillow's ``LOAD_TRUNCATED_IMAGES`` stays
off), or more than ``max_pixels`` pixels. The default limit is Pillow's own decompression-bomb
threshold (2 × ``Image.MAX_IMAGE_PIXELS`` ≈ 179 megapixels); the size is checked from the header,
before anything is decoded. ``max_pixels=None`` (``--max-pixels 0``) removes the limit for trusted
files. Greyscale, palette, RGBA/LA (alpha dropped, as in training), CMYK, 1-bit and 16-bit/32-bit
greyscale (``I;16``, ``I``, ``F``: rescaled to 8 bits, not clipped) images are all accepted; the
first frame of an animated file is read.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

#: Pillow raises DecompressionBombError above twice its warning threshold; we use that as default.
DEFAULT_MAX_PIXELS: int = 2 * (Image.MAX_IMAGE_PIXELS or 89_478_485)

#: File name endings that count as images when a folder or glob is expanded (case-insensitive).
#: A file named explicitly is always tried, whatever its name.
IMAGE_SUFFIXES = frozenset(
    ".jpg .jpeg .jpe .jfif .png .bmp .dib .gif .tif .tiff .webp .ppm .pgm .pbm .pnm .tga "
    ".jp2 .j2k .ico .avif".split()
)


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


class ImageError(ValueError):
    """An image that cannot be scored; the message names the file and the reason."""


# --------------------------------------------------------------------------------------------
# reading images


@contextlib.contextmanager
def _pixel_limit_off() -> Iterator[None]:
    """Pillow's global bomb check off while we apply our own limit (header-only, before decode)."""
    before = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = before


def read_image(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Fully decoded 8-bit RGB image at ``path``; :class:`ImageError` naming it otherwise."""
    path = Path(path)
    try:
        with _pixel_limit_off(), Image.open(path) as image:
            width, height = image.size
            if max_pixels and width * height > max_pixels:
                raise ImageError(
                    f"{path}: image too large ({width}×{height} = {width * height:,} pixels, "
                    f"limit {max_pixels:,}; a possible decompression bomb — raise the limit with "
                    "--max-pixels, or 0 for none, if you trust the file)"
                )
            if width < 1 or height < 1:
                raise ImageError(f"{path}: image has no pixels ({width}×{height})")
            image.load()  # full decode here: a truncated file fails now, not later
            return to_rgb(image)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image file") from None
    except PermissionError:
        raise ImageError(f"{path}: cannot read file (permission denied)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file (Pillow cannot identify its format)") from None
    except Image.DecompressionBombError as err:  # defensive: our own check runs first
        raise ImageError(f"{path}: image too large ({err})") from None
    except MemoryError:
        raise ImageError(f"{path}: not enough memory to decode this image") from None
    except Exception as err:  # Pillow raises OSError, SyntaxError, ValueError... for bad data
        raise ImageError(
            f"{path}: cannot decode image, corrupt or truncated ({type(err).__name__}: {err})"
        ) from None


# --------------------------------------------------------------------------------------------
# expanding command-line paths


@dataclass(frozen=True)
class Problem:
    """An input that gave nothing to score: ``path`` as the user wrote it, and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


_GLOB_CHARS = re.compile(r"[*?[]")


def _is_image_name(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


def _walk(folder: Path, problems: list[Problem]) -> list[Path]:
    """Image files under ``folder`` (recursive, sorted, hidden entries skipped)."""
    found: list[Path] = []

    def on_error(err: OSError) -> None:
        where = err.filename or str(folder)
        reason = "permission denied" if isinstance(err, PermissionError) else err.strerror
        problems.append(Problem(str(where), f"cannot read folder ({reason})"))

    for parent, dirs, files in os.walk(folder, onerror=on_error):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and _is_image_name(name):
                found.append(Path(parent) / name)
    return found


def collect_images(inputs: Iterable[str | os.PathLike]) -> tuple[list[Path], list[Problem]]:
    """Expand files, folders (recursively) and glob patterns into image paths.

    A file named explicitly is kept whatever its name (a non-image is reported when read); files
    found in folders or by globs are kept when their suffix is in :data:`IMAGE_SUFFIXES`. Returns
    ``(paths, problems)``: paths in input order (folders and globs sorted), each file once;
    problems for missing paths, unreadable folders, empty folders and globs without match.
    """
    paths: list[Path] = []
    problems: list[Problem] = []
    seen: set[str] = set()

    def add(path: Path) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            paths.append(path)

    for raw in inputs:
        text = os.fspath(raw)
        path = Path(text)
        if path.is_dir():
            before = len(problems)
            found = _walk(path, problems)
            if not found and len(problems) == before:
                problems.append(
                    Problem(text, "folder holds no image files (looked for .jpg, .png, .tif, ...)")
                )
            for item in found:
                add(item)
        elif path.exists() or path.is_symlink():
            add(path)  # a file (or a broken link): read_image says what is wrong with it
        elif _GLOB_CHARS.search(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                problems.append(Problem(text, "no file matches this pattern"))
            hits = 0
            for match in matches:
                match_path = Path(match)
                if match_path.is_dir():
                    for item in _walk(match_path, problems):
                        add(item)
                        hits += 1
                elif _is_image_name(match):
                    add(match_path)
                    hits += 1
            if matches and not hits:
                problems.append(Problem(text, "pattern matches no image files"))
        else:
            problems.append(Problem(text, "no such file or folder"))
    return paths, problems
