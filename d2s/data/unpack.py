"""Unpacking a dataset archive (zip, tar, rar) safely: unsafe members and decompression bombs are
refused before anything is written (used by :mod:`d2s.data.fetch` and :mod:`d2s.data.place`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

from d2s.data.records import DatasetError

#: An archive may unpack to at most this many times its own size (plus :data:`EXPANSION_SLACK`).
#: The datasets are JPEG/PNG (already compressed) or BMP (TID2013, about 3x in gzip), so a larger
#: ratio means padding or a decompression bomb, refused before anything is written.
MAX_EXPANSION = 20
EXPANSION_SLACK = 16 << 20


def unpack_limit(archive: Path) -> int:
    """Most bytes ``archive`` may unpack to (see :data:`MAX_EXPANSION`)."""
    return MAX_EXPANSION * archive.stat().st_size + EXPANSION_SLACK


def _check_size(archive: Path, declared: int) -> None:
    limit = unpack_limit(archive)
    if declared > limit:
        raise DatasetError(
            f"{archive}: unpacks to {declared:,} bytes, more than {MAX_EXPANSION}x its own size "
            f"(limit {limit:,}); refused as padding or a decompression bomb. Re-download the "
            "archive from the dataset's host, or unpack it yourself and place the folder"
        )


def unpack(archive: Path, into: Path, progress: bool = True) -> None:
    """Unpack a zip, tar(.gz) or rar archive into ``into``.

    Refused with :class:`DatasetError` naming the archive: a member that would land outside
    ``into`` or is a link/device (``tarfile``'s ``data`` filter), a corrupt archive, and an archive
    that unpacks to more than :func:`unpack_limit` bytes (checked from the headers, before
    writing; zip members cannot exceed their declared size, tar members are exact).
    """
    from tqdm import tqdm

    into.mkdir(parents=True, exist_ok=True)
    name = archive.name.lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                members = zf.infolist()
                _check_size(archive, sum(m.file_size for m in members))
                for member in tqdm(members, desc=f"unpack {archive.name}", disable=not progress):
                    zf.extract(member, into)  # zipfile strips absolute and '..' parts
        elif name.endswith((".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tar.xz")):
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                _check_size(archive, sum(m.size for m in members if m.isfile()))
                for member in tqdm(members, desc=f"unpack {archive.name}", disable=not progress):
                    tf.extract(member, into, filter="data")  # refuses links, paths out of `into`
        elif name.endswith(".rar"):
            _unrar(archive, into)
            _check_size(archive, sum(p.stat().st_size for p in into.rglob("*") if p.is_file()))
        else:
            raise DatasetError(f"{archive}: unknown archive type")
    except tarfile.FilterError as err:
        raise DatasetError(
            f"{archive}: unsafe member refused ({err}); nothing outside the unpack folder was "
            "written. The archive is not a plain copy of the dataset: re-download it from the "
            "dataset's host"
        ) from None
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as err:
        raise DatasetError(
            f"{archive}: corrupt or truncated archive ({type(err).__name__}: "
            f"{' '.join(str(err).split())}); re-download it"
        ) from None


def _unrar(archive: Path, into: Path) -> None:
    for tool, args in (
        ("bsdtar", ["-xf", str(archive), "-C", str(into)]),
        ("unrar", ["x", "-o+", str(archive), str(into) + os.sep]),
        ("7z", ["x", "-y", f"-o{into}", str(archive)]),
    ):
        if shutil.which(tool):
            subprocess.run([tool, *args], check=True)
            return
    raise DatasetError(f"{archive}: unpacking RAR needs bsdtar, unrar or 7z on PATH")
