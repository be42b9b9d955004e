"""Score your own images with a trained model: ``d2s.load(checkpoint).score(images)``.

Two checkpoint formats load directly (both with ``torch.load(..., weights_only=True)``, so a
downloaded file can never run pickled code):

- the ``best.pt`` written by ``d2s train`` (suite envelope, kind ``"model"``); a run folder that
  holds ``best.pt`` works too;
- the authors' released ``D2S_R18.pth`` / ``D2S_R50.pth``: ``{"model_state": state_dict, ...}``
  whose keys are mapped by :func:`d2s.checkpoint.released_to_suite_keys`.

Inputs and preprocessing (the same as ``d2s evaluate`` and training, docs/design.md §1):

- paths and PIL images are converted to RGB by :func:`to_rgb`, resized to ``image_size``² with
  PIL's bilinear filter (torchvision ``Resize``), turned into ``[0, 1]`` tensors and normalised
  with the ImageNet mean/std inside :class:`ScoringModule`;
- **tensors are taken as RGB in [0, 1]** (``float``; ``uint8`` tensors are read as 0–255), shape
  ``(3, H, W)`` or ``(B, 3, H, W)`` (one channel is repeated to three); they are resized to
  ``image_size``² (bilinear, antialiased) and normalised the same way. Pass ``normalized=True``
  to ``score`` for tensors that are already resized and normalised: they go straight to the model.

Checkpoint formats are read by :func:`d2s.checkpoint.load_scoring_model`; images by
:func:`d2s.data.images.read_image` (its docstring states the image policy, :class:`ImageError`),
and :func:`d2s.data.images.collect_images` expands folders and globs. Tiny images (even 1×1) are
upsampled to the input size.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image
from torch import nn

from d2s.data.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    ImageError,
    Problem,
    collect_images,
    read_image,
    to_rgb,
)
from d2s.inference.batch import ScoredFile
from d2s.inference.outputs import SCORE_CONVENTION
from d2s.inference.preprocess import ImageLike, prepare_image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "SCORE_CONVENTION",
    "IMAGE_SUFFIXES",
    "ImageError",
    "Problem",
    "Scorer",
    "ScoringModule",
    "collect_images",
    "load",
    "prepare_image",
    "read_image",
    "to_rgb",
]


# --------------------------------------------------------------------------------------------
# the model


class ScoringModule(nn.Module):
    """``model`` behind ImageNet normalisation: ``(B, 3, S, S)`` RGB in [0, 1] → scores ``(B,)``.

    This is what ``d2s export`` writes, so an exported file needs only resize + ``/255`` outside.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model((images - self.mean) / self.std).reshape(-1)

    def forward_normalized(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images).reshape(-1)

    @property
    def has_maps(self) -> bool:
        """Whether the model also predicts a complexity map (ICNet, ICCORN: ``forward_maps``)."""
        return hasattr(self.model, "forward_maps")

    def forward_maps(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores ``(B,)`` and maps ``(B, 1, S/8, S/8)`` in [0, 1] (64 × 64 at ICNet's 512²)."""
        scores, maps = self.model.forward_maps((images - self.mean) / self.std)
        return scores.reshape(-1), maps


@dataclass
class Scorer:
    """A trained image-complexity model ready to score images (see the module docstring).

    ``info`` records where the weights came from (format, model name, ignored keys, ...).
    """

    module: ScoringModule
    image_size: int
    device: torch.device
    name: str
    source: str
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> nn.Module:
        """The inference model itself (expects ImageNet-normalised input)."""
        return self.module.model

    def to(self, device: str | torch.device) -> Scorer:
        self.device = torch.device(device)
        self.module.to(self.device)
        return self

    # preprocessing ----------------------------------------------------------------------------
    def prepare(self, image: ImageLike) -> torch.Tensor:
        """One image → ``(3, S, S)`` float tensor in [0, 1] (not yet normalised)."""
        return prepare_image(image, self.image_size, self.max_pixels)

    def prepare_batch(self, images: Sequence[ImageLike]) -> torch.Tensor:
        """Images → ``(B, 3, S, S)`` in [0, 1], ready for an exported model (``d2s export``)."""
        return torch.stack([self.prepare(image) for image in images])

    # scoring ----------------------------------------------------------------------------------
    @torch.inference_mode()
    def score(
        self,
        images: ImageLike | Sequence[ImageLike],
        batch_size: int = 32,
        normalized: bool = False,
    ) -> float | torch.Tensor:
        """Complexity scores in [0, 1].

        A single path, PIL image or ``(3, H, W)`` tensor gives a ``float``; a list, or a
        ``(B, 3, H, W)`` tensor, gives a 1-D float tensor (on the CPU) in input order. A bad path
        raises :class:`ImageError` (``d2s score`` skips it instead).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        single = isinstance(images, (str, os.PathLike, Image.Image)) or (
            isinstance(images, torch.Tensor) and images.dim() == 3
        )
        if isinstance(images, torch.Tensor):
            if images.dim() not in (3, 4):
                raise ValueError(
                    f"expected a (3, H, W) or (B, 3, H, W) tensor, got shape {tuple(images.shape)}"
                )
            batch = images.unsqueeze(0) if images.dim() == 3 else images
            if normalized:
                chunks = [
                    batch[i : i + batch_size].float() for i in range(0, len(batch), batch_size)
                ]
            else:
                chunks = [
                    self.prepare_batch(list(batch[i : i + batch_size]))
                    for i in range(0, len(batch), batch_size)
                ]
        else:
            items = [images] if single else list(images)
            if normalized:
                raise ValueError("normalized=True applies to tensors only")
            chunks = (
                self.prepare_batch(items[i : i + batch_size])
                for i in range(0, len(items), batch_size)
            )
        outputs = [self._forward(chunk, normalized) for chunk in chunks]
        scores = torch.cat(outputs) if outputs else torch.zeros(0)
        return float(scores[0]) if single else scores

    def _forward(self, batch: torch.Tensor, normalized: bool = False) -> torch.Tensor:
        batch = batch.to(self.device, dtype=torch.float32)
        module = self.module
        out = module.forward_normalized(batch) if normalized else module(batch)
        return out.float().cpu()

    @torch.inference_mode()
    def forward_batch(
        self, images: Sequence[torch.Tensor], maps: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """Prepared ``(3, S, S)`` images → CPU scores ``(B,)`` and, with ``maps``, one
        ``(S/8, S/8)`` map per image (``None`` without)."""
        batch = torch.stack([image.to(self.device) for image in images]).float()
        if not maps:
            return self.module(batch).float().cpu(), None
        scores, cmaps = self.module.forward_maps(batch)
        return scores.float().cpu(), list(cmaps.float().cpu()[:, 0])

    @torch.inference_mode()
    def score_paths(
        self,
        paths: Sequence[str | os.PathLike],
        batch_size: int = 32,
        num_workers: int = 0,
        done: frozenset[int] = frozenset(),
        maps: bool = False,
        gpu_decode: bool = False,
    ) -> Iterator[ScoredFile]:
        """``(path, score, None, map)`` or ``(path, None, error message, None)`` per path, in
        order, skipping the indices in ``done``; ``map`` is ``None`` unless ``maps``.

        Bad files are reported, not raised, so a long run is never lost to one broken image.
        Images are decoded by a ``DataLoader`` (``num_workers`` processes, 0 = in this one);
        ``gpu_decode`` decodes JPEGs on a CUDA device (:mod:`d2s.inference.batch`).
        """
        from d2s.inference.batch import score_files

        yield from score_files(self, paths, batch_size, num_workers, done, maps, gpu_decode)


def load(
    checkpoint: str | os.PathLike,
    device: str | torch.device = "cpu",
    image_size: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    num_heads: int = 16,
) -> Scorer:
    """Load a trained model for scoring (see the module docstring for the formats).

    Args:
        checkpoint: ``best.pt`` of ``d2s train`` (or its run folder), or a released
            ``D2S_R18.pth`` / ``D2S_R50.pth``.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, or ``"auto"`` (CUDA when available).
        image_size: input resolution; default: the training resolution recorded in a suite
            checkpoint, 512 for a released one.
        max_pixels: largest image (in pixels) that is decoded; ``None`` for no limit.
        num_heads: AttnPool heads of a released checkpoint (not stored in it; the authors use 16).

    Raises :class:`~d2s.checkpoint.CheckpointError` naming the file when it is missing,
    not a checkpoint, holds pickled code, or is in neither known format.
    """
    from d2s.checkpoint import load_scoring_model

    model, size, name, source, info = load_scoring_model(checkpoint, num_heads)
    if image_size is not None:
        from d2s.train.checks import check_image_size

        check_image_size(int(image_size), "--image-size")  # the same rule as d2s train
        size = int(image_size)
    if str(device) == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
        module = ScoringModule(model).to(device).eval()
    except (RuntimeError, AssertionError) as err:
        raise ValueError(f"device {str(device)!r} is not usable here: {err}") from None
    return Scorer(module, size, device, name, source, max_pixels, info)
