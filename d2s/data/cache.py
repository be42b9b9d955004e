"""Decoded-image cache: each (dataset split, image size) decoded and resized once, shared by runs.

A cache is one uint8 ``.npy`` of shape ``(N, 3, S, S)`` (row i = the i-th source image, PIL-resized
by :func:`d2s.data.torch_dataset.square_resize`, channels first) plus a manifest ``.json`` beside
it naming the source files it was built from (path, byte size, modification time), the size and
the resize method. Runs memory-map the array, so the page cache holds one copy for every run and
loader worker on the machine.

A cache is *current* only when its manifest matches: the same set of source files with the same
sizes and modification times, and the ``.npy`` the manifest recorded (its byte size and mtime). A
changed, added or removed image therefore makes it stale, and :func:`ensure_cache` rebuilds it.
The array is written under a temporary name and renamed when complete, and the manifest is
written after it, so a build killed at any point is never taken as complete: the next run finds
no manifest, or one that does not match the array, and rebuilds (docs/design.md §1).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from d2s.core.io import atomic_path, atomic_write_text
from d2s.data.records import DatasetError, Item

#: spellings of "no cache": YAML reads a bare ``off`` / ``no`` as false, which a key=value word
#: (snakemake, ``--set``) passes on as the string ``False``; taken as a folder, that once created
#: a cache folder named ``False`` in the working directory.
_CACHE_OFF = ("off", "false", "no", "none", "0", "")
_CACHE_ON = ("on", "true", "yes", "1")


def cache_setting(value: Any) -> str:
    """The ``image_cache`` value normalised: ``off`` for every false spelling (the bool ``False``
    included), ``auto`` for true ones, else the folder or ``auto`` as given."""
    if isinstance(value, bool):
        return "auto" if value else "off"
    text = str(value).strip()
    if text.lower() in _CACHE_OFF:
        return "off"
    if text.lower() in _CACHE_ON:
        return "auto"
    return text


#: Bump when the array layout or the resize changes: older caches are then rebuilt.
FORMAT_VERSION = 1
RESIZE_METHOD = "torchvision.transforms.Resize((S, S)) of the PIL RGB image (bilinear)"
DEFAULT_DIR = "resources/cache/images"


def cache_file(
    directory: str | os.PathLike, dataset: str, split: str, size: int, source: str
) -> Path:
    """Where the cache of ``split`` of ``dataset`` (read from ``source``) at ``size`` px lives.

    ``source`` (the dataset root, or the split folder) enters as a short hash, so two copies of a
    dataset, or two split folders, never share a file.
    """
    digest = hashlib.sha256(str(Path(source).resolve()).encode()).hexdigest()[:10]
    safe_split = "".join(c if c.isalnum() or c in "-_" else "_" for c in split)
    return Path(directory) / f"{dataset}-{safe_split}-{size}px-{digest}.npy"


def manifest_path(npy: Path) -> Path:
    return npy.with_suffix(".json")


def source_entries(items: Sequence[Item]) -> list[dict]:
    """What the cache records of each source image: enough to notice a changed file."""
    entries = []
    for item in items:
        try:
            stat = os.stat(item.path)
        except FileNotFoundError:
            raise DatasetError(f"{item.path}: image file missing (item {item.name!r})") from None
        entries.append(
            {
                "path": str(Path(item.path).resolve()),
                "bytes": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
            }
        )
    return entries


def _array_stamp(npy: Path) -> dict:
    stat = npy.stat()
    return {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def stale_reason(npy: Path, items: Sequence[Item], size: int) -> str | None:
    """``None`` when the cache at ``npy`` is current for ``items`` at ``size``, else why not."""
    manifest = manifest_path(npy)
    if not npy.is_file():
        return "no cache yet"
    if not manifest.is_file():
        return "no manifest (a build did not finish)"
    try:
        recorded = json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError):
        return "unreadable manifest"
    expected = {"version": FORMAT_VERSION, "size": size, "resize": RESIZE_METHOD}
    for key, value in expected.items():
        if recorded.get(key) != value:
            return f"manifest {key} {recorded.get(key)!r} is not {value!r}"
    if recorded.get("array") != _array_stamp(npy):
        return "the array is not the one the manifest was written for"
    current = {e["path"]: e for e in source_entries(items)}
    stored = {e["path"]: e for e in recorded.get("sources", [])}
    if current.keys() != stored.keys():
        added, removed = len(current.keys() - stored), len(stored.keys() - current)
        return f"source images changed ({added} added, {removed} removed)"
    changed = [p for p, e in current.items() if e != stored[p]]
    if changed:
        return f"{len(changed)} source image(s) changed, e.g. {changed[0]}"
    return None


class _ResizedArray:
    """Dataset of ``(3, S, S)`` uint8 arrays for the build's loader workers (decode in parallel)."""

    def __init__(self, items: Sequence[Item], size: int) -> None:
        from d2s.data.torch_dataset import square_resize

        self.items, self.resize = list(items), square_resize(size)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> np.ndarray:
        from d2s.data.torch_dataset import open_rgb

        array = np.asarray(self.resize(open_rgb(self.items[index])), dtype=np.uint8)
        return np.ascontiguousarray(array.transpose(2, 0, 1))


