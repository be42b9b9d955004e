"""The caption cache: one TSV per dataset and captioner, with a JSON sidecar (docs/design.md §1.2).

Format::

    FILE           image<TAB>caption            header, then one row per image, in captioning order
    FILE.json      {"format": "d2s-captions/1", "settings": {...}, "complete": bool, ...}

- The TSV has the same header as the demo's ``captions.tsv`` (``d2s data make-demo``). There is no
  quoting: image names may hold spaces but never a tab or a newline (refused), and captions are
  normalised to one line with single spaces (:func:`~d2s.text.prompts.normalize_caption`).
- ``settings`` records what produced the captions (captioner id, model id, prompts, generation
  settings, precision). A run resumes a cache only when its settings equal the recorded ones.
- Rows are appended in chunks, each flushed and ``fsync``-ed, so a kill loses at most the chunk
  being written. On reopening, a torn last line (no final newline) is cut off and the images
  already there are skipped: every image ends up captioned exactly once.
- ``complete: true`` is written last, atomically (:func:`d2s.core.io.atomic_write_text`), after every
  expected image has a row; readers that need the whole set check it.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from d2s.core.io import atomic_write_text
from d2s.text.prompts import normalize_caption

FORMAT = "d2s-captions/1"
HEADER = ("image", "caption")


class CaptionCacheError(RuntimeError):
    """A caption cache that cannot be used as asked; the message says why and what to do."""


def sidecar_path(path: str | os.PathLike) -> Path:
    """``FILE.json`` beside the caption TSV ``FILE``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def _writer(handle):
    return csv.writer(
        handle, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None, lineterminator="\n"
    )


def _check_name(name: str) -> str:
    if not name or "\t" in name or "\n" in name or "\r" in name:
        raise CaptionCacheError(f"image name {name!r} is empty or holds a tab or newline")
    return name


