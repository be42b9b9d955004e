"""Benchmark of ``d2s score`` at scale: the whole process against a decode-and-resize-only
pipeline (the same ``DataLoader``, dataset, batch size and workers, no model).

Both are timed as separate processes over N and 2N JPEGs; the difference is the marginal cost
of N images, so start-up (imports, loading the checkpoint, spawning workers) is excluded. The
ratio of the two marginal costs is what scoring adds on top of decoding. ``python -m
d2s.ops.bench_score FOLDER --size S --workers W --batch-size B`` is the decode-only pipeline.
"""

from __future__ import annotations

import argparse
import runpy
import subprocess
import sys
import time
from pathlib import Path


def decode_only(folder: Path, size: int, workers: int, batch_size: int) -> int:
    """Decode and resize every image of ``folder`` exactly as ``d2s score`` does; no model."""
    from torch.utils.data import DataLoader

    from d2s.data.images import DEFAULT_MAX_PIXELS, collect_images
    from d2s.inference.batch import PathDataset

    paths, _ = collect_images([str(folder)])
    loader = DataLoader(
        PathDataset(paths, size, DEFAULT_MAX_PIXELS, raw_jpeg=False),
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=list,
    )
    return sum(len(rows) for rows in loader)


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def timed_in_process(cmd: list[str]) -> float:
    """:func:`timed` without a new interpreter (for the tiny run of the test suite, where
    start-up would be most of the time): the same ``python -m MODULE ARGS`` run here."""
    argv = sys.argv
    sys.argv = [cmd[2], *cmd[3:]]
    start = time.perf_counter()
    try:
        runpy.run_module(cmd[2], run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise RuntimeError(f"{' '.join(cmd[2:])} exited with {exit_.code}") from None
    finally:
        sys.argv = argv
    return time.perf_counter() - start


def commands(folder: Path, checkpoint: Path, size: int, workers: int, batch: int, out: Path):
    score = [sys.executable, "-m", "d2s", "score", str(folder), "-c", str(checkpoint)]
    score += ["--device", "cpu", "--workers", str(workers), "--batch-size", str(batch)]
    score += ["--out", str(out), "--no-progress"]
    decode = [sys.executable, "-m", "d2s.ops.bench_score", str(folder), "--size", str(size)]
    decode += ["--workers", str(workers), "--batch-size", str(batch)]
    return {"score": score, "decode": decode}


def marginal_ratio(
    small: Path,
    large: Path,
    checkpoint: Path,
    size: int,
    workers: int,
    batch: int = 32,
    repeats: int = 3,
    runner=timed,
) -> dict:
    """Marginal ms per image of ``d2s score`` and of decode-only between the folders ``small``
    (N images) and ``large`` (2N), and their ratio. Each of the four runs is repeated
    ``repeats`` times, interleaved so that machine load affects both alike, and its fastest
    time is used (the least disturbed by other work on the machine)."""
    n_small = len(list(small.glob("*.jpg")))
    n_large = len(list(large.glob("*.jpg")))
    out = large.parent.parent / "bench-scores.csv"  # beside the image sets, never inside one
    seconds: dict[tuple[str, str], list[float]] = {}
    for _ in range(repeats):
        for kind in ("score", "decode"):
            for label, folder in (("small", small), ("large", large)):
                cmd = commands(folder, checkpoint, size, workers, batch, out)[kind]
                seconds.setdefault((kind, label), []).append(runner(cmd))
                out.unlink(missing_ok=True)
    fastest = {key: min(values) for key, values in seconds.items()}
    per_image = {
        kind: (fastest[kind, "large"] - fastest[kind, "small"]) / (n_large - n_small) * 1000
        for kind in ("score", "decode")
    }
    return {
        "images": [n_small, n_large],
        "workers": workers,
        "score_ms_per_image": round(per_image["score"], 3),
        "decode_ms_per_image": round(per_image["decode"], 3),
        "score_over_decode": round(per_image["score"] / per_image["decode"], 3),
        "runs_s": {f"{k}-{n}": [round(v, 2) for v in vs] for (k, n), vs in seconds.items()},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="decode and resize only, as d2s score does")
    p.add_argument("folder", type=Path)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args(argv)
    decode_only(args.folder, args.size, args.workers, args.batch_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
