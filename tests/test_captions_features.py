"""The text-feature file of a caption cache: equal to a direct encoder call, rebuilt on change."""

from __future__ import annotations

import argparse

import pytest
import torch

from d2s.text.cache import CaptionCache


def write_cache(path, rows, complete=True):
    cache = CaptionCache.open(path, {"captioner": "test", "model": "none"})
    cache.append(rows)
    if complete:
        cache.finish(name for name, _ in rows)


ROWS = [
    ("a b.jpg", "this image shows a red car. the main objects are a car"),
    ("c.jpg", "this image shows a plain wall"),
    ("d.jpg", "this image shows many dots and lines"),
]


def test_features_equal_direct_encoder_call(tmp_path, text_encoder):
    from d2s.method.losses import entropy
    from d2s.text.features import build_text_features, load_text_features

    captions = tmp_path / "c.tsv"
    write_cache(captions, ROWS)
    out = tmp_path / "feat" / "c.pt"
    build_text_features(captions, out, text_encoder, progress=False)
    record = load_text_features(out)
    direct = text_encoder([c for _, c in ROWS])
    assert record["names"] == [n for n, _ in ROWS]
    assert record["index"]["c.jpg"] == 1
    assert record["features"].shape == (3, 512)
    torch.testing.assert_close(record["features"], direct, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(record["entropy"], entropy(direct), rtol=1e-5, atol=1e-5)
    assert record["encoder_id"] == text_encoder.encoder_id


def test_rebuilt_when_a_caption_changes(tmp_path, text_encoder, monkeypatch):
    import d2s.text.clip
    from d2s.text.features import build_text_features

    calls = []
    real = d2s.text.clip.embed_captions

    def counting(captions, *args, **kwargs):
        calls.append(list(captions))
        return real(captions, *args, **kwargs)

    monkeypatch.setattr(d2s.text.clip, "embed_captions", counting)
    captions = tmp_path / "c.tsv"
    out = tmp_path / "c.pt"
    write_cache(captions, ROWS)
    first = build_text_features(captions, out, text_encoder, progress=False)
    again = build_text_features(captions, out, text_encoder, progress=False)
    assert len(calls) == 1  # unchanged captions: read back from the cache
    torch.testing.assert_close(again["features"], first["features"])

    changed = [ROWS[0], ("c.jpg", "this image shows a busy street"), ROWS[2]]
    captions.unlink()
    captions.with_name("c.tsv.json").unlink()
    write_cache(captions, changed)
    second = build_text_features(captions, out, text_encoder, progress=False)
    assert len(calls) == 2 and second["key"] != first["key"]
    direct = text_encoder(["this image shows a busy street"])
    torch.testing.assert_close(second["features"][1:2], direct, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(second["features"][0], first["features"][0])
    assert not torch.allclose(second["features"][1], first["features"][1])


def test_incomplete_cache_refused(tmp_path, text_encoder):
    from d2s.text.cache import CaptionCacheError
    from d2s.text.features import build_text_features

    captions = tmp_path / "c.tsv"
    write_cache(captions, ROWS[:2], complete=False)
    with pytest.raises(CaptionCacheError, match="not complete"):
        build_text_features(captions, tmp_path / "x.pt", text_encoder, progress=False)


def test_cli(tmp_path, text_encoder, monkeypatch, capsys):
    import json

    import d2s.text.clip
    from d2s.cli import text_features
    from d2s.text.features import load_text_features

    # The CLI builds the encoder itself; reuse the session's (same id: random-init-seed0).
    monkeypatch.setattr(d2s.text.clip, "load_text_encoder", lambda **kwargs: text_encoder)
    captions = tmp_path / "c.tsv"
    write_cache(captions, ROWS)
    parser = argparse.ArgumentParser()
    text_features.register(parser.add_subparsers())
    out = tmp_path / "f.pt"
    args = parser.parse_args(
        ["text-features", "--captions", str(captions), "--out", str(out)]
        + ["--clip-weights", "random", "--no-progress"]
    )
    assert args.func(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["captions"] == 3
    assert load_text_features(out)["names"] == [n for n, _ in ROWS]


def test_sidecar_counts_captions_cut_at_77_tokens(tmp_path, text_encoder):
    import json

    from d2s.text.features import build_text_features

    long = "this image shows " + " ".join(f"object{i}" for i in range(120))
    captions = tmp_path / "c.tsv"
    write_cache(captions, [*ROWS, ("long.jpg", long)])
    out = tmp_path / "c.pt"
    record = build_text_features(captions, out, text_encoder, progress=False)
    sidecar = json.loads((tmp_path / "c.pt.json").read_text())
    # independently: the tokenizer's full-length encoding of each caption, plus start and end
    lengths = [len(text_encoder.tokenizer.encode(c)) + 2 for _, c in [*ROWS, ("long.jpg", long)]]
    assert sum(n > 77 for n in lengths) == 1 == record["truncated"]
    assert sidecar["truncated_at_context"] == 1 and sidecar["captions"] == 4
