"""Batched captioning vs the one-image-one-prompt loop, on the same tiny BLIP.

The benchmark is skipped in the normal run (``--benchmark-skip``); run it with
``pytest tests/test_captions_benchmark.py --benchmark-only``. The same body also runs once as an
ordinary test so it cannot rot.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

IMAGES = 8


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def captioner(tmp_path_factory):
    from d2s.text.blip import BlipCaptioner
    from d2s.text.tiny import save_tiny_blip

    return BlipCaptioner(save_tiny_blip(tmp_path_factory.mktemp("tiny-blip")))


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [Image.fromarray((rng.random((24, 24, 3)) * 255).astype("uint8")) for _ in range(IMAGES)]


def batched(captioner, images):
    return captioner.caption_batch(captioner.preprocessor()(images))


def loop(captioner, images):
    return [captioner.caption_one(image) for image in images]


def compare(captioner, images) -> dict:
    """Seconds of each way and the throughput ratio (batched images/s ÷ loop images/s)."""
    start = time.perf_counter()
    fast = batched(captioner, images)
    batched_s = time.perf_counter() - start
    start = time.perf_counter()
    slow = loop(captioner, images)
    loop_s = time.perf_counter() - start
    assert fast == slow
    return {
        "images": len(images),
        "batched_images_per_s": len(images) / batched_s,
        "loop_images_per_s": len(images) / loop_s,
        "throughput_ratio": loop_s / batched_s,
    }


def test_compare_runs(captioner, images):
    result = compare(captioner, images)
    assert result["throughput_ratio"] > 1.0, result


def test_benchmark_batched_vs_loop(benchmark, captioner, images):
    result = compare(captioner, images)
    benchmark.extra_info.update(result)
    benchmark.pedantic(batched, args=(captioner, images), rounds=3, iterations=1)
    loop_s = IMAGES / result["loop_images_per_s"]
    benchmark.extra_info["throughput_ratio_vs_mean"] = loop_s / benchmark.stats.stats.mean