def build_cache(
    npy: Path, items: Sequence[Item], size: int, workers: int = 0, progress: bool = False
) -> None:
    """Decode and resize every item into ``npy`` (temporary name, renamed when complete), then
    write the manifest. A file that does not decode stops the build, naming it."""
    import torch
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    sources = source_entries(items)
    manifest_path(npy).unlink(missing_ok=True)  # from here on the old array is not current
    loader = DataLoader(
        _ResizedArray(items, size),
        batch_size=16,
        num_workers=workers,
        collate_fn=np.stack,
    )
    with atomic_path(npy) as tmp:
        array = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=np.uint8, shape=(len(items), 3, size, size)
        )
        row = 0
        with torch.inference_mode():
            bar = tqdm(total=len(items), desc=f"cache {npy.name}", unit="img", disable=not progress)
            for chunk in loader:
                array[row : row + len(chunk)] = chunk
                row += len(chunk)
                bar.update(len(chunk))
            bar.close()
        array.flush()
        del array
    record = {
        "version": FORMAT_VERSION,
        "size": size,
        "resize": RESIZE_METHOD,
        "shape": [len(items), 3, size, size],
        "array": _array_stamp(npy),
        "sources": sources,
    }
    atomic_write_text(json.dumps(record, indent=1), manifest_path(npy))


class ImageCache:
    """A current cache, memory-mapped on first use (lazily, so loader workers each map it)."""

    def __init__(self, npy: Path) -> None:
        self.path = Path(npy)
        record = json.loads(manifest_path(self.path).read_text())
        self.size = int(record["size"])
        self.rows = {e["path"]: i for i, e in enumerate(record["sources"])}
        self._array: np.ndarray | None = None
        self.stale_reason: str | None = None

    def __getstate__(self) -> dict:  # a worker gets the path, not a copy of the array
        return {**self.__dict__, "_array": None}

    @property
    def array(self) -> np.ndarray:
        if self._array is None:
            self._array = np.load(self.path, mmap_mode="r")
        return self._array

    @property
    def nbytes(self) -> int:
        return len(self.rows) * 3 * self.size * self.size

    def rows_of(self, items: Sequence[Item]) -> np.ndarray:
        """Row of each item (items may be a subset, e.g. a validation carve-out of train)."""
        try:
            return np.array(
                [self.rows[str(Path(item.path).resolve())] for item in items], dtype=np.int64
            )
        except KeyError as err:
            raise DatasetError(f"{self.path}: image {err.args[0]} is not in this cache") from None


def ensure_cache(
    npy: Path, items: Sequence[Item], size: int, workers: int = 0, progress: bool = False
) -> tuple[ImageCache, bool]:
    """The current cache at ``npy`` for ``items``, building it first when missing or stale.

    Returns ``(cache, built)``; ``built`` says the images were decoded now (so every one decodes).
    """
    reason = stale_reason(npy, items, size)
    if reason is not None:
        if progress:
            print(f"{npy}: building the image cache ({reason})")
        build_cache(npy, items, size, workers=workers, progress=progress)
    cache = ImageCache(npy)
    cache.stale_reason = reason  # why it was (re)built now; None when it was current
    return cache, reason is not None
