"""The two-space ``<name>␠␠<score>`` line format of IC9600's ``train.txt`` / ``test.txt``.

Source: the IC9600 release (GitHub tinglyfeng/IC9600); its own loader splits each line on two spaces
because 229 of the 9,600 file names contain single spaces (docs/design.md §3). The suite writes every split
file it makes in this same format, labels on the [0, 1] scale, so one reader reads them all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from d2s.data.records import DatasetError, parse_float

#: name (may hold single spaces), exactly two spaces, a score without spaces.
_LINE = re.compile(r"^(?P<name>.*\S)  (?P<score>\S+)$")


def read_pairs(path: str | os.PathLike) -> list[tuple[str, float, int]]:
    """Read ``(name, score, line_number)`` from a two-space split file; blank lines are skipped.

    Raises :class:`DatasetError` naming the file and line for a missing file, a line without the
    two-space separator (e.g. one space), a non-numeric score, or a duplicated name.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: missing split file")
    pairs: list[tuple[str, float, int]] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip()  # CRLF and trailing blanks after the score
            if not line.strip():
                continue
            match = _LINE.match(line)
            if match is None:
                raise DatasetError(
                    f"{path}:{number}: malformed line {line!r}: expected '<name>  <score>' "
                    "separated by exactly two spaces"
                )
            name = match["name"]
            if name in seen:
                raise DatasetError(
                    f"{path}:{number}: image {name!r} is listed twice (first on line {seen[name]})"
                )
            seen[name] = number
            pairs.append((name, parse_float(match["score"], path, number), number))
    return pairs


def format_pairs(pairs: Iterable[tuple[str, float]]) -> str:
    """Render ``(name, label)`` pairs as two-space lines; ``repr`` keeps floats round-trip exact."""
    lines = []
    for name, label in pairs:
        if "  " in name or name != name.strip() or "\n" in name:
            raise ValueError(f"name {name!r} cannot be written in the two-space format")
        lines.append(f"{name}  {float(label)!r}")
    return "".join(line + "\n" for line in lines)


def write_pairs(pairs: Iterable[tuple[str, float]], path: str | os.PathLike) -> Path:
    """Write a split file atomically (a reader never sees half of it)."""
    from d2s.core.io import atomic_write_text  # imports torch: only when writing

    atomic_write_text(format_pairs(pairs), path)
    return Path(path)
