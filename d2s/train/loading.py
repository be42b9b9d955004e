"""The run's data path: its splits, caches and loaders; whole training steps from the loader.

The momentum model re-reads ``len // refresh_steps`` old buffer entries after every step
(docs/design.md §1). Reading them in the main process after the step would put image work on
the critical path (about 570 ms per step at 512 px from JPEGs). Instead the sampler *predicts*
which ids the refresh after each step will ask for — it replays the visual buffer's own ``push``
and ``next_refresh_slots`` on a copy, taken when the epoch's loader is made — and the loader
(its workers, when ``num_workers > 0``) prepares those images together with the batch: each step
comes as one :class:`StepRecord`. :meth:`DataPath.refresh_reader` checks the prediction against
the ids the refresh really asks for and falls back to reading them itself on a mismatch, so the
prediction only ever affects speed, never the result.

With ``num_workers = 0`` the flips are drawn in the order of the per-item path (the batch's
items, then the refresh's), so results are bitwise those of a loop that reads each image when it
needs it.

Two payload kinds travel through the loader: host images (float tensors, made from the PIL path
or the decoded-image cache) or, when the cache is resident on the device, just rows and flip
draws, turned into images by :class:`DeviceImages` on the device.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, Sampler

from d2s.train.data import (
    Split,
    attach_text,
    cached_image_transform,
    image_transform,
    normalize_batch,
    open_split_cache,
    read_captions,
)

if TYPE_CHECKING:
    from d2s.train.config import TrainConfig
    from d2s.train.step import Placement
    from d2s.train.tasks import Batch, Task

#: A step's images as the loader hands them over: ``(B, 3, S, S)`` floats on the host, or, with
#: the cache on the device, its ``rows`` and ``flips`` (:class:`FlipDraws`).
Payload = torch.Tensor | dict[str, torch.Tensor]


class Request(NamedTuple):
    """One training step's reads: the batch's dataset indices and the predicted refresh ids."""

    indices: tuple[int, ...]
    refresh: tuple[int, ...]


class RefreshPlanner:
    """Replays the visual buffer on a copy to know each step's refresh ids before the step runs."""

    def __init__(self, buffer, refresh_steps: int) -> None:
        self.buffer = copy.deepcopy(buffer).cpu()
        self.refresh_steps = refresh_steps

    def next(self, batch_ids: tuple[int, ...]) -> tuple[int, ...]:
        # the step pushes its batch (observe), then after the optimiser step refreshes slots
        self.buffer.push(torch.zeros(len(batch_ids)), torch.tensor(batch_ids))
        slots = self.buffer.next_refresh_slots(self.refresh_steps)
        return tuple(self.buffer.ids[slots].tolist())


class BatchRequests(Sampler):
    """The shuffled batches of an epoch (as ``DataLoader(shuffle=True)`` would draw them from
    ``generator``), each with the refresh ids predicted for its step."""

    def __init__(
        self,
        size: int,
        batch_size: int,
        drop_last: bool,
        generator: torch.Generator,
        planner: RefreshPlanner | None,
    ) -> None:
        sampler = RandomSampler(range(size), generator=generator)
        self.batches = BatchSampler(sampler, batch_size, drop_last)
        self.planner = planner

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        for batch in self.batches:
            batch = tuple(batch)
            yield Request(batch, self.planner.next(batch) if self.planner else ())


class FlipDraws:
    """Device-resident payload maker: the cache rows of the indices and their flip draws."""

    def __init__(self, rows: torch.Tensor, hflip: bool) -> None:
        self.rows, self.hflip = rows, hflip

    def __call__(self, indices: tuple[int, ...]) -> dict[str, torch.Tensor]:
        # one torch.rand(1) per image, as RandomHorizontalFlip draws it on the host path
        flips = [bool(torch.rand(1) < 0.5) if self.hflip else False for _ in indices]
        return {"rows": self.rows[list(indices)], "flips": torch.tensor(flips, dtype=torch.bool)}


class Refresh(NamedTuple):
    """The images the refresh after a step is predicted to re-read, and their buffer ids."""

    ids: torch.Tensor  # (K,)
    images: Payload


class StepRecord(NamedTuple):
    """One training step as the loader yields it: the batch's images, targets ``(B,)`` and
    dataset ids ``(B,)``, and the predicted refresh (None: no refresh predicted)."""

    images: Payload
    targets: torch.Tensor
    ids: torch.Tensor
    refresh: Refresh | None


