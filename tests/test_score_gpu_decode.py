"""``d2s score --gpu-decode``: JPEG bytes read by the workers, decoded by torchvision on the
scoring device (nvJPEG on CUDA) and resized there; other files, and JPEGs the decoder refuses,
go the PIL way. Here the plumbing runs with torchvision's CPU decoder; the nvJPEG comparison
runs only where CUDA is."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scoring_helpers import pattern, save, score_cli

import d2s
from d2s.ops.bench_data import write_jpegs

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    rgb = Image.fromarray(pattern(120, 160, seed=5))
    paths = [
        save(root / "rgb.jpg", rgb, quality=92),
        save(root / "grey.jpg", rgb.convert("L"), quality=92),
        save(root / "cmyk.jpg", rgb.convert("CMYK"), quality=92),
        save(root / "plain.png", rgb),
    ]
    torn = root / "torn.jpg"
    torn.write_bytes(paths[0].read_bytes()[:200])
    return [*paths, torn]


def test_device_decoding_path_matches_pil_closely(untrained_checkpoint, inputs):
    scorer = d2s.load(untrained_checkpoint)
    cpu = list(scorer.score_paths(inputs, batch_size=4))
    device = list(scorer.score_paths(inputs, batch_size=4, gpu_decode=True))
    assert [r.path for r in device] == [r.path for r in cpu] == inputs
    assert [r.error is None for r in device] == [True, True, True, True, False]
    assert "torn.jpg" in device[-1].error
    assert device[2].score == cpu[2].score and device[3].score == cpu[3].score  # PIL path
    for got, want in zip(device[:2], cpu[:2], strict=True):
        assert got.score != want.score and abs(got.score - want.score) < 1e-3


def test_gpu_decode_without_cuda_is_a_usage_error(untrained_checkpoint, inputs, capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA is here")
    argv = [str(inputs[0]), "-c", str(untrained_checkpoint), "--gpu-decode"]
    code, _, err = score_cli(argv, capsys)
    assert code == 2 and "--gpu-decode needs a CUDA device" in err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_nvjpeg_scores_against_the_cpu_path(untrained_checkpoint, tmp_path, capsys):
    """The measured difference (max |Δ| over 32 IC9600-like JPEGs) is printed for the record."""
    write_jpegs(tmp_path, 32, (1024, 768))
    folder = str(tmp_path / "images")
    argv = [folder, "-c", str(untrained_checkpoint), "--device", "cuda"]
    _, cpu, _ = score_cli(argv, capsys)
    code, gpu, err = score_cli([*argv, "--gpu-decode"], capsys)
    assert code == 0, err
    diff = np.abs(np.array(list(gpu.values())) - np.array(list(cpu.values())))
    with capsys.disabled():
        print(f"\nnvJPEG vs PIL: max |diff| {diff.max():.2e}, mean {diff.mean():.2e}")
    assert list(gpu) == list(cpu) and diff.max() < 1e-2
