"""D2S (Describe-to-Score): text-guided image-complexity assessment.

Reference reproducibility suite. See README.md, docs/architecture.md for the package layers and
docs/design.md for the method (cited as "docs/design.md §N").
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def load(checkpoint: Any, *args: Any, **kwargs: Any) -> Any:
    """:func:`d2s.inference.scoring.load`: a checkpoint → a :class:`~d2s.inference.scoring.Scorer`.

    Imported when called, so ``import d2s`` (and every CLI start) does not import torch.
    """
    from d2s.inference.scoring import load as load_scorer

    return load_scorer(checkpoint, *args, **kwargs)
