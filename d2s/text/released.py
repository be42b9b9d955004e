"""The authors' released BLIP captions of IC9600's training images, as a caption cache.

Source of the format: ``train_blip_caption.txt`` in the D2S repository at commit 57e2c59
(docs/design.md §1.3). One line per training image (6,720 lines)::

    <image name>␣␣<score>␣␣<caption>␣

- two spaces between fields; a name may hold single spaces
  (``objects_wine glass_COCO_train2014_….jpg``) and may end in ``.png``;
- the score is the float32 label printed as a Python float (``0.6911764740943909``), so it matches
  the split's label to about 1e-7, not exactly;
- the caption is four lower-case BLIP outputs, each with its prefix and each followed by ``". "``,
  so the line ends with a space; the authors' reader strips the line, leaving a caption that ends
  with ``.``. BLIP artefacts (``man ' s``, repeated words) are kept verbatim: they are what the
  paper's text encoder saw.

:func:`parse_released` and :func:`check_against_split` are pure (text in, rows and problems out);
:func:`import_released` reads the file, refuses it naming every bad line or name, and only then
writes the cache, so a refused import leaves no output behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from d2s.text.cache import CaptionCacheError, read_metadata, sidecar_path, write_captions

#: Recorded as the cache's captioner: captions made by the authors' BLIP run, not by this suite.
CAPTIONER = "blip-released"
#: The released scores are float32 labels printed in double precision (error below 1e-7).
SCORE_TOLERANCE = 1e-6
#: How many problems an error message lists before summarising the rest as a count.
SHOWN_PROBLEMS = 20

# Name up to the first two-space gap that is followed by a number and another two-space gap.
_LINE = re.compile(r"^(?P<name>\S.*?)  (?P<score>[-+0-9.eE]+)  (?P<caption>\S.*)$")


class ReleasedCaptionError(CaptionCacheError):
    """The released caption file does not fit the split; the message names every problem."""


@dataclass(frozen=True)
class ReleasedCaption:
    """One line of ``train_blip_caption.txt`` (``line`` is 1-based, as editors count)."""

    name: str
    score: float
    caption: str
    line: int


def parse_released(text: str, source: str = "train_blip_caption.txt"):
    """``(rows, problems)`` of the released file's ``text``; blank lines are skipped.

    Each line is stripped first (as the authors' reader does), so the caption ends with ``.``.
    ``problems`` names each malformed line, bad score and repeated name as ``source:line: …``.
    """
    rows: list[ReleasedCaption] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            problems.append(
                f"{source}:{number}: malformed line {line[:80]!r}: expected "
                "'<name>  <score>  <caption>' separated by two spaces"
            )
            continue
        name = match["name"]
        try:
            score = float(match["score"])
        except ValueError:
            problems.append(f"{source}:{number}: {name!r}: score {match['score']!r} is no number")
            continue
        if name in first_line:
            problems.append(
                f"{source}:{number}: {name!r} appears twice (first on line {first_line[name]})"
            )
            continue
        first_line[name] = number
        rows.append(ReleasedCaption(name, score, match["caption"], number))
    return rows, problems


def check_against_split(
    rows: Sequence[ReleasedCaption],
    labels: Mapping[str, float],
    source: str = "train_blip_caption.txt",
    split: str = "the train split",
    tolerance: float = SCORE_TOLERANCE,
) -> list[str]:
    """Problems: each row whose name is not in ``labels`` or whose score differs by > ``tolerance``."""
    problems = []
    for row in rows:
        if row.name not in labels:
            problems.append(f"{source}:{row.line}: {row.name!r} is not in {split}")
        elif abs(row.score - labels[row.name]) > tolerance:
            problems.append(
                f"{source}:{row.line}: {row.name!r} has score {row.score!r}, "
                f"but {split} gives {labels[row.name]!r}"
            )
    return problems


def _refusal(source: Path, problems: list[str]) -> str:
    shown = problems[:SHOWN_PROBLEMS]
    more = len(problems) - len(shown)
    tail = [f"… and {more} more"] if more else []
    return f"{source}: refused, {len(problems)} problem(s); nothing was written:\n  " + "\n  ".join(
        shown + tail
    )


def import_released(
    source: str | os.PathLike,
    items: Sequence,
    out: str | os.PathLike,
    split: str = "the train split",
    info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``source`` (the released file) as the caption cache ``out``, in the file's order.

    ``items`` (:class:`d2s.data.Item`) are the split the file must fit: every name must be one of
    them and every score its label within :data:`SCORE_TOLERANCE`; otherwise
    :class:`ReleasedCaptionError` lists the problems and nothing is written. Split items the file
    does not cover are counted in the returned record, not refused (the dataset's own
    ``train.txt`` holds the 480 validation images too). An ``out`` that is already this import is
    kept as is; any other existing ``out`` is refused, never overwritten.
    """
    source, out = Path(source), Path(out)
    if not source.is_file():
        raise ReleasedCaptionError(
            f"{source}: not found (train_blip_caption.txt from the D2S repository)"
        )
    data = source.read_bytes()
    try:
        text = data.decode("utf-8-sig")  # a BOM, if an editor added one, is no part of a name
    except UnicodeDecodeError as err:
        raise ReleasedCaptionError(f"{source}: not UTF-8 text ({err})") from err
    rows, problems = parse_released(text, str(source))
    labels = {item.name: float(item.label) for item in items}
    problems += check_against_split(rows, labels, str(source), split)
    if not rows and not problems:
        problems.append(f"{source}: no caption lines")
    if problems:
        raise ReleasedCaptionError(_refusal(source, problems))
    settings = {
        "captioner": CAPTIONER,
        "model": "Salesforce/blip-image-captioning-large, run by the D2S authors (commit 57e2c59)",
        "source_sha256": hashlib.sha256(data).hexdigest(),
    }
    covered = {row.name for row in rows}
    record = {
        "out": str(out),
        "images": len(rows),
        "split_items_without_caption": sum(name not in covered for name in labels),
        "settings": settings,
    }
    if out.exists() or sidecar_path(out).exists():
        try:
            meta = read_metadata(out)
        except (CaptionCacheError, json.JSONDecodeError):
            meta = {}
        if meta.get("settings") != settings:
            raise ReleasedCaptionError(
                f"{out} already exists and is not an import of {source}; "
                "choose another --out (nothing was overwritten)"
            )
        if meta.get("complete") and out.is_file():
            return {**record, "already_imported": True}
        # Otherwise an import of this very file was killed mid-write: written again below.
    write_captions(
        out,
        [(row.name, row.caption) for row in rows],
        settings,
        {"source": str(source), **(info or {})},
    )
    return {**record, "already_imported": False}
