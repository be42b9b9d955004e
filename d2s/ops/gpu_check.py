"""``d2s bench gpu``: one short script a maintainer runs on a GPU, tiny on a CPU.

It measures, on one device, and writes one JSON plus a Markdown summary (docs/slurm-and-gpu.md):

- inference latency of D2S-R18/R50, ICNet and ICCORN at 512², batch 1 (the paper's protocol,
  docs/design.md §4: eval mode, ``inference_mode``, median), and batch-32 throughput;
- the D2S (EAL + FAL, full buffers: 40 refreshed entries per step) and vision-only training
  step of D2S-R18 in fp32 and bf16 (the momentum model at ``momentum_precision: auto``, fp16 on
  CUDA as released), images from a decoded-image cache held on the device
  (:class:`d2s.train.loading.DeviceImages`: flip and normalisation there);
- one training step of every trainable model at its paper batch and size: time and peak
  device memory (what ``d2s train`` must fit; the plan costs each model by it);
- data-path throughput per worker: JPEG decode vs the decoded-image cache (host);
- one tiny random-weight BLIP generation in fp32 and bf16 (:mod:`d2s.text.tiny`; a
  pipeline check, not the real model's speed).

``--device cpu`` shrinks every size (the "tiny" profile) so the test suite runs it in seconds.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from d2s.core.io import atomic_write_text
from d2s.method.alignment import resolve_momentum_precision
from d2s.ops.bench import build_latency_model, runtime_info
from d2s.paper.models import table1_models
from d2s.registry.models import model_spec
from d2s.train.checks import PRECISIONS

#: Sizes per profile: "full" is the paper's setting; "tiny" makes the CPU run take seconds.
PROFILES: dict[str, dict[str, Any]] = {
    "full": dict(size=512, batch=32, rounds=20, steps=5, buffer=2048, refresh_steps=50, jpegs=32),
    "tiny": dict(size=32, batch=4, rounds=1, steps=1, buffer=16, refresh_steps=4, jpegs=4),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _times_ms(fn, rounds: int, device: torch.device, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    _sync(device)
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        _sync(device)
        out.append(1000 * (time.perf_counter() - start))
    return out


def latency(profile: dict, device: torch.device) -> dict[str, dict]:
    """Per model: median batch-1 latency (ms) and batch-``batch`` throughput (images/s)."""
    size, batch = profile["size"], profile["batch"]
    out = {}
    # Table 1's trained models (HyperIQA/TOPIQ are params/latency rows of the benchmark suite)
    for name in (n for n in table1_models() if model_spec(n).trainable):
        model = build_latency_model(name, device)
        one = torch.randn(1, 3, size, size, device=device)
        many = torch.randn(batch, 3, size, size, device=device)
        with torch.inference_mode():
            single = _times_ms(lambda m=model, x=one: m.call(x), profile["rounds"], device)
            batched = _times_ms(
                lambda m=model, x=many: m.call(x), max(2, profile["rounds"] // 4), device
            )
        out[name] = {
            "params_m": round(model.params / 1e6, 3),
            "latency_ms_batch1": round(statistics.median(single), 3),
            f"throughput_images_per_s_batch{batch}": round(
                1000 * batch / statistics.median(batched), 1
            ),
        }
        del model
    return out


def _make_step(kind: str, precision: str, profile: dict, images, pool: int, device):
    """One optimiser step of D2S-R18 (``d2s``: EAL + FAL, full buffers; or ``vision-only``)."""
    from d2s.registry import build
    from d2s.train.config import TrainConfig
    from d2s.train.tasks import d2s_objective

    torch.manual_seed(0)
    batch, aligned = profile["batch"], kind == "d2s"
    model = build("d2s-r18", proj_dim=512 if aligned else None).train().to(device)
    # the paper's coefficients (TrainConfig's defaults), the profile's buffer and refresh
    run = TrainConfig(
        use_eal=aligned,
        use_fal=aligned,
        buffer_size=profile["buffer"],
        refresh_steps=profile["refresh_steps"],
        device=str(device),  # momentum_precision auto resolves for this device
    )
    objective = d2s_objective(model, run).to(device)
    if aligned:  # steady state: every step refreshes buffer // refresh_steps entries
        ids = torch.randint(0, pool, (profile["buffer"],), device=device)
        values = torch.rand(profile["buffer"], device=device) + 5
        objective.alignment.visual.push(values, ids)
        objective.alignment.text.push(values, ids)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    rows = torch.arange(batch) % pool
    text = torch.randn(batch, 512, device=device)
    entropy = torch.rand(batch, device=device) + 5
    targets = torch.rand(batch, device=device)

    def gather(ids: torch.Tensor) -> torch.Tensor:  # the device cache: no host image work
        return images({"rows": ids.cpu(), "flips": torch.rand(len(ids)) < 0.5})

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            parts = objective(model, gather(rows), targets, text, entropy, rows.to(device))
        optimizer.zero_grad(set_to_none=True)
        parts["loss"].backward()
        optimizer.step()
        objective.after_step(model, gather)

    return step


def training_steps(profile: dict, device: torch.device) -> dict[str, dict]:
    """D2S and vision-only D2S-R18 steps per precision, images gathered from a device cache."""
    from d2s.train.loading import DeviceImages

    size, pool = profile["size"], 64
    pixels = torch.randint(0, 256, (pool, 3, size, size), dtype=torch.uint8)
    images = DeviceImages(pixels.to(device))
    out: dict[str, dict] = {}
    for precision in PRECISIONS:
        for kind in ("d2s", "vision-only"):
            step = _make_step(kind, precision, profile, images, pool, device)
            ms = _times_ms(step, profile["steps"], device, warmup=1)
            out[f"{kind}-{precision}"] = {
                "step_ms": round(statistics.median(ms), 2),
                "batch": profile["batch"],
            }
        d2s, vision = out[f"d2s-{precision}"], out[f"vision-only-{precision}"]
        ratio = round(d2s["step_ms"] / vision["step_ms"], 3)
        out[f"ratio-{precision}"] = {"d2s_over_vision_only": ratio}
    return out


def model_steps(profile: dict, device: torch.device) -> dict[str, Any]:
    """One training step of every trainable model at its paper batch and image size (the
    "tiny" profile's on a CPU): median ms and, on CUDA, the peak device memory (MiB) of the step
    with the model, its optimiser state and the batch — what ``d2s train`` must fit
    (:mod:`d2s.train.memory`). Plus the device cache of IC9600's training split at 512².

    D2S models run with their default EAL + FAL (buffers filling from empty, so the refresh is
    lighter than in steady state: the D2S-R18 rows of :func:`training_steps` have that).
    """
    from d2s.registry.models import model_spec, trainable_models
    from d2s.train.config import TrainConfig
    from d2s.train.config_file import load_config
    from d2s.train.memory import synthetic_batch
    from d2s.train.recipes import make_optimizer, recipe_defaults
    from d2s.train.step import Placement, train_step
    from d2s.train.tasks import make_task

    cuda = device.type == "cuda"
    out: dict[str, Any] = {}
    for name in trainable_models():
        paper = recipe_defaults(model_spec(name).recipe)
        batch = paper.get("batch_size", TrainConfig.batch_size)
        size = paper.get("image_size", TrainConfig.image_size)
        if profile["size"] < size:  # tiny profile
            batch, size = profile["batch"], profile["size"]
        config = load_config(
            overrides={
                "root": "unused",
                "captions": "unused.tsv",
                "model": name,
                "pretrained": False,
                "device": str(device),
                "batch_size": batch,
                "image_size": size,
                "buffer_size": profile["buffer"],
                "refresh_steps": profile["refresh_steps"],
            }
        )
        torch.manual_seed(0)
        placement = Placement.of(config)
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        task = make_task(config)
        task.init_from_labels(torch.rand(64))
        task = placement.place(task)
        optimizer = make_optimizer(config, task, 100)[0]
        data = synthetic_batch(batch, size, placement)

        def fetch(ids: torch.Tensor, size: int = size) -> torch.Tensor:
            return torch.randn(len(ids), 3, size, size, device=device)

        def step(task=task, optimizer=optimizer, data=data, placement=placement, fetch=fetch):
            train_step(task, data, optimizer, placement)
            task.after_step(fetch)

        try:
            ms = _times_ms(step, profile["steps"], device, warmup=1)
        except torch.OutOfMemoryError:  # the card is too small for this model's paper step
            out[name] = {"batch": batch, "size": size, "error": "out of memory"}
            del task, optimizer, data
            continue
        peak = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None
        out[name] = {
            "batch": batch,
            "size": size,
            "step_ms": round(statistics.median(ms), 2),
            "peak_mib": None if peak is None else round(peak),
        }
        del task, optimizer, data
    # the decoded-image cache d2s train holds on the device when it fits (uint8, 3 x 512 x 512)
    out["device-cache"] = {"ic9600_train_512_mib": round(7200 * 3 * 512 * 512 / 2**20)}
    return out


def data_path(profile: dict, workdir: Path) -> dict[str, float]:
    """Images/s of one worker: JPEG (1024×768 q90; smaller when tiny) decode vs cache."""
    from d2s.ops.bench_data import decode_and_cache_datasets, images_per_second, write_jpegs

    jpeg = (1024, 768) if profile["size"] >= 256 else (96, 72)
    items = write_jpegs(workdir / "jpegs", profile["jpegs"], jpeg)
    decode, cached = decode_and_cache_datasets(items, profile["size"], workdir / "cache")
    decode_rate, cache_rate = images_per_second(decode), images_per_second(cached, rounds=3)
    return {
        "decode_images_per_s": round(decode_rate, 1),
        "cache_images_per_s": round(cache_rate, 1),
        "cache_over_decode": round(cache_rate / decode_rate, 2),
    }


def blip_generation(device: torch.device, workdir: Path) -> dict[str, Any]:
    """Seconds for one batch of 4 captions (4 prefixes each) with the tiny BLIP, fp32 vs bf16."""
    from PIL import Image

    from d2s.text.blip import BlipCaptioner
    from d2s.text.tiny import save_tiny_blip

    folder = save_tiny_blip(workdir / "tiny-blip")
    images = [Image.new("RGB", (48, 48), (40 * i, 90, 200 - 40 * i)) for i in range(4)]
    out: dict[str, Any] = {"model": "tiny random-weight BLIP (d2s.text.tiny)"}
    for precision in PRECISIONS:
        if precision == "bf16" and device.type != "cuda":
            out[precision] = {
                "skipped": "bf16 autocast applies on CUDA only (the captioner's rule)"
            }
            continue
        captioner = BlipCaptioner(folder, device=device, precision=precision, max_new_tokens=8)
        batch = captioner.preprocessor()(images)
        ms = _times_ms(lambda c=captioner, b=batch: c.caption_batch(b), 3, device, warmup=1)
        out[precision] = {"ms_per_batch_of_4": round(statistics.median(ms), 2)}
    return out


def markdown(report: dict) -> str:
    info = report["runtime"]
    lines = [
        f"# GPU check ({report['profile']} profile)",
        "",
        f"{info['device']} ({info['device_name']}), torch {info['torch']}, {report['seconds']} s",
        "",
        "| model | params (M) | latency batch 1 (ms) | throughput (images/s) |",
        "|---|---|---|---|",
    ]
    for name, row in report["latency"].items():
        rate = next(v for k, v in row.items() if k.startswith("throughput"))
        lines.append(f"| {name} | {row['params_m']} | {row['latency_ms_batch1']} | {rate} |")
    mom = info["momentum_precision"]
    lines += ["", f"| training step (d2s-r18; momentum model {mom}) | ms |", "|---|---|"]
    for name, row in report["training"].items():
        value = row.get("step_ms", row.get("d2s_over_vision_only"))
        lines.append(f"| {name} | {value} |")
    lines += ["", "| training step, paper batch and size | batch | px | ms | peak MiB |"]
    lines.append("|---|---|---|---|---|")
    for name, row in report["models"].items():
        if "batch" in row:
            cells = (row["batch"], row["size"], row.get("step_ms", row.get("error")))
            lines.append(
                f"| {name} | " + " | ".join(map(str, cells)) + f" | {row.get('peak_mib')} |"
            )
    lines.append(f"\nDevice cache: {json.dumps(report['models']['device-cache'])}")
    data = report["data_path"]
    lines += [
        "",
        f"Data path per worker: decode {data['decode_images_per_s']} images/s, cache "
        f"{data['cache_images_per_s']} images/s ({data['cache_over_decode']}x).",
        "",
        f"BLIP: {json.dumps(report['blip'])}",
        "",
    ]
    return "\n".join(lines)


def run_check(device: str, out: Path, profile: str | None = None) -> dict:
    """Run every part; write ``out`` (JSON) and ``out`` with ``.md`` (summary); return the JSON."""
    device_t = torch.device(device)
    profile = profile or ("full" if device_t.type == "cuda" else "tiny")
    settings = PROFILES[profile]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        report = {
            "profile": profile,
            "settings": settings,
            # the D2S steps' momentum model runs at momentum_precision auto for this device
            "runtime": {
                **runtime_info(device_t),
                "momentum_precision": resolve_momentum_precision("auto", device_t),
            },
            "latency": latency(settings, device_t),
            "training": training_steps(settings, device_t),
            "models": model_steps(settings, device_t),
            "data_path": data_path(settings, Path(tmp)),
            "blip": blip_generation(device_t, Path(tmp)),
        }
    report["seconds"] = round(time.perf_counter() - started, 1)
    out = Path(out)
    atomic_write_text(json.dumps(report, indent=1), out)
    atomic_write_text(markdown(report), out.with_suffix(".md"))
    return report
