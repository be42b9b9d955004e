"""``d2s doctor``: a pre-flight that fails fast, before hours of jobs fail one by one.

Each check returns a :class:`Finding`: a line that says what was found, and for a blocker what
to do. The workflow runs the checks before its first job (Snakefile ``onstart``) and stops on a
blocker; users run ``d2s doctor`` by hand (exit 2 when any). The checks read the workflow config
(what the DAG will need: GPUs for ``device`` other than cpu, ``num_workers`` worth of shared
memory, the caches and downloads of the matrix, the hub's weights, IC9600).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

GIB = 1024**3
#: Shared memory per worker and image in flight: a float32 3×S×S image, ``prefetch_factor`` 2
#: batches per worker, and the momentum model's refresh images travelling with each batch.
PREFETCH = 2
#: Downloads of the public datasets (archive plus unpacked copy), rounded up.
DOWNLOAD_GIB = {"koniq10k": 5, "kadid10k": 5, "tid2013": 2, "savoias": 1}
#: A run's folder (last.pt with optimiser and momentum model, best.pt, logs): D2S-R18 0.28 GB.
RUN_GIB = 0.3
#: The hub repositories the paper config reads (BLIP, Florence-2, CLIP text tower, timm trunks).
TIMM_REPOS = ("timm/resnet18.a1_in1k", "timm/resnet50.a1_in1k")
CLIP_REPO = "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"


@dataclass(frozen=True)
class Finding:
    check: str
    line: str
    blocker: bool = False

    def __str__(self) -> str:
        return f"{'BLOCKER' if self.blocker else 'ok':7} {self.check}: {self.line}"


def _gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB"


# --- GPUs and the CUDA build --------------------------------------------------------------------
def driver_cuda() -> str | None:
    """The CUDA version the installed driver supports (``nvidia-smi``), None without a driver."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        text = subprocess.run(
            ["nvidia-smi"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"CUDA Version:\s*([\d.]+)", text)
    return found[1] if found else None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:2])


def check_cuda_build(torch_cuda: str | None, driver: str | None, needs_gpu: bool = True):
    """torch's CUDA build against the driver: a CPU wheel on a GPU machine, or a wheel newer than
    the driver, finds no GPU (a blocker when the config trains on a GPU)."""
    if driver is None or not needs_gpu:
        build = f"torch CUDA {torch_cuda or 'none (CPU build)'}; driver CUDA {driver or 'none'}"
        return Finding(
            "cuda build", build + ("" if needs_gpu else " (the config trains on the CPU)")
        )
    if torch_cuda is None:
        return Finding(
            "cuda build",
            f"torch is a CPU-only build but the driver supports CUDA {driver}: install a CUDA "
            "wheel (docs/slurm-and-gpu.md, 'Set-up': pip install torch --index-url "
            f"https://download.pytorch.org/whl/cu{driver.replace('.', '')[:3]})",
            blocker=True,
        )
    if _version(torch_cuda) > _version(driver):
        return Finding(
            "cuda build",
            f"torch is built for CUDA {torch_cuda}, the driver supports only CUDA {driver}: "
            f"upgrade the NVIDIA driver, or install a torch wheel for CUDA {driver} or older",
            blocker=True,
        )
    return Finding("cuda build", f"torch CUDA {torch_cuda}, driver CUDA {driver}")


def check_gpus(needs_gpu: bool, gpus: list[tuple[str, int, int]], why_none: str) -> Finding:
    """``gpus``: (name, free bytes, total bytes) of every visible GPU."""
    if gpus:
        listed = "; ".join(f"{n} {_gib(f)} free of {_gib(t)}" for n, f, t in gpus)
        return Finding("gpus", f"{len(gpus)} visible: {listed}")
    if not needs_gpu:
        return Finding("gpus", "none visible; the config trains on the CPU")
    return Finding(
        "gpus",
        f"no CUDA GPU visible ({why_none}): run `nvidia-smi`; in Docker pass --gpus all; check "
        "CUDA_VISIBLE_DEVICES; or set training.device: cpu to train on the CPU (days per run)",
        blocker=True,
    )