class TrainingBatches(Dataset):
    """Maps a :class:`Request` to its :class:`StepRecord` (used with ``batch_size=None``).

    ``images`` is a dataset of ``(image, label, index)`` triples (host path), or ``None`` with
    ``device_rows`` set (device-resident cache: rows and flips travel, not pixels).
    """

    def __init__(self, images, labels: torch.Tensor, device_rows: FlipDraws | None = None) -> None:
        self.images, self.labels, self.device_rows = images, labels, device_rows

    def __len__(self) -> int:
        return len(self.labels)

    def _load(self, indices: tuple[int, ...]) -> Payload:
        if self.device_rows is not None:
            return self.device_rows(indices)
        return torch.stack([self.images[i][0] for i in indices])

    def __getitem__(self, request: Request) -> StepRecord:
        images = self._load(request.indices)  # the batch's flips are drawn before the refresh's
        targets = self.labels[list(request.indices)]
        ids = torch.tensor(request.indices, dtype=torch.long)
        refresh = None
        if request.refresh:
            refresh_images = self._load(request.refresh)
            refresh = Refresh(torch.tensor(request.refresh, dtype=torch.long), refresh_images)
        return StepRecord(images, targets, ids, refresh)


class DeviceImages:
    """A decoded-image cache held on the device: flip and normalisation happen there, so no
    host decoding and no host-to-device image copy per step."""

    def __init__(self, pixels: torch.Tensor) -> None:
        self.pixels = pixels  # (N, 3, S, S) uint8 on the device

    @classmethod
    def from_cache(cls, cache, device: torch.device) -> DeviceImages:
        import numpy as np

        # a copy (the map is read-only), moved to the device once
        return cls(torch.from_numpy(np.array(cache.array)).to(device))

    def __call__(self, payload: dict[str, torch.Tensor]) -> torch.Tensor:
        rows = payload["rows"].to(self.pixels.device, non_blocking=True)
        flips = payload["flips"].to(self.pixels.device, non_blocking=True)
        images = self.pixels[rows]
        images = torch.where(flips.view(-1, 1, 1, 1), images.flip(-1), images)
        return normalize_batch(images)


def fits_on_device(
    nbytes: int, device: torch.device, reserve: int = 0, fraction: float = 0.5
) -> bool:
    """Whether a cache of ``nbytes`` takes at most ``fraction`` of the device's free memory once
    ``reserve`` (the training step's peak, the model being placed already) is set aside."""
    if device.type != "cuda":
        return False
    free, _total = torch.cuda.mem_get_info(device)
    return nbytes <= fraction * (free - reserve)


