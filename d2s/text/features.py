"""The text-feature file of a caption cache: what training reads instead of running CLIP.

docs/design.md §1.2: the text encoder is frozen and the captions are fixed, so every caption's text feature
and text entropy (Eq. 12) are constants, computed once. :func:`build_text_features` reads a
complete caption cache, gets features and entropies through :func:`d2s.text.clip.cached_text_features`
(keyed by a hash of the captions and the encoder id, so a changed caption or encoder recomputes),
and saves them at a path the workflow chooses, with the image names in the same order::

    {"format": "d2s-text-features/1", "names": [...], "captions": [...],
     "features": float32 (N, 512), "entropy": float32 (N,), "key": sha256, "encoder_id": str,
     "captions_file": str, "caption_settings": {...}}

Training looks a caption up by image name (:func:`load_text_features`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

FORMAT = "d2s-text-features/1"


def build_text_features(
    captions_file: str | os.PathLike,
    out: str | os.PathLike,
    encoder,
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = 256,
    progress: bool = True,
) -> dict[str, Any]:
    """Embed every caption of the (complete) cache ``captions_file`` and save the result at ``out``.

    ``encoder`` is a :class:`d2s.text.clip.FrozenTextEncoder`; ``cache_dir`` (default: a
    ``.text-feature-cache`` folder beside ``out``) holds the content-addressed entries of
    :func:`d2s.text.clip.cached_text_features`. Returns the saved record.
    """
    import json

    from d2s.core.io import atomic_save, atomic_write_text
    from d2s.text.cache import read_captions, read_metadata
    from d2s.text.clip import cached_text_features, captions_key

    out = Path(out)
    rows = read_captions(captions_file, require_complete=True)
    names, captions = list(rows), list(rows.values())
    cache_dir = Path(cache_dir) if cache_dir is not None else out.parent / ".text-feature-cache"
    result = cached_text_features(
        captions, encoder, cache_dir, batch_size=batch_size, progress=progress
    )
    record = {
        "format": FORMAT,
        "names": names,
        "captions": captions,
        "features": result["features"],
        "entropy": result["entropy"],
        "key": captions_key(captions, encoder.encoder_id),
        "encoder_id": encoder.encoder_id,
        "captions_file": str(captions_file),
        "caption_settings": read_metadata(captions_file)["settings"],
        "truncated": encoder.count_truncated(captions),
    }
    atomic_save(record, out)
    # A readable sidecar: how many captions CLIP's 77-token context cut (about 1% of the authors'
    # released BLIP captions are longer).
    summary = {
        "captions": len(captions),
        "truncated_at_context": record["truncated"],
        "encoder_id": encoder.encoder_id,
        "captions_file": str(captions_file),
    }
    atomic_write_text(json.dumps(summary, indent=2) + "\n", Path(f"{out}.json"))
    return record


def load_text_features(path: str | os.PathLike) -> dict[str, Any]:
    """A text-feature file written by :func:`build_text_features`, with ``index`` (name → row).

    Raises :class:`~d2s.text.cache.CaptionCacheError` naming the file when it is missing, not
    loadable with ``weights_only=True`` (nothing pickled runs), or not in this format.
    """
    from d2s.checkpoint import CheckpointError, safe_torch_load
    from d2s.text.cache import CaptionCacheError

    remake = "rebuild it with 'd2s text-features --captions CAPTIONS.tsv --out FILE.pt'"
    if not Path(path).is_file():
        raise CaptionCacheError(f"{path}: text-feature file not found; {remake}")
    try:
        record = safe_torch_load(path, "text features")
    except CheckpointError as err:
        raise CaptionCacheError(f"{err}; {remake}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        found = record.get("format") if isinstance(record, dict) else type(record).__name__
        raise CaptionCacheError(
            f"{path}: not a d2s text-feature file (format {found!r}, expected {FORMAT!r}); {remake}"
        )
    names, features, entropy = record.get("names"), record.get("features"), record.get("entropy")
    n = len(names) if isinstance(names, list) else -1
    if not (
        n >= 0
        and getattr(features, "shape", None) is not None
        and features.ndim == 2
        and features.shape[0] == n
        and getattr(entropy, "shape", None) == (n,)
    ):
        raise CaptionCacheError(
            f"{path}: damaged text-feature file (names, features and entropy do not line up); "
            + remake
        )
    record["index"] = {name: row for row, name in enumerate(names)}
    return record
