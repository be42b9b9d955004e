"""The caption cache: format, resume after a kill (in-process and SIGKILL), refusal, demo import."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from d2s.text.cache import (
    CaptionCache,
    CaptionCacheError,
    read_captions,
    read_metadata,
    sidecar_path,
)

SETTINGS = {"captioner": "x", "model": "m", "prompts": ["p"], "max_new_tokens": 4}


pytestmark = pytest.mark.usefixtures("one_thread")


def test_format_names_with_spaces_and_normalised_captions(tmp_path):
    out = tmp_path / "c.tsv"
    cache = CaptionCache.open(out, SETTINGS)
    cache.append([("objects_parking meter_1.jpg", 'a "quoted"\tcap\ntion  here'), ("b.jpg", "")])
    assert not read_metadata(out)["complete"]
    with pytest.raises(CaptionCacheError, match="not complete"):
        read_captions(out)
    cache.finish(["objects_parking meter_1.jpg", "b.jpg"])
    text = out.read_text()
    assert (
        text == 'image\tcaption\nobjects_parking meter_1.jpg\ta "quoted" cap tion here\nb.jpg\t\n'
    )
    assert read_captions(out) == {
        "objects_parking meter_1.jpg": 'a "quoted" cap tion here',
        "b.jpg": "",
    }
    meta = json.loads(sidecar_path(out).read_text())
    assert meta["complete"] is True and meta["count"] == 2 and meta["settings"] == SETTINGS


def test_bad_names_and_double_rows_refused(tmp_path):
    cache = CaptionCache.open(tmp_path / "c.tsv", SETTINGS)
    with pytest.raises(CaptionCacheError):
        cache.append([("a\tb.jpg", "x")])
    cache.append([("a.jpg", "x")])
    with pytest.raises(CaptionCacheError, match="already"):
        cache.append([("a.jpg", "y")])
    with pytest.raises(CaptionCacheError, match="without caption"):
        cache.finish(["a.jpg", "b.jpg"])


def test_torn_last_line_is_cut_and_resumed(tmp_path):
    out = tmp_path / "c.tsv"
    CaptionCache.open(out, SETTINGS).append([("a.jpg", "one"), ("b.jpg", "two")])
    with open(out, "a") as handle:
        handle.write("c.jpg\tthr")  # killed mid-write
    cache = CaptionCache.open(out, SETTINGS)
    assert list(cache.done) == ["a.jpg", "b.jpg"]
    assert cache.todo(["a.jpg", "b.jpg", "c.jpg"]) == ["c.jpg"]
    cache.append([("c.jpg", "three")])
    cache.finish(["a.jpg", "b.jpg", "c.jpg"])
    assert read_captions(out) == {"a.jpg": "one", "b.jpg": "two", "c.jpg": "three"}


def test_other_settings_refused(tmp_path):
    out = tmp_path / "c.tsv"
    CaptionCache.open(out, SETTINGS).append([("a.jpg", "one")])
    with pytest.raises(CaptionCacheError, match="max_new_tokens: recorded 4, now 8"):
        CaptionCache.open(out, {**SETTINGS, "max_new_tokens": 8})
    assert read_captions(out, require_complete=False) == {"a.jpg": "one"}


def test_growing_a_complete_cache_marks_it_incomplete_first(tmp_path):
    out = tmp_path / "c.tsv"
    cache = CaptionCache.open(out, SETTINGS)
    cache.append([("a.jpg", "one")])
    cache.finish(["a.jpg"])
    cache = CaptionCache.open(out, SETTINGS)
    cache.append([("b.jpg", "two")])
    assert read_metadata(out)["complete"] is False
    cache.finish(["a.jpg", "b.jpg"])
    assert read_metadata(out)["count"] == 2


# -- with the tiny BLIP on a demo-layout dataset -------------------------------------------------


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory):
    from d2s.data.demo import make_demo

    root = tmp_path_factory.mktemp("demo")
    make_demo(root, seed=0, size=16, image_size=32)
    return root


@pytest.fixture(scope="module")
def items(demo_root):
    from d2s.data import load_items

    found = load_items("ic9600", demo_root, None)
    assert any(" " in item.name for item in found)  # names with spaces are exercised
    return found


@pytest.fixture(scope="module")
def blip_dir(tmp_path_factory):
    from d2s.text.tiny import save_tiny_blip

    return save_tiny_blip(tmp_path_factory.mktemp("tiny-blip"))


@pytest.fixture(scope="module")
def captioner(blip_dir):
    from d2s.text.blip import BlipCaptioner

    return BlipCaptioner(blip_dir, max_new_tokens=8)


class Killed(RuntimeError):
    pass


class DiesAfter:
    """Wraps a captioner; raises inside the run after ``batches`` batches."""

    def __init__(self, inner, batches: int) -> None:
        self.inner, self.left = inner, batches
        self.name = inner.name
        self.calls = 0

    def settings(self):
        return self.inner.settings()

    def preprocessor(self):
        return self.inner.preprocessor()

    def caption_batch(self, batch):
        if self.left == 0:
            raise Killed
        self.left -= 1
        self.calls += len(batch["pixel_values"])
        return self.inner.caption_batch(batch)


def rows_of(path: Path) -> list[str]:
    return [line.split("\t")[0] for line in path.read_text().splitlines()[1:]]


def test_killed_run_restarts_with_every_image_once(tmp_path, captioner, items):
    from d2s.text.run import caption_items

    out = tmp_path / "blip.tsv"
    with pytest.raises(Killed):
        caption_items(DiesAfter(captioner, 2), items, out, batch_size=3, progress=False)
    assert len(rows_of(out)) == 6 and not read_metadata(out)["complete"]
    again = DiesAfter(captioner, 100)
    record = caption_items(again, items, out, batch_size=3, progress=False)
    assert record["already_cached"] == 6 and record["captioned_now"] == len(items) - 6
    assert again.calls == len(items) - 6  # nothing captioned twice
    assert sorted(rows_of(out)) == sorted(item.name for item in items)
    assert len(rows_of(out)) == len(items)
    assert read_metadata(out)["complete"] is True
    # The resumed cache holds what an uninterrupted run writes.
    fresh = tmp_path / "fresh.tsv"
    caption_items(captioner, items, fresh, batch_size=5, progress=False)
    assert read_captions(fresh) == read_captions(out)
    # A finished cache is a no-op to run again.
    assert caption_items(captioner, items, out, progress=False)["captioned_now"] == 0


def test_resume_with_other_settings_refused(tmp_path, blip_dir, captioner, items):
    from d2s.text.blip import BlipCaptioner
    from d2s.text.run import caption_items

    out = tmp_path / "blip.tsv"
    with pytest.raises(Killed):
        caption_items(DiesAfter(captioner, 1), items, out, batch_size=2, progress=False)
    other = BlipCaptioner(blip_dir, max_new_tokens=9)
    with pytest.raises(CaptionCacheError, match="other settings"):
        caption_items(other, items, out, progress=False)
    assert len(rows_of(out)) == 2


RUNNER = """
import argparse, sys, torch
torch.set_num_threads(1)
from d2s.cli import caption
parser = argparse.ArgumentParser()
caption.register(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


def run_cli(*argv: str) -> int:
    import argparse

    from d2s.cli import CLIError, caption

    parser = argparse.ArgumentParser()
    caption.register(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    try:
        return args.func(args)
    except CLIError as err:
        raise SystemExit(str(err)) from err


def test_sigkilled_cli_run_restarts_with_every_image_once(tmp_path, blip_dir, demo_root, items):
    out = tmp_path / "blip.tsv"
    argv = [
        "caption", "--captioner", "blip", "--model", str(blip_dir), "--dataset", "ic9600",
        "--root", str(demo_root), "--out", str(out), "--batch-size", "1", "--device", "cpu",
        "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, *argv], env=env, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and len(out.read_text().splitlines()) >= 4:  # header + 3 rows
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    done_before = len(rows_of(out))
    assert 3 <= done_before < len(items)
    assert run_cli(*argv) == 0
    names = rows_of(out)
    assert len(names) == len(items) and set(names) == {item.name for item in items}
    assert read_metadata(out)["complete"] is True
    assert read_metadata(out)["info"]["dataset"] == "ic9600"


def test_cli_refuses_other_settings_with_a_message(tmp_path, blip_dir, demo_root, captioner, items):
    from d2s.text.run import caption_items

    out = tmp_path / "blip.tsv"
    with pytest.raises(Killed):
        caption_items(DiesAfter(captioner, 1), items, out, batch_size=2, progress=False)
    argv = ["--captioner", "blip", "--model", str(blip_dir), "--dataset", "ic9600"]
    argv += ["--root", str(demo_root), "--out", str(out), "--no-progress", "--device", "cpu"]
    with pytest.raises(SystemExit, match="max_new_tokens: recorded 8, now 64"):
        run_cli("caption", *argv)


def test_demo_descriptions_import(tmp_path, demo_root, items):
    out = tmp_path / "demo.tsv"
    assert run_cli("caption", "--captioner", "demo", "--dataset", "ic9600", "--root",
                   str(demo_root), "--out", str(out), "--split", "train") == 0  # fmt: skip
    got = read_captions(out)
    source = dict(
        line.split("\t", 1) for line in (demo_root / "captions.tsv").read_text().splitlines()[1:]
    )
    assert got == {name: source[name] for name in got}
    assert len(got) == len(items)  # the 16-image demo is all train
    meta = read_metadata(out)
    assert meta["settings"]["captioner"] == "demo" and meta["complete"]
