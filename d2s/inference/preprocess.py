"""One image (path, PIL image or tensor) → the model's input tensor, as :mod:`d2s.inference.scoring`
states the convention; shared by :class:`~d2s.inference.scoring.Scorer` and the batch scorer."""

from __future__ import annotations

import os

import torch
from PIL import Image

from d2s.data.images import DEFAULT_MAX_PIXELS, read_image, to_rgb

ImageLike = str | os.PathLike | Image.Image | torch.Tensor


def prepare_image(
    image: ImageLike, size: int, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> torch.Tensor:
    """One image → ``(3, size, size)`` float tensor, RGB in [0, 1] (not yet normalised).

    Paths are read with :func:`read_image`; PIL images are resized with PIL's bilinear filter
    (exactly torchvision's ``Resize`` on PIL images, as in training); tensors follow the
    convention of the module docstring and are resized bilinearly with antialiasing.
    """
    from torchvision.transforms import functional as TF

    if isinstance(image, (str, os.PathLike)):
        image = read_image(image, max_pixels)
    if isinstance(image, Image.Image):
        resized = to_rgb(image).resize((size, size), Image.Resampling.BILINEAR)
        return TF.to_tensor(resized)
    if isinstance(image, torch.Tensor):
        tensor = _as_unit_chw(image)
        if tuple(tensor.shape[-2:]) != (size, size):
            tensor = TF.resize(tensor, [size, size], antialias=True)
        return tensor
    raise TypeError(f"cannot score a {type(image).__name__}: pass a path, a PIL image or a tensor")


def _as_unit_chw(tensor: torch.Tensor) -> torch.Tensor:
    """``(C, H, W)`` tensor → float RGB in [0, 1] (uint8 read as 0–255, 1 channel repeated)."""
    if tensor.dim() != 3:
        raise ValueError(f"expected an image tensor (3, H, W), got shape {tuple(tensor.shape)}")
    if tensor.shape[0] == 1:
        tensor = tensor.expand(3, -1, -1)
    if tensor.shape[0] != 3:
        raise ValueError(
            f"expected 1 or 3 channels (RGB, channels first), got shape {tuple(tensor.shape)}"
        )
    if tensor.dtype == torch.uint8:
        return tensor.float() / 255.0
    if not tensor.is_floating_point():
        raise ValueError(f"expected a float (RGB in [0, 1]) or uint8 tensor, got {tensor.dtype}")
    return tensor.float()
