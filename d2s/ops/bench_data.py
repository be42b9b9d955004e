"""Data-path measurements at paper scale, shared by ``tests/test_bench_data.py`` and ``d2s bench gpu``.

The images are written here, as IC9600-like JPEGs (1024×768, quality 90, a few hundred KB: smooth
content plus fine texture, unlike the demo's tiny drawings), so the decode cost is realistic.
Measured (docs/performance.md): the per-image decode path against the decoded-image cache, per worker; the
main process's time per step for the momentum model's refresh; and whole training steps, data
included, of D2S (EAL with a full buffer, so every step refreshes ``len // refresh_steps``
entries) against the vision-only ablation, through the engine's own loader and step; and the
"GPU-like" regime of whole ``d2s train`` runs at 32 px, where model compute is small and the data
path and the per-epoch work show (:func:`marginal_epoch_ms_per_image`).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from d2s.data.records import Item


def write_jpegs(
    root: Path, count: int, size: tuple[int, int] = (1024, 768), quality: int = 90, seed: int = 0
) -> list[Item]:
    """``count`` IC9600-like JPEGs in ``root/images`` with ``train.txt`` / ``test.txt`` (first
    three quarters train) and ``captions.tsv``; returns the items, labels in [0, 1]."""
    rng = np.random.default_rng(seed)
    width, height = size
    folder = Path(root) / "images"
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(count):
        coarse = rng.integers(0, 256, (height // 64 + 1, width // 64 + 1, 3), dtype=np.uint8)
        smooth = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC))
        texture = rng.normal(0, 18, (height, width, 3))
        pixels = np.clip(smooth + texture, 0, 255).astype(np.uint8)
        path = folder / f"bench_{i:05d}.jpg"
        Image.fromarray(pixels).save(path, quality=quality)
        items.append(Item(path.name, path, float(rng.random())))
    cut = max(1, count * 3 // 4)
    for split, part in (("train", items[:cut]), ("test", items[cut:] or items[:1])):
        lines = "".join(f"{item.name}  {item.label}\n" for item in part)
        (Path(root) / f"{split}.txt").write_text(lines)
    captions = "".join(f"{item.name}\ta photo number {i}\n" for i, item in enumerate(items))
    (Path(root) / "captions.tsv").write_text("image\tcaption\n" + captions)
    return items


def images_per_second(dataset, rounds: int = 1) -> float:
    """Images per second one process (one loader worker) turns into training tensors."""
    start = time.perf_counter()
    for _ in range(rounds):
        for i in range(len(dataset)):
            dataset[i]
    return rounds * len(dataset) / (time.perf_counter() - start)


def decode_and_cache_datasets(items: list[Item], size: int, cache_dir: Path):
    """The training transform's two sources: per-image decode, and the decoded-image cache."""
    from d2s.data.cache import cache_file, ensure_cache
    from d2s.data.torch_dataset import CachedImageDataset, ImageDataset
    from d2s.train.data import cached_image_transform, image_transform

    npy = cache_file(cache_dir, "bench", "train", size, str(cache_dir))
    cache, _ = ensure_cache(npy, items, size)
    decode = ImageDataset(items, image_transform(size, True))
    cached = CachedImageDataset(cache, items, cached_image_transform(True))
    return decode, cached


def bench_run(root: Path, kind: str, size: int, batch: int, **overrides):
    """A :class:`~d2s.train.engine.Run` on ``root`` with its caches open, its task, optimiser,
    lr schedule and training split (random caption features: no text encoder runs), ready for
    ``train_one_epoch``. ``kind``: ``d2s`` (EAL + FAL, buffers full) or ``vision-only``."""
    from d2s.train.config_file import load_config
    from d2s.train.data import Split, load_split_items
    from d2s.train.engine import Run
    from d2s.train.recipes import make_optimizer
    from d2s.train.tasks import make_task

    aligned = kind == "d2s"
    keys = dict(
        root=str(root),
        image_size=size,
        batch_size=batch,
        pretrained=False,
        device="cpu",
        use_eal=aligned,
        use_fal=aligned,
        captions=str(Path(root) / "captions.tsv"),
        image_cache=str(Path(root) / "cache"),
        image_cache_device="never",
        drop_last=True,  # full batches only (BatchNorm refuses a batch of one)
    )
    config = load_config(overrides={**keys, **overrides})
    run = Run(config, Path(root) / f"run-{kind}", progress=False)
    run.data.open_caches(None, load_split_items(config, config.test_split))
    items = load_split_items(config, config.train_split)
    split = Split("train", items)
    torch.manual_seed(0)
    split.text_features = torch.randn(len(items), 512)
    split.text_entropy = torch.rand(len(items)) + 5
    task = make_task(config)
    if aligned:  # steady state: full buffers, so every step refreshes len // refresh_steps
        alignment = task.objective.alignment
        capacity = config.buffer_size
        ids = torch.randint(0, len(items), (capacity,))
        alignment.visual.push(torch.rand(capacity) + 5, ids)
        alignment.text.push(torch.rand(capacity) + 5, ids)
    optimizer, schedule = make_optimizer(config, task, run.data.steps_per_epoch(split))
    return run, task, optimizer, schedule, split