def _parse_rows(path: Path, lines: list[str], plain: bool = False) -> dict[str, str]:
    """Rows after the header as ``{name: caption}`` in file order; raises on damage. ``plain``:
    a user's TSV, where an empty caption is a mistake (a captioner's empty output is kept)."""
    rows: dict[str, str] = {}
    for number, fields in enumerate(
        csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None), start=2
    ):
        if len(fields) != 2:
            raise CaptionCacheError(f"{path}:{number}: expected 2 tab-separated fields")
        name, caption = fields
        if name in rows:
            raise CaptionCacheError(f"{path}:{number}: image {name!r} appears twice")
        if plain and not caption.strip():
            raise CaptionCacheError(f"{path}:{number}: the caption of {name!r} is empty")
        rows[name] = caption
    return rows


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The sidecar of the caption cache ``path``."""
    side = sidecar_path(path)
    if not side.is_file():
        raise CaptionCacheError(f"{side}: missing; {path} is not a d2s caption cache")
    meta = json.loads(side.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise CaptionCacheError(f"{side}: format {meta.get('format')!r}, expected {FORMAT!r}")
    return meta


def read_captions(path: str | os.PathLike, require_complete: bool = True) -> dict[str, str]:
    """``{image name: caption}`` of a caption cache, in file order.

    With ``require_complete`` (the default) an unfinished cache is refused: a reader never trains
    on half a caption set.
    """
    path = Path(path)
    # Without a sidecar (and only when completeness is not required) the file is read as a
    # plain caption TSV, e.g. the demo's scene descriptions or a user's own captions.
    plain = not require_complete and not sidecar_path(path).is_file()
    if plain and not path.is_file():
        raise CaptionCacheError(f"{path}: caption file not found")
    meta = {} if plain else read_metadata(path)
    if require_complete and not meta.get("complete"):
        raise CaptionCacheError(
            f"{path}: caption cache is not complete (run `d2s caption` again to finish it)"
        )
    text = path.read_text(encoding="utf-8")
    if require_complete and text and not text.endswith("\n"):
        raise CaptionCacheError(f"{path}: last line is torn")
    lines = text.splitlines()
    if text.startswith("\ufeff"):
        raise CaptionCacheError(
            f"{path}: starts with a UTF-8 byte-order mark (BOM); save it as UTF-8 without BOM"
        )
    if not lines or tuple(lines[0].split("\t")) != HEADER:
        raise CaptionCacheError(f"{path}: header must be {'<TAB>'.join(HEADER)!r}")
    end = len(lines) if text.endswith("\n") else len(lines) - 1
    rows = _parse_rows(path, lines[1:end], plain)
    if meta.get("complete") and meta.get("count") != len(rows):
        raise CaptionCacheError(
            f"{path}: {len(rows)} rows but the sidecar records {meta.get('count')}"
        )
    return rows


def _differences(recorded: dict, current: dict) -> list[str]:
    keys = sorted(set(recorded) | set(current))
    return [
        f"{key}: recorded {recorded.get(key)!r}, now {current.get(key)!r}"
        for key in keys
        if recorded.get(key) != current.get(key)
    ]


def _repair(path: Path) -> None:
    """Cut a torn last line (a kill mid-write) so the file ends with a newline."""
    size = path.stat().st_size
    if size == 0:
        return
    with open(path, "rb+") as handle:
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        handle.seek(0)
        data = handle.read()
        handle.truncate(data.rfind(b"\n") + 1)
        handle.flush()
        os.fsync(handle.fileno())


@dataclass
class CaptionCache:
    """An open caption cache: what is done, and the means to append and finish.

    Use :meth:`open` (create or resume), :meth:`append` per batch, :meth:`finish` at the end.
    """

    path: Path
    settings: dict[str, Any]
    done: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    recorded_complete: bool = False

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        settings: dict[str, Any],
        info: dict[str, Any] | None = None,
    ) -> CaptionCache:
        """Create the cache at ``path``, or resume it when its recorded settings equal ``settings``.

        ``settings`` (JSON-serialisable) must match exactly to resume; ``info`` is recorded but
        not compared (e.g. the dataset root). Raises :class:`CaptionCacheError` on a mismatch.
        """
        path = Path(path)
        settings = json.loads(json.dumps(settings))  # the form it takes once recorded
        cache = cls(path, settings, info=dict(info or {}))
        if path.exists():
            meta = read_metadata(path)
            diff = _differences(meta.get("settings", {}), settings)
            if diff:
                raise CaptionCacheError(
                    f"{path} was made with other settings; refusing to mix captions:\n  "
                    + "\n  ".join(diff)
                    + f"\nUse another output file, or delete {path} and {sidecar_path(path)} "
                    "to start over."
                )
            _repair(path)
            if path.stat().st_size == 0:
                cache._write_header()
            cache.done = read_captions(path, require_complete=False)
            cache.recorded_complete = bool(meta.get("complete"))
        else:
            cache._write_sidecar(complete=False)
            cache._write_header()
        return cache

    def _write_header(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "w", encoding="utf-8", newline="") as handle:
            _writer(handle).writerow(HEADER)
            handle.flush()
            os.fsync(handle.fileno())

    def _write_sidecar(self, complete: bool) -> None:
        meta = {
            "format": FORMAT,
            "settings": self.settings,
            "info": self.info,
            "complete": complete,
            "count": len(self.done),
        }
        atomic_write_text(
            json.dumps(meta, indent=2, ensure_ascii=False) + "\n", sidecar_path(self.path)
        )

    def todo(self, names: Iterable[str]) -> list[str]:
        """``names`` not captioned yet, in the given order."""
        return [name for name in names if name not in self.done]

    def append(self, rows: Iterable[tuple[str, str]]) -> None:
        """Append ``(name, caption)`` rows in one chunk: written, flushed and fsync-ed."""
        rows = [(_check_name(name), normalize_caption(caption)) for name, caption in rows]
        for name, _ in rows:
            if name in self.done:
                raise CaptionCacheError(f"{self.path}: image {name!r} is already captioned")
        if not rows:
            return
        if self.recorded_complete:  # growing a finished cache: it is unfinished until finish()
            self._write_sidecar(complete=False)
            self.recorded_complete = False
        with open(self.path, "a", encoding="utf-8", newline="") as handle:
            _writer(handle).writerows(rows)
            handle.flush()
            os.fsync(handle.fileno())
        self.done.update(rows)

    def finish(self, expected: Iterable[str]) -> None:
        """Mark the cache complete once every name in ``expected`` has a caption."""
        missing = [name for name in expected if name not in self.done]
        if missing:
            raise CaptionCacheError(
                f"{self.path}: {len(missing)} image(s) still without caption, e.g. {missing[0]!r}"
            )
        self._write_sidecar(complete=True)
        self.recorded_complete = True


def write_captions(
    path: str | os.PathLike,
    rows: Iterable[tuple[str, str]],
    settings: dict[str, Any],
    info: dict[str, Any] | None = None,
) -> None:
    """Write a whole cache at once (e.g. imported captions), replacing any cache at ``path``."""
    path = Path(path)
    path.unlink(missing_ok=True)
    sidecar_path(path).unlink(missing_ok=True)
    cache = CaptionCache.open(path, settings, info)
    rows = list(rows)
    cache.append(rows)
    cache.finish(name for name, _ in rows)
