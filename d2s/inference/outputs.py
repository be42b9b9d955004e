"""What ``d2s score`` writes: its CSV (header, resume file) and the per-image complexity maps.

The CSV starts with one comment line that makes it recognisably the suite's own and records
what produced the scores::

    # d2s score v1; model=icnet; image_size=512; decode=cpu; checkpoint_sha256=<64 hex digits>
    path,score
    photos/a.jpg,0.4317...

(read it with ``pandas.read_csv(path, comment="#")``). ``--resume`` appends to
``<out>.partial`` while it runs and renames it to ``<out>`` once every image is done, so a file
under the final name is always complete. A CSV whose first line is not such a header, or
whose checkpoint hash, image size or decoder differ, is never appended to.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from d2s.core.io import atomic_path

#: What a score means and how images get to the model: the one text of the README's scoring
#: section, ``d2s score --help``, the pyiqa metrics and the torch.hub entry points.
SCORE_CONVENTION = (
    "Scores are image complexity in [0, 1], higher = more complex (no-reference). Each image "
    "is converted to 8-bit RGB, resized to the model's training resolution (S x S, PIL "
    "bilinear; 512 for the authors' checkpoints) and normalised with the ImageNet mean and std "
    "inside the model."
)

HEADER_START = "# d2s score v1;"
COLUMNS = ("path", "score")
MAP_FORMATS = {"png": (".png",), "npy": (".npy",), "both": (".png", ".npy")}


class ScoresFileError(ValueError):
    """An existing CSV that a resumed run may not continue; the message names it and why."""


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def header_line(model: str, image_size: int, decode: str, checkpoint_sha256: str) -> str:
    fields = f"model={model}; image_size={image_size}; decode={decode}"
    return f"{HEADER_START} {fields}; checkpoint_sha256={checkpoint_sha256}\n"


def _fields(line: str) -> dict[str, str]:
    parts = (p.strip() for p in line[len(HEADER_START) :].split(";"))
    return dict(p.split("=", 1) for p in parts if "=" in p)


def format_rows(rows: Iterable[tuple[str, str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def csv_text(header: str, rows: Iterable[tuple[str, str]]) -> str:
    return header + format_rows([COLUMNS, *rows])


def write_csv(text: str, out: Path | None) -> None:
    """The CSV's only way out: atomically to ``out``, or to stdout in one piece."""
    import sys

    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")


def partial_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def read_rows(path: Path, header: str) -> list[tuple[str, str]]:
    """The complete rows of a CSV this suite wrote with ``header`` (a torn last line, from a
    killed run, is dropped); :class:`ScoresFileError` for anything else."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ScoresFileError(f"{path}: cannot read it to resume ({err})") from None
    first, _, rest = text.partition("\n")
    if not first.startswith(HEADER_START):
        raise ScoresFileError(
            f"{path}: not a CSV written by d2s score (no '{HEADER_START}' header line); "
            "not appending to it — choose another --out"
        )
    theirs, ours = _fields(first), _fields(header)
    for key in ("checkpoint_sha256", "image_size", "decode", "model"):
        if theirs.get(key) != ours.get(key):
            raise ScoresFileError(
                f"{path}: scored with {key} {theirs.get(key)}, this run has {ours.get(key)}; "
                "a different model never appends — choose another --out"
            )
    complete = rest[: rest.rfind("\n") + 1]
    rows = list(csv.reader(io.StringIO(complete)))
    if rows and tuple(rows[0]) == COLUMNS:
        rows = rows[1:]
    return [(row[0], row[1]) for row in rows if len(row) == 2]


def start_partial(path: Path, header: str, rows: Sequence[tuple[str, str]]):
    """``path`` holding ``header`` and ``rows`` (replaced atomically), open for appending."""
    with atomic_path(path) as tmp:
        tmp.write_text(csv_text(header, rows), encoding="utf-8")
    return open(path, "a", encoding="utf-8", newline="")


def in_input_order(rows: Sequence[tuple[str, str]], paths: Sequence) -> list[tuple[str, str]]:
    """Rows in the order of ``paths`` (rows of other files, from an earlier input, last)."""
    order = {str(p): i for i, p in enumerate(paths)}
    return sorted(rows, key=lambda row: order.get(row[0], len(order)))


# --------------------------------------------------------------------------------------------
# maps


def map_stems(paths: Sequence[Path]) -> list[Path]:
    """Where each image's map goes, relative to ``--maps``: its path below the inputs' common
    folder without the suffix (``a/x.jpg`` → ``a/x``); names that would collide keep their
    suffix (``x.jpg`` and ``x.png`` → ``x.jpg``, ``x.png``)."""
    resolved = [Path(os.path.abspath(p)) for p in paths]
    if not resolved:
        return []
    common = Path(os.path.commonpath([p.parent for p in resolved]))
    relative = [p.relative_to(common) for p in resolved]
    stems = [r.with_suffix("") for r in relative]
    counts: dict[Path, int] = {}
    for stem in stems:
        counts[stem] = counts.get(stem, 0) + 1
    return [r if counts[s] > 1 else s for r, s in zip(relative, stems, strict=True)]


def write_map(cmap, folder: Path, stem: Path, fmt: str) -> list[str]:
    """Write one ``(h, w)`` map in [0, 1] as ``stem.png`` (8-bit grey, round(255·m)) and/or
    ``stem.npy`` (float32); never over an existing file. Returns messages for files skipped."""
    from PIL import Image

    array = np.asarray(cmap, dtype=np.float32)
    problems = []
    for suffix in MAP_FORMATS[fmt]:
        target = folder / stem.parent / (stem.name + suffix)
        if target.exists():
            problems.append(f"{target}: exists, map not written (never overwritten)")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                if suffix == ".npy":
                    np.save(handle, array)
                else:
                    grey = np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)
                    Image.fromarray(grey, mode="L").save(handle, format="PNG")
            os.chmod(tmp, 0o644)
            os.link(tmp, target)  # fails if the target appeared meanwhile: never replaced
        except FileExistsError:
            problems.append(f"{target}: exists, map not written (never overwritten)")
        finally:
            os.unlink(tmp)
    return problems
