"""D2S (Describe-to-Score): text-guided image-complexity assessment.

Reference reproducibility suite. See README.md and the design notes in docs/design.md (cited as "docs/design.md §N").
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``d2s.load`` (:func:`d2s.scoring.load`) is imported on first use: ``import d2s`` stays light."""
    if name == "load":
        from d2s.scoring import load

        return load
    raise AttributeError(f"module 'd2s' has no attribute {name!r}")
