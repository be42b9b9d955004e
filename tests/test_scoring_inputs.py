"""``d2s score`` on the inputs real users have: every kind of bad or unusual file and path.

The model is an untrained D2S-R18 in a suite checkpoint (built in a second, no training): these
tests are about reading inputs, not about scores.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scoring_helpers import pattern, png_header_only, save, score_cli

import d2s.cli
import d2s.inference.scoring
from d2s.checkpoint import CheckpointError
from d2s.cli import main
from d2s.inference.scoring import ImageError, collect_images, load, read_image, to_rgb

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def checkpoint(untrained_checkpoint) -> Path:
    return untrained_checkpoint


@pytest.fixture(scope="module")
def scorer(checkpoint):
    return load(checkpoint)


# image modes that must be accepted --------------------------------------------------------------


def test_every_image_mode_is_scored(scorer, checkpoint, tmp_path, capsys):
    rgb = Image.fromarray(pattern())
    files = {
        "rgb.jpg": (rgb, {}),
        "gray.png": (rgb.convert("L"), {}),
        "bilevel.png": (rgb.convert("1"), {}),
        "palette.gif": (rgb.convert("P"), {}),
        "rgba.png": (rgb.convert("RGBA"), {}),
        "la.png": (rgb.convert("LA"), {}),
        "cmyk.jpg": (rgb.convert("CMYK"), {}),
        "cmyk.tif": (rgb.convert("CMYK"), {}),
        "gray16.png": (Image.fromarray(np.asarray(rgb.convert("L")).astype(np.uint16) * 257), {}),
        "float.tif": (Image.fromarray(np.asarray(rgb.convert("L")).astype(np.float32) / 255), {}),
        "tiny.png": (Image.new("RGB", (1, 1), (200, 10, 30)), {}),
        "wide.png": (Image.new("RGB", (500, 2), (0, 90, 255)), {}),
        "animated.gif": (rgb.convert("P"), {"save_all": True, "append_images": [rgb.convert("P")]}),
        "rgb.webp": (rgb, {}),
        "rgb.bmp": (rgb, {}),
    }
    for name, (image, kwargs) in files.items():
        save(tmp_path / "in" / name, image, **kwargs)
    transparent = Image.new("P", (8, 8))
    transparent.info["transparency"] = 0
    save(tmp_path / "in" / "palette_alpha.png", transparent, transparency=0)
    assert Image.open(tmp_path / "in" / "gray16.png").mode == "I;16"
    assert Image.open(tmp_path / "in" / "cmyk.jpg").mode == "CMYK"

    code, table, err = score_cli([str(tmp_path / "in"), "-c", str(checkpoint)], capsys)
    assert code == 0, err
    assert err == ""
    assert sorted(Path(p).name for p in table) == sorted([*files, "palette_alpha.png"])
    assert all(0.0 <= v <= 1.0 and np.isfinite(v) for v in table.values())


def test_sixteen_bit_images_are_rescaled_not_clipped(scorer, tmp_path):
    gray8 = np.asarray(Image.fromarray(pattern()).convert("L"))
    save(tmp_path / "g8.png", Image.fromarray(gray8))
    save(tmp_path / "g16.png", Image.fromarray(gray8.astype(np.uint16) * 257))
    eight, sixteen = scorer.prepare(tmp_path / "g8.png"), scorer.prepare(tmp_path / "g16.png")
    assert float(sixteen.mean()) < 0.9  # Pillow's own convert("RGB") turns this white
    torch.testing.assert_close(sixteen, eight, atol=1 / 255, rtol=0)
    # 32-bit integer images holding 16-bit values, and float images in [0, 1]
    as_int = Image.fromarray(gray8.astype(np.int32) * 257)
    assert as_int.mode == "I"
    np.testing.assert_array_equal(np.asarray(to_rgb(as_int))[..., 0], gray8)
    as_float = Image.fromarray(gray8.astype(np.float32) / 255)
    assert np.abs(np.asarray(to_rgb(as_float))[..., 0].astype(int) - gray8).max() <= 1


def test_large_image_is_scored_and_a_bomb_is_refused_before_decoding(checkpoint, tmp_path, capsys):
    save(tmp_path / "big" / "photo.jpg", Image.fromarray(pattern(1500, 2000, seed=3)), quality=85)
    bomb = png_header_only(tmp_path / "big" / "bomb.png", 20_000, 20_000)  # 400 MP claimed
    assert bomb.stat().st_size < 200
    code, table, err = score_cli([str(tmp_path / "big"), "-c", str(checkpoint)], capsys)
    assert code == 1
    assert list(map(lambda p: Path(p).name, table)) == ["photo.jpg"]
    assert f"skipped {bomb}: image too large (20000×20000 = 400,000,000 pixels" in err
    assert "--max-pixels" in err
    # a lower limit skips the photo too; the message says how to raise it
    code, table, err = score_cli(
        [str(tmp_path / "big" / "photo.jpg"), "-c", str(checkpoint), "--max-pixels", "1000000"],
        capsys,
    )
    assert code == 1 and table == {}
    assert "3,000,000 pixels, limit 1,000,000" in err and "no image could be scored" in err
    # --max-pixels 0 lifts the limit: the bomb is then decoded, and fails as the broken file it is
    with pytest.raises(ImageError, match="cannot decode image"):
        read_image(bomb, max_pixels=None)
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # Pillow's global limit is restored


# bad files ---------------------------------------------------------------------------------------


def test_each_bad_file_is_named_skipped_and_the_rest_scored(checkpoint, tmp_path, capsys):
    folder = tmp_path / "in"
    good = save(folder / "a_good.png", Image.fromarray(pattern()))
    truncated = save(folder / "truncated.jpg", Image.fromarray(pattern(200, 200)), quality=95)
    truncated.write_bytes(truncated.read_bytes()[:1500])
    corrupt = folder / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300))
    text = folder / "text.jpg"
    text.write_text("this is not a JPEG")
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    (folder / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    explicit_text = tmp_path / "readme.txt"
    explicit_text.write_text("named explicitly, so it is tried and reported")

    code, table, err = score_cli([str(folder), str(explicit_text), "-c", str(checkpoint)], capsys)
    assert code == 1
    assert list(table) == [str(good)]
    assert f"skipped {truncated}: cannot decode image, corrupt or truncated" in err
    assert f"skipped {corrupt}: " in err
    assert f"skipped {text}: not an image file" in err
    assert f"skipped {empty}: not an image file" in err
    assert f"skipped {folder / 'dangling.jpg'}: no such file" in err
    assert f"skipped {explicit_text}: not an image file" in err
    assert "scored 1 image(s); skipped 6 input(s)" in err


def test_bad_paths_each_get_a_message(checkpoint, tmp_path, capsys):
    good = save(tmp_path / "imgs" / "x.png", Image.fromarray(pattern()))
    save(tmp_path / "imgs" / "deep" / "er" / "y.JPG", Image.fromarray(pattern(seed=1)))
    (tmp_path / "imgs" / ".hidden.png").write_bytes(b"junk: hidden files are not collected")
    (tmp_path / "imgs" / "labels.csv").write_text("image,score\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "only_text").mkdir()
    (tmp_path / "only_text" / "a.txt").write_text("x")
    argv = [
        str(tmp_path / "imgs"),
        str(tmp_path / "missing.png"),
        str(tmp_path / "empty"),
        str(tmp_path / "only_text"),
        str(tmp_path / "nothing_*.png"),
        str(good),  # listed twice: scored once
        "-c",
        str(checkpoint),
    ]
    code, table, err = score_cli(argv, capsys)
    assert code == 1
    assert list(table) == [str(good), str(tmp_path / "imgs" / "deep" / "er" / "y.JPG")]
    assert f"{tmp_path / 'missing.png'}: no such file or folder" in err
    assert f"{tmp_path / 'empty'}: folder holds no image files" in err
    assert f"{tmp_path / 'only_text'}: folder holds no image files" in err
    assert f"{tmp_path / 'nothing_*.png'}: no file matches this pattern" in err
    assert ".hidden" not in err and "labels.csv" not in err


def test_globs_expand_recursively(checkpoint, tmp_path, capsys):
    for i, sub in enumerate(("a", "b/c", "b/d")):
        save(tmp_path / sub / f"im{i}.png", Image.fromarray(pattern(seed=i)))
    (tmp_path / "b" / "notes.txt").write_text("x")
    code, table, err = score_cli([str(tmp_path / "**" / "*.png"), "-c", str(checkpoint)], capsys)
    assert code == 0, err
    assert sorted(Path(p).name for p in table) == ["im0.png", "im1.png", "im2.png"]
    code, table, _ = score_cli([str(tmp_path / "b" / "*"), "-c", str(checkpoint)], capsys)
    assert code == 0 and sorted(Path(p).name for p in table) == ["im1.png", "im2.png"]
    paths, problems = collect_images([tmp_path / "b" / "*.txt"])
    assert paths == [] and "pattern matches no image files" in str(problems[0])


def test_unreadable_file_and_folder(checkpoint, tmp_path, capsys, monkeypatch):
    good = save(tmp_path / "ok" / "good.png", Image.fromarray(pattern()))
    locked = save(tmp_path / "ok" / "locked.png", Image.fromarray(pattern(seed=2)))
    closed = tmp_path / "closed"
    save(closed / "inside.png", Image.fromarray(pattern(seed=3)))
    if os.geteuid() == 0:  # root reads everything: make the OS refuse as it would for a user
        real_open, real_scandir = Image.open, os.scandir

        def refuse_open(fp, *args, **kwargs):
            if Path(fp) == locked:
                raise PermissionError(13, "Permission denied", str(fp))
            return real_open(fp, *args, **kwargs)

        def refuse_scandir(path="."):
            # pytest's clean-up of passing tests' folders scans by file descriptor (an int)
            if not isinstance(path, int) and Path(path) == closed:
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path)

        monkeypatch.setattr(Image, "open", refuse_open)
        monkeypatch.setattr(os, "scandir", refuse_scandir)
    else:
        locked.chmod(0)
        closed.chmod(0)
    try:
        code, table, err = score_cli(
            [str(tmp_path / "ok"), str(closed), "-c", str(checkpoint)], capsys
        )
    finally:
        locked.chmod(0o644)
        closed.chmod(0o755)
    assert code == 1
    assert list(table) == [str(good)]
    assert f"skipped {locked}: cannot read file (permission denied)" in err
    assert f"skipped {closed}: cannot read folder (permission denied)" in err
    assert "holds no image files" not in err


def test_empty_input_set_is_a_usage_error(checkpoint, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, table, err = score_cli([str(tmp_path / "empty"), "-c", str(checkpoint)], capsys)
    assert code == 2 and table == {}
    assert "holds no image files" in err and "d2s score: error: no images to score" in err


def test_all_files_bad_writes_no_csv(checkpoint, tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    out = tmp_path / "scores.csv"
    code, table, err = score_cli([str(bad), "-c", str(checkpoint), "-o", str(out)], capsys)
    assert code == 1 and table == {} and not out.exists()
    assert "no image could be scored" in err


# outputs -----------------------------------------------------------------------------------------


def test_an_interrupted_run_leaves_no_csv(checkpoint, tmp_path, capsys, monkeypatch):
    for i in range(4):
        save(tmp_path / "in" / f"{i}.png", Image.fromarray(pattern(seed=i)))
    out = tmp_path / "scores.csv"
    out.write_text("path,score\nold.png,0.5\n")  # an earlier result stays as it was
    real = d2s.inference.scoring.Scorer.score_paths

    def interrupted(self, *args, **kwargs):
        for n, row in enumerate(real(self, *args, **kwargs)):
            if n == 2:
                raise KeyboardInterrupt
            yield row

    monkeypatch.setattr(d2s.inference.scoring.Scorer, "score_paths", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(["score", str(tmp_path / "in"), "-c", str(checkpoint), "-o", str(out), "--force"])
    assert out.read_text() == "path,score\nold.png,0.5\n"
    assert capsys.readouterr().out == ""  # nothing half-written on stdout either
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "scores.csv"]


def test_paths_with_commas_and_spaces_are_quoted(checkpoint, tmp_path, capsys):
    odd = save(tmp_path / 'a, "b" c.png', Image.fromarray(pattern()))
    code, table, _ = score_cli([str(odd), "-c", str(checkpoint)], capsys)
    assert code == 0 and list(table) == [str(odd)]


def test_option_errors(checkpoint, tmp_path, capsys):
    image = save(tmp_path / "x.png", Image.fromarray(pattern()))
    for extra, message in (
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--out", str(tmp_path)], "is a folder"),
        (["--max-pixels", "-1"], "--max-pixels must be 0"),
    ):
        code, _, err = score_cli([str(image), "-c", str(checkpoint), *extra], capsys)
        assert code == 2 and message in err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_scores_match_cpu(checkpoint, tmp_path):
    images = [save(tmp_path / f"{i}.png", Image.fromarray(pattern(seed=i))) for i in range(6)]
    cpu = load(checkpoint, device="cpu").score(images)
    gpu = load(checkpoint, device="cuda").score(images)
    torch.testing.assert_close(gpu, cpu, atol=1e-4, rtol=0)


# checkpoints -------------------------------------------------------------------------------------


def test_an_exported_torchscript_file_is_not_taken_for_a_checkpoint(checkpoint, tmp_path, capsys):
    out = tmp_path / "m.pt"
    assert main(["export", str(checkpoint), "--out", str(out)]) == 0
    capsys.readouterr()
    with pytest.raises(CheckpointError, match="TorchScript archive"):
        load(out)


def test_import_of_the_image_helpers_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, d2s.inference.scoring; "
        "print(any(m.startswith(('d2s.train', 'd2s.registry', 'timm')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
