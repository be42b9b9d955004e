"""The training data path: whole batches, with the momentum model's refresh images, from the loader.

The momentum model re-reads ``len // refresh_steps`` old buffer entries after every step
(docs/design.md §1). Reading them in the main process after the step would put image work on
the critical path (about 570 ms per step at 512 px from JPEGs). Instead the sampler *predicts*
which ids the refresh after each step will ask for — it replays the visual buffer's own ``push``
and ``next_refresh_slots`` on a copy, taken when the epoch's loader is made — and the loader
(its workers, when ``num_workers > 0``) prepares those images together with the batch. The engine
checks the prediction against the ids the refresh really asks for and falls back to reading them
itself on a mismatch, so the prediction only ever affects speed, never the result.

With ``num_workers = 0`` the flips are drawn in the same order as before (the batch's items, then
the refresh's), so results are those of the per-item path.

Two payload kinds travel through the loader: host images (float tensors, made from the PIL path
or the decoded-image cache) or, when the cache is resident on the device, just rows and flip
draws, turned into images by :class:`DeviceImages` on the device.
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, NamedTuple

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, Sampler

from d2s.train.data import (
    cached_image_transform,
    image_transform,
    normalize_batch,
    open_split_cache,
)

if TYPE_CHECKING:
    from d2s.train.data import Split
    from d2s.train.tasks import Task


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


class TrainingBatches(Dataset):
    """Maps a :class:`Request` to the step's payload dict (used with ``batch_size=None``).

    ``images`` is a dataset of ``(image, label, index)`` triples (host path), or ``None`` with
    ``device_rows`` set (device-resident cache: rows and flips travel, not pixels).
    """

    def __init__(self, images, labels: torch.Tensor, device_rows: FlipDraws | None = None) -> None:
        self.images, self.labels, self.device_rows = images, labels, device_rows

    def __len__(self) -> int:
        return len(self.labels)

    def _load(self, indices: tuple[int, ...]):
        if self.device_rows is not None:
            return self.device_rows(indices)
        return torch.stack([self.images[i][0] for i in indices])

    def __getitem__(self, request: Request) -> dict:
        out = {
            "images": self._load(request.indices),
            "targets": self.labels[list(request.indices)],
            "ids": torch.tensor(request.indices, dtype=torch.long),
        }
        if request.refresh:
            out["refresh_images"] = self._load(request.refresh)
            out["refresh_ids"] = torch.tensor(request.refresh, dtype=torch.long)
        return out


class DeviceImages:
    """A decoded-image cache held on the device: flip and normalisation happen there, so no
    host decoding and no host-to-device image copy per step (issue 15, item 3)."""

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


class DataPath:
    """The run's data path (a mixin of :class:`d2s.train.engine.Run`): its caches, the
    evaluation and training loaders, and the refresh's image reads. Needs ``config``,
    ``placement``, ``progress`` and ``cuda`` on the instance."""

    def _open_caches(self, selection_items, test_items) -> None:
        """Open (building when missing or stale) the decoded-image caches the run reads while it
        trains; ``self.caches`` maps the run's split names to them (empty with image_cache: off).
        Under ``select: val`` the test split's cache is opened only at the end (:meth:`_finish`).
        """
        cfg = self.config
        self.caches, self.device_images = {}, None
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

    def _admit_device_cache(self, reserve: int) -> None:
        """Hold the training cache on the device when it fits beside the placed model and the
        step's peak ``reserve`` (bytes); called once both are counted."""
        cache = self.caches.get("train")
        mode = self.config.image_cache_device
        if cache is not None and resident_on_device(mode, cache.nbytes, self.device, reserve):
            self.device_images = DeviceImages.from_cache(cache, self.device)

    def _images(self, split: Split, train: bool):
        """``(image, label, index)`` triples of ``split``: from its cache, or decoded per image."""
        from d2s.data.torch_dataset import CachedImageDataset, ImageDataset

        cfg = self.config
        cache = getattr(self, "caches", {}).get(split.name)
        if cache is not None:
            transform = cached_image_transform(train, cfg.hflip)
            return CachedImageDataset(cache, split.items, transform)
        return ImageDataset(split.items, image_transform(cfg.image_size, train, cfg.hflip))

    def _loader(self, split: Split, train: bool, epoch: int = 0, task: Task | None = None):
        """The training steps of an epoch (``train``), or the evaluation batches of ``split``."""
        if train:
            return self._train_loader(split, epoch, task)
        cfg = self.config
        dataset = self._images(split, False)
        return DataLoader(
            dataset,
            batch_size=cfg.eval_batch_size,
            num_workers=cfg.num_workers,
            # its own generator: the loader's seed draw must not advance the global RNG
            generator=torch.Generator().manual_seed(epoch_seed(cfg.seed, epoch)),
            pin_memory=self.cuda,
        )

    def _train_loader(self, split: Split, epoch: int, task: Task | None) -> DataLoader:
        """Whole training steps (batch plus predicted refresh images), see :mod:`.loading`."""
        cfg = self.config
        images = self._images(split, True)
        labels = torch.tensor([item.label for item in split.items], dtype=torch.float32)
        device_rows = None
        if getattr(self, "device_images", None) is not None:
            rows = torch.from_numpy(images.rows)
            device_rows, images = FlipDraws(rows, cfg.hflip), None
        buffer = task.refresh_buffer() if task is not None else None
        planner = RefreshPlanner(buffer, cfg.refresh_steps) if buffer is not None else None
        generator = torch.Generator().manual_seed(epoch_seed(cfg.seed, epoch))
        # The pre-cache loop wrapped its DataLoader in tqdm.auto, whose constructor makes (and
        # drops) one iterator: that drew one extra base seed from the epoch's generator before the
        # loop's own iterator drew its base seed and the shuffle. Drawing it here keeps the shuffle
        # order (and the workers' seeds) of every seed exactly those of the earlier runs.
        torch.empty((), dtype=torch.int64).random_(generator=generator)
        requests = BatchRequests(
            len(labels),
            cfg.batch_size,
            # the released loop keeps the last partial batch (drop_last=False)
            cfg.drop_last and len(labels) >= cfg.batch_size,
            generator,
            planner,
        )
        return DataLoader(
            TrainingBatches(images, labels, device_rows),
            batch_size=None,
            sampler=requests,
            # the per-item workers (rows and flips only on the device path: no pixels to prepare)
            num_workers=0 if device_rows is not None else cfg.num_workers,
            generator=generator,
            pin_memory=self.cuda,
        )

    def _to_device(self, payload) -> torch.Tensor:
        if getattr(self, "device_images", None) is not None:
            return self.device_images(payload)
        return payload.to(self.placement.device, non_blocking=True)

    def _refresh_images(self, ids: torch.Tensor) -> torch.Tensor:
        """The momentum model's re-read of refreshed entries, with the training transform
        (docs/design.md §1). The loader prepared them with the batch (:mod:`.loading`); reading
        them here is the fallback should the prediction ever differ (counted)."""
        prefetched = getattr(self, "_prefetched", None)
        if prefetched is not None and torch.equal(prefetched[0], ids.cpu()):
            return self._to_device(prefetched[1])
        self.refresh_misses = getattr(self, "refresh_misses", 0) + 1
        train = self._train_split
        if getattr(self, "device_images", None) is not None:
            payload = FlipDraws(torch.from_numpy(self._images(train, True).rows), self.config.hflip)
            return self._to_device(payload(tuple(ids.tolist())))
        train_set = self._images(train, True)
        return torch.stack([train_set[int(i)][0] for i in ids.tolist()]).to(self.device)

    def _timed(self, fetch_images):
        """``fetch_images`` that adds its time (image reads, not the momentum forward) to the
        step's data time."""

        def timed(ids: torch.Tensor) -> torch.Tensor:
            started = time.perf_counter()
            images = fetch_images(ids)
            if self.cuda:
                torch.cuda.synchronize(self.device)
            self._refresh_s += time.perf_counter() - started
            return images

        return timed
