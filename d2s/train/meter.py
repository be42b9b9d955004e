"""The epoch's one meter: mean loss terms, per-step data and compute time, the progress bar."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import torch
from tqdm.auto import tqdm

T = TypeVar("T")


class EpochMeter:
    """Sums of the loss terms a task returns, and each step's wall time split in two:
    ``data`` (waiting for the loader, the device copy, the refresh's image reads) and
    ``compute`` (the rest of the step).

    Args:
        steps: steps in the epoch (the bar's total and the divisor of the means).
        desc: the progress bar's label.
        progress: show the bar.
        sync: waits for the device (so a data read's time is not counted as compute).
    """

    def __init__(self, steps: int, desc: str, progress: bool, sync: Callable[[], None]) -> None:
        self.steps, self.sync = steps, sync
        self.sums: dict[str, float] = {}
        self.data_s = self.compute_s = 0.0
        self.done = 0
        self.last_loss = float("nan")
        self.bar = tqdm(total=steps, desc=desc, unit="batch", disable=not progress)

    def iterate(self, loader: Iterable[T]) -> Iterator[T]:
        """The loader's items; the wait for each counts as data, the loop body as compute."""
        items = iter(loader)
        while True:
            waited = time.perf_counter()
            item = next(items, None)
            if item is None:
                break
            started = time.perf_counter()
            self.data_s += started - waited
            yield item
            self.compute_s += time.perf_counter() - started
            self.done += 1
            self.bar.update()
            self.bar.set_postfix(
                loss=f"{self.last_loss:.4f}",
                data_ms=f"{1000 * self.data_s / self.done:.0f}",
                compute_ms=f"{1000 * self.compute_s / self.done:.0f}",
            )
        self.bar.close()

    @contextlib.contextmanager
    def data(self, sync: bool = False) -> Iterator[None]:
        """A data read inside the loop body (device copy, image reads): data, not compute;
        ``sync``: wait for the device first (the read's own kernels, not the next step's)."""
        started = time.perf_counter()
        yield
        if sync:
            self.sync()
        spent = time.perf_counter() - started
        self.data_s += spent
        self.compute_s -= spent

    def timed(self, read: Callable[[torch.Tensor], torch.Tensor]):
        """``read`` with its time counted as data (the refresh's image reads)."""

        def timed_read(ids: torch.Tensor) -> torch.Tensor:
            with self.data(sync=True):
                return read(ids)

        return timed_read

    def add(self, parts: dict[str, torch.Tensor]) -> None:
        """A step's loss terms (``float`` waits for the device: the step is done)."""
        values = {key: float(value.detach()) for key, value in parts.items()}
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.last_loss = values["loss"]

    def means(self) -> dict[str, float]:
        """Mean loss terms and per-step ``data_ms`` and ``compute_ms`` of the epoch."""
        count = max(1, self.steps)
        out = {key: value / count for key, value in self.sums.items()}
        out["data_ms"] = round(1000 * self.data_s / count, 2)
        out["compute_ms"] = round(1000 * self.compute_s / count, 2)
        return out