def visible_gpu_memory() -> list[tuple[str, int, int]]:
    import torch

    if not torch.cuda.is_available():
        return []
    out = []
    for index in range(torch.cuda.device_count()):
        free, total = torch.cuda.mem_get_info(index)
        out.append((torch.cuda.get_device_name(index), int(free), int(total)))
    return out


# --- shared memory and disk ---------------------------------------------------------------------
def shm_need(num_workers: int, batch: int, size: int) -> int:
    """Bytes of ``/dev/shm`` the training loader's workers hold at once."""
    return num_workers * PREFETCH * 2 * batch * 3 * size * size * 4


def check_shm(free: int, num_workers: int, batch: int, size: int, path: str = "/dev/shm"):
    need = shm_need(num_workers, batch, size)
    line = f"{path}: {_gib(free)} free; num_workers {num_workers} at batch {batch}, {size} px "
    line += f"need about {_gib(need)}"
    if need <= free:
        return Finding("shared memory", line)
    return Finding(
        "shared memory",
        line + ": workers would die with a bus error; in Docker run with --shm-size=8g (or "
        "--ipc=host), or lower training.num_workers (0 decodes in the training process)",
        blocker=True,
    )


def check_disk(free: int, need: int, path: str, parts: str) -> Finding:
    line = f"{path}: {_gib(free)} free; the workflow will write about {_gib(need)} ({parts})"
    if need <= free:
        return Finding("disk", line)
    return Finding(
        "disk",
        line + ": free space there, or point `resources:` / `results:` of the workflow config "
        "at a larger disk",
        blocker=True,
    )


def disk_need(config: dict) -> tuple[int, str]:
    """Bytes the config's matrix will write that are not on disk yet, and what they are."""
    from d2s.ops.plan import SPLIT_SIZES, image_cache_runs, matrix_datasets, matrix_runs

    res = Path(config.get("resources", "resources"))
    sets = config.get("datasets") or {}

    def subset(name: str) -> bool:  # fewer images than official (a trial copy, the rehearsal)
        return bool((sets.get(name) or {}).get("subset"))

    def images_of(name: str) -> int:
        if not subset(name):
            return sum(SPLIT_SIZES.get(name, (0, 0)))
        path = (sets.get(name) or {}).get("path")
        return sum(1 for f in Path(path).rglob("*.jpg")) if path and Path(path).is_dir() else 0

    caches = 0
    for dataset, _split, size in image_cache_runs(config):
        caches += images_of(dataset) * 3 * size * size
    existing = res / "cache" / "images"
    if existing.is_dir():
        caches = max(0, caches - sum(f.stat().st_size for f in existing.rglob("*") if f.is_file()))
    used = matrix_datasets(config)
    downloads = sum(
        gib * GIB
        for name, gib in DOWNLOAD_GIB.items()
        if name in used
        and not subset(name)
        and not (res / "datasets" / name / ".d2s-verified.json").exists()
    )
    results = Path(config.get("results", "results"))
    runs = [
        s for s in matrix_runs(config) if not (Path(s.folder(results)) / "metrics.json").exists()
    ]
    checkpoints = int(len(runs) * RUN_GIB * GIB)
    parts = f"image caches {_gib(caches)}, downloads {_gib(downloads)}, {len(runs)} runs "
    parts += f"{_gib(checkpoints)}"
    return caches + downloads + checkpoints, parts


