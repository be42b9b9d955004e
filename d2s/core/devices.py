"""One job per GPU on a workstation: the visible GPUs and a slot per job, taken with a file lock.

Snakemake's ``gpu`` resource only counts jobs; it does not say *which* device a job gets, so
every job would open ``cuda:0``. ``d2s gpu-slot -- COMMAND`` takes a free slot (an exclusive
``flock`` on ``<lock dir>/gpu-<id>.slot<k>.lock``), sets ``CUDA_VISIBLE_DEVICES`` to that one GPU
and then *becomes* the command (``exec``): the lock is held by the command's own process and is
released by the kernel when it ends, however it ends (no stale slot after a kill). A job that
finds every slot taken waits. ``runs_per_gpu`` slots per GPU (default 1) pack small runs.

``D2S_FAKE_GPUS=N`` makes the suite see N GPUs without CUDA (the tests' fake devices).
"""

from __future__ import annotations

import fcntl
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

#: Environment variable of the tests' fake GPU count (no CUDA needed).
FAKE_GPUS = "D2S_FAKE_GPUS"
#: Environment variable of the lock folder (default: one per user under the temp folder).
LOCK_DIR = "D2S_GPU_LOCKS"


def gpu_count() -> int:
    """GPUs torch can use here (``CUDA_VISIBLE_DEVICES`` applied), or the fake count."""
    fake = os.environ.get(FAKE_GPUS)
    if fake is not None:
        return int(fake)
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def visible_gpus() -> list[str]:
    """The ``CUDA_VISIBLE_DEVICES`` entry of each usable GPU: the parent's own list when it set
    one (ids or UUIDs), else ``0 … N-1``."""
    count = gpu_count()
    listed = [g.strip() for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")]
    listed = [g for g in listed if g]
    if listed:
        return listed[:count]
    return [str(i) for i in range(count)]


def lock_dir() -> Path:
    """Where the slots' lock files live: shared by every workflow of this user on the machine."""
    own = os.environ.get(LOCK_DIR)
    if own:
        return Path(own)
    return Path(tempfile.gettempdir()) / f"d2s-gpu-slots-{os.getuid()}"


def try_slot(folder: Path, gpus: list[str], runs_per_gpu: int) -> tuple[str, int, int] | None:
    """``(gpu, slot, fd)`` of a free slot, locked; ``None`` when all are taken. Slot 0 of every
    GPU is tried before a second run is packed onto any."""
    folder.mkdir(parents=True, exist_ok=True)
    for slot in range(runs_per_gpu):
        for gpu in gpus:
            name = "".join(c if c.isalnum() or c in "-_" else "_" for c in gpu)
            fd = os.open(folder / f"gpu-{name}.slot{slot}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return gpu, slot, fd
    return None


def take_slot(
    gpus: list[str], runs_per_gpu: int = 1, folder: Path | None = None, poll_s: float = 0.5
) -> tuple[str, int, int]:
    """Wait for a free slot and lock it (see :func:`try_slot`)."""
    folder = folder or lock_dir()
    waited = False
    while True:
        got = try_slot(folder, gpus, runs_per_gpu)
        if got is not None:
            return got
        if not waited:
            print(
                f"gpu-slot: all {len(gpus) * runs_per_gpu} GPU slots busy; waiting", file=sys.stderr
            )
            waited = True
        time.sleep(poll_s)


def exec_on_slot(command: list[str], runs_per_gpu: int = 1) -> None:
    """Run ``command`` (replacing this process) on a GPU slot of its own. Without a visible GPU
    it runs unchanged (the command then says whether it may use the CPU)."""
    gpus = visible_gpus()
    env = dict(os.environ)
    if gpus:
        gpu, slot, fd = take_slot(gpus, runs_per_gpu)
        os.set_inheritable(fd, True)  # the lock stays held by the command's process
        env["CUDA_VISIBLE_DEVICES"] = gpu
        env.pop(FAKE_GPUS, None)
        env["D2S_GPU_SLOT"] = f"{gpu}.{slot}"
        print(f"gpu-slot: GPU {gpu} (slot {slot}) for: {' '.join(command)}", file=sys.stderr)
    os.execvpe(command[0], command, env)


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when there is one, else the CPU; any other name as torch reads it."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


#: The ``run_label`` of the paper configuration (workflow/config/config.yaml): runs that take
#: hours on a GPU and days on a CPU, so ``device: auto`` must not quietly become the CPU.
PAPER_LABEL = "paper"


def cpu_fallback_reason() -> str:
    """Why torch sees no usable CUDA device here (build, driver, visible devices)."""
    import torch

    if torch.version.cuda is None:
        return f"this torch ({torch.__version__}) is a CPU-only build"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and not visible.strip():
        return "CUDA_VISIBLE_DEVICES is empty"
    return (
        f"torch {torch.__version__} (built for CUDA {torch.version.cuda}) finds no usable GPU "
        "(no GPU passed to this machine or container, or a driver older than that CUDA)"
    )


def gpu_required(device_key: str, run_label: str | None) -> bool:
    """Whether a run must find a GPU: an explicit CUDA device, or ``auto`` in a paper run (any
    other run with ``auto``, e.g. the rehearsal, uses the GPU when there is one, else the CPU)."""
    return device_key != "cpu" and (device_key != "auto" or run_label == PAPER_LABEL)
