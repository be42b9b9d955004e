"""A torch ``Dataset`` over :class:`~d2s.data.records.Item` lists (imports torch: keep it here)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from PIL import Image
from torch.utils.data import Dataset

from d2s.data.images import to_rgb
from d2s.data.records import DatasetError, Item


def open_rgb(item: Item) -> Image.Image:
    """Fully decoded RGB image of ``item``; a missing or corrupt file raises naming the file."""
    try:
        with Image.open(item.path) as image:
            image.load()  # force the decode here, not lazily inside the transform
            return to_rgb(image)  # 16-bit, CMYK, alpha: one conversion everywhere
    except FileNotFoundError:
        raise DatasetError(f"{item.path}: image file missing (item {item.name!r})") from None
    except Exception as err:  # Pillow raises several types for broken files
        raise DatasetError(
            f"{item.path}: cannot decode image (item {item.name!r}; {type(err).__name__}: {err})"
        ) from err


class ImageDataset(Dataset):
    """``(image_tensor, label, index)`` triples; ``label`` is a float32 0-d tensor.

    ``transform`` maps a PIL RGB image to a tensor (e.g. a torchvision pipeline); without one the
    image becomes a float tensor in [0, 1], CHW. ``index`` lets callers find the item again (the
    EAL buffers re-read images by index, docs/design.md §1).
    """

    def __init__(
        self, items: Sequence[Item], transform: Callable[[Image.Image], torch.Tensor] | None = None
    ) -> None:
        self.items = list(items)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        item = self.items[index]
        image = open_rgb(item)
        if self.transform is not None:
            tensor = self.transform(image)
        else:
            import numpy as np

            array = np.asarray(image, dtype=np.float32) / 255.0
            tensor = torch.from_numpy(array).permute(2, 0, 1).contiguous()
        return tensor, torch.tensor(item.label, dtype=torch.float32), index
