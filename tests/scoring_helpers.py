"""Inputs for the ``d2s score`` tests: random images, a bomb's header, the CLI with its CSV read."""

from __future__ import annotations

import csv
import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from d2s.cli import main


def pattern(height: int = 40, width: int = 56, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def save(path: Path, image: Image.Image, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A valid-looking PNG that claims ``width``×``height`` (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def csv_body(text: str) -> str:
    """The CSV of ``d2s score`` without its header line (checked to be there)."""
    first, _, rest = text.partition("\n")
    assert first.startswith("# d2s score v1;"), first
    return rest


def score_cli(argv: list[str], capsys) -> tuple[int, dict[str, float], str]:
    code = main(["score", *argv])
    captured = capsys.readouterr()
    rows = list(csv.reader(io.StringIO(csv_body(captured.out)))) if captured.out else []
    if rows:
        assert rows[0] == ["path", "score"]
    return code, {p: float(s) for p, s in rows[1:]}, captured.err
