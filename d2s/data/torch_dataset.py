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


def square_resize(size: int) -> Callable[[Image.Image], Image.Image]:
    """The one resize of every image path: PIL bilinear to ``size``², as ``transforms.Resize``.

    The training transform and the decoded-image cache (:mod:`d2s.data.cache`) both use it, so a
    cached image is the bytes the PIL path would have resized (docs/design.md §1).
    """
    from torchvision import transforms

    return transforms.Resize((size, size))


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


class CachedImageDataset(Dataset):
    """:class:`ImageDataset`'s triples read from a decoded-image cache (:mod:`d2s.data.cache`).

    ``transform`` maps the cached ``(3, S, S)`` uint8 tensor to the model input (e.g.
    :func:`d2s.train.data.cached_image_transform`); no file is opened or decoded.
    """

    def __init__(self, cache, items: Sequence[Item], transform: Callable | None = None) -> None:
        self.cache = cache
        self.items = list(items)
        self.rows = cache.rows_of(self.items)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        import numpy as np

        # np.array copies the row out of the read-only memory map (torch wants writable memory)
        image = torch.from_numpy(np.array(self.cache.array[self.rows[index]]))
        if self.transform is not None:
            image = self.transform(image)
        label = torch.tensor(self.items[index].label, dtype=torch.float32)
        return image, label, index