# --- hub and IC9600 -----------------------------------------------------------------------------
def hub_repos(config: dict) -> list[str]:
    """The hub repositories the config's jobs load: none for an offline random-weight config
    (the demo's ``pretrained: false``, ``clip_weights: random`` and no captioner)."""
    training = config.get("training") or {}
    captions = config.get("captions") or {}
    repos = [*TIMM_REPOS] if training.get("pretrained", True) else []
    if training.get("clip_weights") != "random":
        repos.append(CLIP_REPO)
    if captions.get("datasets"):
        repos.append(captions.get("blip_model", "Salesforce/blip-image-captioning-large"))
    if captions.get("florence_datasets"):
        repos.append(captions.get("florence_model", "florence-community/Florence-2-large"))
    return repos


def cached_repos(repos: list[str]) -> set[str]:
    from huggingface_hub.constants import HF_HUB_CACHE

    return {r for r in repos if (Path(HF_HUB_CACHE) / f"models--{r.replace('/', '--')}").is_dir()}


def hub_reachable(timeout: float = 5.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false"):
        return False
    import urllib.request

    try:
        urllib.request.urlopen("https://huggingface.co/api/models?limit=1", timeout=timeout)
    except OSError:
        return False
    return True


def check_hub(repos: list[str], cached: set[str], reachable: bool) -> Finding:
    missing = [r for r in repos if r not in cached]
    if not missing:
        return Finding("hub", f"all {len(repos)} weight repositories cached")
    if reachable:
        return Finding("hub", f"huggingface.co reachable; to download: {', '.join(missing)}")
    return Finding(
        "hub",
        f"huggingface.co unreachable (or HF_HUB_OFFLINE set) and not cached: {', '.join(missing)}"
        ": allow access to huggingface.co, or copy a Hugging Face cache holding them "
        "(HF_HOME/hub) from a machine that has them",
        blocker=True,
    )


def check_ic9600(config: dict) -> Finding:
    from d2s.data.place import missing_message

    res = Path(config.get("resources", "resources"))
    if (res / "datasets" / "ic9600" / ".d2s-verified.json").exists():
        return Finding("ic9600", "placed and verified")
    path = ((config.get("datasets") or {}).get("ic9600") or {}).get("path")
    if path and Path(path).exists():
        return Finding("ic9600", f"{path} (placed by the workflow's first job)")
    why = f"datasets.ic9600.path {path!r} does not exist. " if path else ""
    return Finding("ic9600", why + missing_message("ic9600", res / "datasets" / "ic9600"), True)


# --- all of them --------------------------------------------------------------------------------
def run_checks(config: dict, local: bool = True) -> list[Finding]:
    """Every check the config calls for. ``local``: jobs run on this machine (not under SLURM,
    whose nodes have their own GPUs and shared memory: ``d2s slurm preflight`` checks those)."""
    import torch

    from d2s.core.devices import cpu_fallback_reason, gpu_required
    from d2s.train.config import TrainConfig

    training = config.get("training") or {}
    findings = []
    if local:
        needs_gpu = gpu_required(str(training.get("device", "auto")), config.get("run_label"))
        findings.append(check_cuda_build(torch.version.cuda, driver_cuda(), needs_gpu))
        findings.append(check_gpus(needs_gpu, visible_gpu_memory(), cpu_fallback_reason()))
        workers = int(training.get("num_workers", TrainConfig.num_workers))
        batch = int(training.get("batch_size", TrainConfig.batch_size))
        size = int(training.get("image_size", TrainConfig.image_size))
        if workers and Path("/dev/shm").is_dir():
            free = shutil.disk_usage("/dev/shm").free
            findings.append(check_shm(free, workers, batch, size))
    where = Path(config.get("resources", "resources"))
    probe = where if where.exists() else Path(".")
    need, parts = disk_need(config)
    findings.append(check_disk(shutil.disk_usage(probe).free, need, str(probe), parts))
    repos = hub_repos(config)
    if repos:
        cached = cached_repos(repos)
        findings.append(check_hub(repos, cached, len(cached) == len(repos) or hub_reachable()))
    if (config.get("experiments") or {}).get("ic9600") == "ic9600":
        findings.append(check_ic9600(config))
    return findings
