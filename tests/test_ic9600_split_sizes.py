"""IC9600's official split sizes are one fact: 6,720 train / 2,880 test (a 7:3 split; the authors'
released caption file of the training images has 6,720 lines). The cost plan, the loader's
docstring, docs/performance.md (the image caches) and docs/design.md must all state it."""

from __future__ import annotations

from pathlib import Path

import d2s.data.ic9600
from d2s.ops.plan import SPLIT_SIZES

ROOT = Path(__file__).resolve().parents[1]


def test_ic9600_split_sizes_agree_everywhere():
    train, test = SPLIT_SIZES["ic9600"]
    assert (train, test) == (6720, 2880) and train + test == 9600
    texts = {
        "d2s/data/ic9600.py": d2s.data.ic9600.__doc__,
        "docs/performance.md": (ROOT / "docs" / "performance.md").read_text(encoding="utf-8"),
        "docs/design.md": (ROOT / "docs" / "design.md").read_text(encoding="utf-8"),
    }
    for name, text in texts.items():
        assert f"{train:,}" in text and f"{test:,}" in text, name
        assert "7,200" not in text and "7200" not in text, name
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "7,200" not in readme and "7200" not in readme
