"""What a run reads: its splits, image transforms, and the caption features aligned to items."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision import transforms

from d2s.data import DatasetError, Item, load_items
from d2s.data.splits import carve_validation
from d2s.train.config import TrainConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def image_transform(size: int, train: bool, hflip: bool = True) -> transforms.Compose:
    """Resize to ``size``², random horizontal flip when training, ImageNet normalisation."""
    from d2s.data.torch_dataset import square_resize

    steps: list = [square_resize(size)]
    if train and hflip:
        steps.append(transforms.RandomHorizontalFlip())
    steps += [transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    return transforms.Compose(steps)


def cached_image_transform(train: bool, hflip: bool = True) -> transforms.Compose:
    """:func:`image_transform` for an image already resized (a ``(3, S, S)`` uint8 tensor from
    :mod:`d2s.data.cache`): the same flip draw, ``to_tensor``'s ``/ 255`` and the same
    normalisation, so the result is bitwise that of the PIL path."""
    steps: list = []
    if train and hflip:
        steps.append(transforms.RandomHorizontalFlip())
    # in place on the fresh float tensor: the same arithmetic, ~10x less time than new tensors
    steps += [uint8_to_unit_float, transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD, inplace=True)]
    return transforms.Compose(steps)


def uint8_to_unit_float(image: torch.Tensor) -> torch.Tensor:
    """``uint8`` → float in [0, 1], the arithmetic of ``transforms.ToTensor`` (divide by 255)."""
    if image.dtype != torch.uint8:
        raise TypeError(f"expected a uint8 image tensor, got {image.dtype}")
    return image.to(dtype=torch.get_default_dtype()).div_(255)  # a new tensor: safe in place


def normalize_batch(images: torch.Tensor) -> torch.Tensor:
    """``(B, 3, S, S)`` uint8 → normalised float, elementwise as :func:`cached_image_transform`
    (the GPU-resident cache's batched form of it)."""
    mean = torch.as_tensor(IMAGENET_MEAN, dtype=torch.get_default_dtype(), device=images.device)
    std = torch.as_tensor(IMAGENET_STD, dtype=torch.get_default_dtype(), device=images.device)
    return uint8_to_unit_float(images).sub_(mean.view(1, -1, 1, 1)).div_(std.view(1, -1, 1, 1))


def read_captions(path: str | Path) -> dict[str, str]:
    """Caption TSV (header ``image<TAB>caption``) → ``{image name: caption}``.

    A caption cache written by ``d2s caption`` (it has a ``.json`` sidecar) must be complete; a
    plain TSV without a sidecar (the demo's scene descriptions, a user's captions) is read as is.
    """
    from d2s.text.cache import read_captions as read_cache
    from d2s.text.cache import sidecar_path

    return read_cache(path, require_complete=sidecar_path(path).is_file())


@dataclass
class Split:
    """Items of one split and, when the run uses text, their caption features (row i ↔ item i)."""

    name: str
    items: list[Item]
    text_features: torch.Tensor | None = None
    text_entropy: torch.Tensor | None = None


def load_split_items(config: TrainConfig, split: str) -> list[Item]:
    if config.split_dir:
        return load_items(config.dataset, config.root, split, split_dir=config.split_dir)
    return load_items(config.dataset, config.root, split)


def split_source(config: TrainConfig, split: str) -> str:
    """The file a split comes from, for messages: the split file, or the dataset's own list."""
    if config.split_dir:
        return str(Path(config.split_dir) / f"{split}.txt")
    own = Path(config.root) / f"{split}.txt"
    return str(own) if own.is_file() else f"{config.root} ({split} split)"


def require_items(config: TrainConfig, split: str, items: list[Item]) -> list[Item]:
    if not items:
        raise DatasetError(
            f"{split_source(config, split)}: the {split} split is empty; every split of a run "
            "needs at least one image (check the file, or the split_dir / *_split keys)"
        )
    return items


def check_splits(config: TrainConfig, train: list[Item], selection: list[Item] | None) -> None:
    """Refuse, before any training, an empty split or an image in two splits (as inspect does).

    The test split is read here for its names only: under ``select: val`` its labels stay unused
    until the end of the run.
    """
    from d2s.data.validate import check_disjoint

    splits = {config.train_split: train}
    if selection is not None:
        splits[config.val_split or "val"] = selection
    splits[config.test_split] = load_split_items(config, config.test_split)
    for name, items in splits.items():
        require_items(config, name, items)
    selected_on = config.val_split or "val" if selection is not None else config.test_split
    if len(splits[selected_on]) < 2:
        where = (
            split_source(config, selected_on)
            if config.val_split or selection is None
            else (
                f"val_fraction {config.val_fraction} of {split_source(config, config.train_split)}"
            )
        )
        raise DatasetError(
            f"{where}: the {selected_on} split that selects the epoch has "
            f"{len(splits[selected_on])} image; correlations need at least 2 (raise val_fraction, "
            "or give a larger split)"
        )
    check_disjoint(splits, config.split_dir or config.root)


def image_cache_dir(config: TrainConfig) -> str | None:
    """The folder of the run's decoded-image caches, or None with ``image_cache: off``."""
    from d2s.data.cache import DEFAULT_DIR, cache_setting

    setting = cache_setting(config.image_cache)  # a config built directly is not coerced
    if setting == "off":
        return None
    return DEFAULT_DIR if setting == "auto" else setting


def open_split_cache(
    config: TrainConfig, split: str, items: list[Item] | None = None, progress: bool = False
):
    """The current decoded-image cache of ``split`` (all of its items) at the run's image size,
    built first when missing or stale (:mod:`d2s.data.cache`); None with ``image_cache: off``."""
    from d2s.data.cache import cache_file, ensure_cache

    directory = image_cache_dir(config)
    if directory is None:
        return None
    source = config.split_dir or config.root
    npy = cache_file(directory, config.dataset, split, config.image_size, source)
    items = load_split_items(config, split) if items is None else items
    cache, _ = ensure_cache(
        npy, items, config.image_size, workers=config.num_workers, progress=progress
    )
    return cache


def train_and_selection_items(config: TrainConfig) -> tuple[list[Item], list[Item] | None]:
    """Training items and, for ``select: val``, the validation items (a seeded carve-out of
    train unless the split folder has its own ``val_split``). The test set is not read here."""
    train = require_items(config, config.train_split, load_split_items(config, config.train_split))
    if config.select != "val":
        return train, None
    if config.val_split:
        return train, load_split_items(config, config.val_split)
    return carve_validation(train, config.val_fraction, config.split_seed)


def attach_text(split: Split, captions: dict[str, str] | None, config: TrainConfig) -> Split:
    """Caption features and entropies for every item of ``split``, row i ↔ item i.

    From ``config.text_features`` (a file of ``d2s text-features``: no encoder runs) when set,
    else by embedding the ``captions`` through the content-addressed cache of :mod:`d2s.text.clip`.
    """
    if config.text_features:
        from d2s.text.features import load_text_features

        record = load_text_features(config.text_features)
        index, source = record["index"], config.text_features
    else:
        index, source = captions, config.captions
    missing = [item.name for item in split.items if item.name not in index]
    if missing:
        raise DatasetError(
            f"{source}: no caption for {len(missing)} {split.name} image(s), e.g. {missing[0]!r}"
        )
    if config.text_features:
        rows = [index[item.name] for item in split.items]
        split.text_features = record["features"][rows].float()
        split.text_entropy = record["entropy"][rows].float()
        return split
    from d2s.text.clip import text_features

    weights = None if config.clip_weights == "random" else config.clip_weights
    table = text_features(
        [captions[item.name] for item in split.items], config.text_cache, pretrained=weights
    )
    split.text_features, split.text_entropy = table["features"], table["entropy"]
    return split