def epoch_step_ms(run, task, optimizer, schedule, split, epoch: int = 0) -> dict[str, float]:
    """One epoch through the engine (its loader, step and refresh): mean ``data_ms`` and
    ``compute_ms`` per step, and ``step_ms`` (their sum, the wall time of a step)."""
    sums = run.train_one_epoch(task, split, epoch, optimizer, schedule)
    timing = {"data_ms": sums["data_ms"], "compute_ms": sums["compute_ms"]}
    timing["step_ms"] = timing["data_ms"] + timing["compute_ms"]
    timing["refresh_misses"] = run.data.refresh_misses
    return timing


def refresh_ms_per_step(run, task, split, steps: int) -> tuple[float, int]:
    """Main-process time per step the engine spends getting the refresh's images (prefetched by
    the loader workers), and how many entries each step refreshed. The buffer does not advance
    here (no step runs), so the steps re-read the same predicted ids; fine for a timing."""
    loader = run.data.train_loader(split, 0, task)
    spent, refreshed, done = 0.0, 0, 0
    for step in loader:
        if step.refresh is not None:
            ids = step.refresh.ids
            read = run.data.refresh_reader(step.refresh, split)  # what the step's after_step calls
            start = time.perf_counter()
            images = read(ids)
            spent += time.perf_counter() - start
            refreshed = max(refreshed, len(ids))
            assert images.shape[0] == len(ids)
        done += 1
        if done == steps:
            break
    return 1000 * spent / max(1, done), refreshed


#: The GPU-like regime: ``d2s train`` of D2S-R18 (EAL + FAL; buffer 128 / refresh_steps 4
#: = 32 refreshed entries per step) against the vision-only ablation, 128 training JPEGs of
#: 1024×768 (171 written: three quarters train), 32 px, batch 32; the cost of epochs 1→4.
GPU_LIKE = dict(count=171, jpeg=(1024, 768), size=32, batch=32, buffer=128, refresh_steps=4)


def train_cli_seconds(root: Path, out: Path, kind: str, epochs: int, setting: dict) -> float:
    """Wall seconds of one ``d2s train`` process on ``root`` as a user runs it (progress on)."""
    args = [
        *(sys.executable, "-m", "d2s", "train", "--out", str(out)),
        *(f"root={root}", f"captions={Path(root) / 'captions.tsv'}", f"epochs={epochs}"),
        *(f"image_size={setting['size']}", f"batch_size={setting['batch']}"),
        *(f"buffer_size={setting['buffer']}", f"refresh_steps={setting['refresh_steps']}"),
        *("pretrained=false", "clip_weights=random", "device=cpu"),
        *(f"image_cache={Path(root) / 'cache'}", f"text_cache={Path(root) / 'text-cache'}"),
    ]
    if kind == "vision-only":
        args += ["use_eal=false", "use_fal=false"]
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def marginal_epoch_ms_per_image(
    root: Path, setting: dict, epochs: tuple[int, int] = (1, 4), repeats: int = 3
) -> dict[str, float]:
    """Milliseconds per training image of the extra epochs (``epochs[1] - epochs[0]``) of
    ``d2s train``, D2S vs vision-only: start-up (imports, model build, caches) cancels out. A
    warm-up run builds the image and caption caches first; the four runs of a repeat are
    interleaved so machine load hits both kinds alike; medians over ``repeats``."""
    train = len((Path(root) / "train.txt").read_text().splitlines())
    runs = Path(root).parent / f"{Path(root).name}-runs"  # beside the dataset, never inside it
    train_cli_seconds(root, runs / "warm-up", "d2s", epochs[0], setting)
    per_image: dict[str, list[float]] = {"d2s": [], "vision-only": []}
    for repeat in range(repeats):
        for kind in per_image:
            short, long = (
                train_cli_seconds(root, runs / f"{kind}-{n}-{repeat}", kind, n, setting)
                for n in epochs
            )
            per_image[kind].append(1000 * (long - short) / (epochs[1] - epochs[0]) / train)
    out = {f"{kind}_ms_per_image": round(statistics.median(v), 2) for kind, v in per_image.items()}
    out["d2s_over_vision_only"] = round(
        out["d2s_ms_per_image"] / out["vision-only_ms_per_image"], 3
    )
    return out
