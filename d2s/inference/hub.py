"""torch.hub entry points (``hubconf.py``): one per scorable model of the table, loading a
checkpoint from a path or an URL whose SHA-256 is checked.

``torch.hub.load(repo, "d2s_r18", checkpoint="best.pt")`` returns a :class:`d2s.inference.scoring.Scorer`
(``.score(paths or tensors)``; ``.module`` is the ``nn.Module``: RGB in [0, 1] at the training
size → scores).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from d2s.inference.scoring import SCORE_CONVENTION, Scorer, load

#: torch.hub's own convention: a file name ending in ``-<first hex digits of its SHA-256>``.
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,64})\.")


def fetch(checkpoint: str | os.PathLike, sha256: str | None = None) -> Path:
    """A local file for ``checkpoint``: a path as it is, an URL downloaded once into the torch
    hub cache. The download's SHA-256 must start with ``sha256`` (or, without it, with the hex
    digits after the last ``-`` of the file name, as ``torch.hub``'s ``check_hash``); a local
    file is checked when ``sha256`` is given."""
    import torch

    text = str(checkpoint)
    if urlparse(text).scheme in ("http", "https", "file"):
        name = Path(urlparse(text).path).name
        expected = sha256 or next(iter(_HASH_IN_NAME.findall(name)[-1:]), None)
        if not expected:
            raise ValueError(
                f"{text}: give sha256=... for a checkpoint URL (or a file name ending in "
                "-<sha256 prefix>, as torch.hub's check_hash)"
            )
        path = Path(torch.hub.get_dir()) / "checkpoints" / name
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(text, str(path), hash_prefix=expected, progress=False)
    else:
        path, expected = Path(text), sha256
    if expected:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if not digest.startswith(expected.lower()):
            raise ValueError(f"{path}: SHA-256 {digest} does not start with {expected}")
    return path


def load_named(
    model: str,
    checkpoint: str | os.PathLike,
    sha256: str | None = None,
    device: str = "cpu",
    **kwargs,
) -> Scorer:
    scorer = load(fetch(checkpoint, sha256), device=device, **kwargs)
    if scorer.name != model:
        raise ValueError(f"{checkpoint}: holds model {scorer.name!r}, not {model!r}")
    return scorer


def entry_point(model: str) -> Callable[..., Scorer]:
    def entry(checkpoint: str, sha256: str | None = None, device: str = "cpu", **kwargs) -> Scorer:
        return load_named(model, checkpoint, sha256, device, **kwargs)

    entry.__name__ = entry.__qualname__ = model.replace("-", "_")
    entry.__doc__ = (
        f"{model}: the scorer of ``checkpoint`` (path or URL; ``sha256``: its hash or a prefix, "
        f"needed for an URL without one in its name). {SCORE_CONVENTION}"
    )
    return entry
