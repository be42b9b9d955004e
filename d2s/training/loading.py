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
from typing import NamedTuple

import torch
from torch.utils.data import BatchSampler, Dataset, RandomSampler, Sampler

from .data import normalize_batch


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


def fits_on_device(nbytes: int, device: torch.device, fraction: float = 0.5) -> bool:
    """Whether a cache of ``nbytes`` takes at most ``fraction`` of the device's free memory."""
    if device.type != "cuda":
        return False
    free, _total = torch.cuda.mem_get_info(device)
    return nbytes <= fraction * free


def resident_on_device(mode: str, nbytes: int, device: torch.device) -> bool:
    """``image_cache_device``: ``always``, ``never``, or ``auto`` (CUDA and the cache fits)."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    return fits_on_device(nbytes, device)
