"""Negative controls of the text guidance: the training captions with their pairing removed.

D2S claims that the meaning of a caption guides the visual branch. An alignment loss can help as a
regulariser whatever the text says, so the suite trains the same model on captions that carry no
information about their image (docs/design.md §1.4):

- ``shuffled``: each training image gets another training image's caption features, through a
  permutation without fixed points drawn from the run's seed (the multiset of captions, hence the
  distribution of text features and entropies, is unchanged; only the pairing is lost);
- ``constant``: every training image gets one training caption's features (drawn from the seed).

Both re-index the features the run already loaded (the same cache, no new captioning).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from d2s.train.data import Split

#: ``caption_control`` values: ``none`` trains on the real captions.
CAPTION_CONTROLS = ("none", "shuffled", "constant")


def derangement(n: int, seed: int) -> np.ndarray:
    """A permutation ``p`` of ``range(n)`` with ``p[i] != i`` for every ``i``, fixed by ``seed``.

    Seeded uniform permutations are drawn until one has no fixed point (rejection sampling: the
    result is uniform over derangements; a permutation has none with probability about 1/e, so
    about 2.7 draws are needed). numpy's own generator, so torch's training streams are untouched.
    """
    if n < 2:
        raise ValueError(f"a permutation without fixed points needs at least 2 items, got {n}")
    rng = np.random.default_rng(seed)
    while True:
        perm = rng.permutation(n)
        if not (perm == np.arange(n)).any():
            return perm


def control_rows(control: str, n: int, seed: int) -> np.ndarray | None:
    """Row ``i`` of the controlled features is row ``rows[i]`` of the real ones (None: ``none``)."""
    if control == "none":
        return None
    if control == "shuffled":
        return derangement(n, seed)
    if control == "constant":
        return np.full(n, np.random.default_rng(seed).integers(n))
    raise ValueError(f"caption_control must be one of {CAPTION_CONTROLS}, got {control!r}")


def apply_caption_control(split: Split, control: str, seed: int) -> Split:
    """Re-pair the caption features (and entropies) of a training ``split`` under ``control``."""
    if control == "none" or split.text_features is None:
        return split
    from d2s.data import DatasetError

    if control == "shuffled" and len(split.items) < 2:
        raise DatasetError(
            f"caption_control: shuffled needs at least 2 {split.name} images to exchange "
            f"captions, the {split.name} split has {len(split.items)}"
        )
    rows = torch.from_numpy(control_rows(control, len(split.items), seed))
    split.text_features = split.text_features[rows]
    split.text_entropy = split.text_entropy[rows]
    return split
