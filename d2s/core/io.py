"""Atomic file writes: a reader never sees a half-written output under its final name.

A write that fails because the disk is full raises :class:`DiskFull`, one line naming the device
and about how much the file needs (torch's own error for it is ``unexpected pos``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


class DiskFull(OSError):
    """No space left for an output; the message names the device and the space needed."""


def mount_point(path: Path) -> Path:
    """The mount point of the file system holding ``path`` (the "device" users know)."""
    path = path.resolve()
    while not path.exists():
        path = path.parent
    device = path.stat().st_dev
    while path != path.parent and path.parent.stat().st_dev == device:
        path = path.parent
    return path


def _disk_full(err: BaseException, folder: Path, needed: int) -> bool:
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(err)
    torch_write_failed = "unexpected pos" in text or "failed writing" in text
    return isinstance(err, RuntimeError) and (
        "No space left" in text
        or (torch_write_failed and shutil.disk_usage(folder).free < max(needed, 1 << 20))
    )


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, size_hint: int = 0) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``.

    On error the temporary file is removed and ``path`` is left as it was. ``size_hint``: about
    how many bytes the file takes, for the message when the disk is full.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates owner-only files; give the output the permissions a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        tmp_path.chmod(0o666 & ~umask)
        os.replace(tmp_path, path)
    except (OSError, RuntimeError) as err:
        if isinstance(err, DiskFull) or not _disk_full(err, path.parent, size_hint):
            raise
        needed = max(size_hint, tmp_path.stat().st_size if tmp_path.exists() else 0)
        raise DiskFull(
            errno.ENOSPC,
            f"{path}: no space left on {mount_point(path.parent)}, needs about "
            f"{max(1, round(needed / 2**20))} MB (free: {shutil.disk_usage(path.parent).free // 2**20}"
            " MB); free some space and run the command again",
        ) from None
    finally:
        tmp_path.unlink(missing_ok=True)


def atomic_save(obj, path: str | os.PathLike) -> None:
    """``torch.save`` that never leaves a partial file at ``path``."""
    import torch  # here, so that importing d2s.core.io stays cheap for the data commands

    with atomic_path(path, _tensor_bytes(obj)) as tmp:
        torch.save(obj, tmp)


def _tensor_bytes(obj) -> int:
    """Bytes of the tensors in a nested checkpoint (about its size on disk)."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_tensor_bytes(v) for v in obj)
    return 0


def atomic_write_text(text: str, path: str | os.PathLike) -> None:
    with atomic_path(path, len(text.encode("utf-8"))) as tmp:
        tmp.write_text(text, encoding="utf-8")