def resident_on_device(mode: str, nbytes: int, device: torch.device, reserve: int = 0) -> bool:
    """``image_cache_device``: ``always``, ``never``, or ``auto`` (CUDA and the cache fits)."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    return fits_on_device(nbytes, device, reserve)


def epoch_seed(seed: int, epoch: int) -> int:
    """Shuffling and augmentation of an epoch depend only on (seed, epoch): resumable exactly."""
    return seed * 10_007 + epoch


def batch_count(size: int, batch_size: int, drop_last: bool) -> int:
    """Batches of an epoch of ``size`` items: the last partial one is kept unless ``drop_last``
    (and never dropped when it is the only one)."""
    if drop_last and size >= batch_size:
        return size // batch_size
    return math.ceil(size / batch_size)


class DataPath:
    """What a run reads and how: its splits with their caption features, the decoded-image
    caches (``caches``: split name → cache; ``device_images`` when the training cache is held on
    the device), the evaluation loaders, the training loader of whole steps, and the refresh's
    fallback reads (``refresh_misses``, per epoch)."""

    def __init__(self, config: TrainConfig, placement: Placement, progress: bool) -> None:
        self.config, self.placement, self.progress = config, placement, progress
        use_captions = config.captions and not config.text_features
        self.captions = read_captions(config.captions) if use_captions else None
        self.caches: dict = {}
        self.device_images: DeviceImages | None = None
        self.refresh_misses = 0

    def split(self, name: str, items, with_text: bool) -> Split:
        """``items`` as the split ``name`` (train, val or test), with their caption features."""
        split = Split(name, list(items))
        if with_text:
            attach_text(split, self.captions, self.config)
        return split

    def open_caches(self, selection_items, test_items) -> None:
        """Open (building when missing or stale) the decoded-image caches the run reads while it
        trains (none with image_cache: off). Under ``select: val`` the test split's cache is
        opened only at the end (:meth:`open_test_cache`)."""
        cfg = self.config
        train_cache = open_split_cache(cfg, cfg.train_split, progress=self.progress)
        if train_cache is None:
            return
        self.caches["train"] = train_cache
        if selection_items is not None:  # a carved validation set lives in the train split's cache
            val = (
                open_split_cache(cfg, cfg.val_split, progress=self.progress)
                if cfg.val_split
                else None
            )
            self.caches["val"] = val or train_cache
        else:
            self.caches["test"] = open_split_cache(cfg, cfg.test_split, test_items, self.progress)

    def open_test_cache(self, test_items) -> None:
        """The test split's cache, when the run reads caches and it is not open yet."""
        if self.caches and "test" not in self.caches:
            cfg = self.config
            self.caches["test"] = open_split_cache(cfg, cfg.test_split, test_items, self.progress)

    def admit_device_cache(self, reserve: int) -> None:
        """Hold the training cache on the device when it fits beside the placed model and the
        step's peak ``reserve`` (bytes); called once both are counted."""
        cache = self.caches.get("train")
        mode = self.config.image_cache_device
        device = self.placement.device
        if cache is not None and resident_on_device(mode, cache.nbytes, device, reserve):
            self.device_images = DeviceImages.from_cache(cache, device)

    def images(self, split: Split, train: bool):
        """``(image, label, index)`` triples of ``split``: from its cache, or decoded per image."""
        from d2s.data.torch_dataset import CachedImageDataset, ImageDataset

        cfg = self.config
        cache = self.caches.get(split.name)
        if cache is not None:
            transform = cached_image_transform(train, cfg.hflip)
            return CachedImageDataset(cache, split.items, transform)
        return ImageDataset(split.items, image_transform(cfg.image_size, train, cfg.hflip))

    def eval_loader(self, split: Split) -> DataLoader:
        """The evaluation batches of ``split``, in order."""
        cfg = self.config
        return DataLoader(
            self.images(split, False),
            batch_size=cfg.eval_batch_size,
            num_workers=cfg.num_workers,
            # its own generator: the loader's seed draw must not advance the global RNG
            generator=torch.Generator().manual_seed(epoch_seed(cfg.seed, 0)),
            pin_memory=self.placement.cuda,
        )

    def _drops_last(self, size: int) -> bool:
        # the released loop keeps the last partial batch (drop_last=False)
        return self.config.drop_last and size >= self.config.batch_size

    def steps_per_epoch(self, split: Split) -> int:
        """Optimiser steps of an epoch on ``split`` (the training loader's length, at least 1)."""
        size = len(split.items)
        return max(1, batch_count(size, self.config.batch_size, self._drops_last(size)))

    def train_loader(self, split: Split, epoch: int, task: Task | None) -> DataLoader:
        """The :class:`StepRecord` of every training step of ``epoch``; ``task``'s refresh buffer
        (if any) predicts each step's refresh ids."""
        cfg = self.config
        self.refresh_misses = 0
        images = self.images(split, True)
        labels = torch.tensor([item.label for item in split.items], dtype=torch.float32)
        device_rows = None
        if self.device_images is not None:
            rows = torch.from_numpy(images.rows)
            device_rows, images = FlipDraws(rows, cfg.hflip), None
        buffer = task.refresh_buffer() if task is not None else None
        planner = RefreshPlanner(buffer, cfg.refresh_steps) if buffer is not None else None
        generator = torch.Generator().manual_seed(epoch_seed(cfg.seed, epoch))
        # discarded draw: keeps each seed's batches and worker seeds those of the recorded results
        torch.empty((), dtype=torch.int64).random_(generator=generator)
        drop_last = self._drops_last(len(labels))
        requests = BatchRequests(len(labels), cfg.batch_size, drop_last, generator, planner)
        return DataLoader(
            TrainingBatches(images, labels, device_rows),
            batch_size=None,
            sampler=requests,
            # the per-item workers (rows and flips only on the device path: no pixels to prepare)
            num_workers=0 if device_rows is not None else cfg.num_workers,
            generator=generator,
            pin_memory=self.placement.cuda,
        )

    def to_device(self, payload: Payload) -> torch.Tensor:
        """A payload's images on the device (made there from rows and flips on the device path)."""
        if self.device_images is not None:
            return self.device_images(payload)
        return payload.to(self.placement.device, non_blocking=True)

    def batch(self, step: StepRecord, split: Split) -> Batch:
        """The step's batch on the device, with the caption features of its ids."""
        return self.placement.batch(self.to_device(step.images), step.targets, step.ids, split)

    def refresh_reader(
        self, refresh: Refresh | None, split: Split
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        """The momentum model's re-read of refreshed entries of ``split``, with the training
        transform (docs/design.md §1): the images the loader prepared with the step when their ids
        are those asked for, else read here (the fallback, counted in ``refresh_misses``)."""

        def read(ids: torch.Tensor) -> torch.Tensor:
            if refresh is not None and torch.equal(refresh.ids, ids.cpu()):
                return self.to_device(refresh.images)
            self.refresh_misses += 1
            if self.device_images is not None:
                payload = FlipDraws(
                    torch.from_numpy(self.images(split, True).rows), self.config.hflip
                )
                return self.to_device(payload(tuple(ids.tolist())))
            train_set = self.images(split, True)
            images = torch.stack([train_set[int(i)][0] for i in ids.tolist()])
            return images.to(self.placement.device)

        return read
