"""The captioners on hub-shaped checkpoints (d2s/ops/rehearsal/transformers_hub.py): the real BLIP and
Florence-2 tokenizers, configs and processors, loaded through ``from_pretrained`` by hub id from an
``HF_HOME`` written here (reduced widths; random weights)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("transformers")

from d2s.ops.rehearsal.transformers_hub import (  # noqa: E402
    TINY_BLIP,
    TINY_FLORENCE,
    write_blip,
    write_florence,
)
from d2s.text.prompts import BLIP_MODEL_ID  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_thread):
    """Tiny models: one torch thread (see conftest.one_thread)."""


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("hf-home")
    write_blip(home, reduce=TINY_BLIP)
    write_florence(home, reduce=TINY_FLORENCE)
    return home


def _snapshot(hf_home, repo_id):
    refs = hf_home / "hub" / f"models--{repo_id.replace('/', '--')}"
    return refs / "snapshots" / (refs / "refs" / "main").read_text()


def _image(seed=0, size=(300, 220)):
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _blocks(seed, size=(300, 220)):
    """Images of different layouts: a 3x3 grid of random colours, upscaled."""
    from PIL import Image

    cells = np.random.default_rng(seed).integers(0, 256, (3, 3, 3), dtype=np.uint8)
    return Image.fromarray(cells).resize(size, Image.Resampling.NEAREST)


def test_blip_real_tokenizer_has_no_dec_and_bos_comes_from_the_config(hf_home):
    from d2s.text.blip import BlipCaptioner

    captioner = BlipCaptioner(_snapshot(hf_home, BLIP_MODEL_ID), max_new_tokens=6)
    tokenizer = captioner.processor.tokenizer
    assert len(tokenizer) == 30522 and "[DEC]" not in tokenizer.get_vocab()
    assert tokenizer.bos_token_id is None
    assert captioner.model.config.text_config.bos_token_id == 30522
    # The batched path (BOS written from the config) equals the public generate, image by image.
    images = [_image(0), _image(1)]
    batched = captioner.caption_batch(captioner.preprocessor()(images))
    assert batched == [captioner.caption_one(image) for image in images]
    assert all(caption.startswith("this image shows") for caption in batched)


def test_tiny_blip_is_laid_out_like_the_hub(tmp_path):
    """The tests' tiny BLIP must not hide the real BOS path behind a tokenizer [DEC]."""
    from transformers import BlipConfig, BlipProcessor

    from d2s.text.tiny import save_tiny_blip

    folder = save_tiny_blip(tmp_path)
    tokenizer = BlipProcessor.from_pretrained(folder).tokenizer
    text = BlipConfig.from_pretrained(folder).text_config
    assert "[DEC]" not in tokenizer.get_vocab() and tokenizer.bos_token_id is None
    assert text.bos_token_id == len(tokenizer) and text.vocab_size == len(tokenizer) + 2


@pytest.mark.parametrize("kind", ["blip", "florence"])
def test_half_precision_checkpoint_is_loaded_in_fp32_and_recorded(tmp_path, kind):
    from d2s.text.run import load_captioner

    writer, reduce, name = {
        "blip": (write_blip, TINY_BLIP, "blip"),
        "florence": (write_florence, TINY_FLORENCE, "florence-cap1"),
    }[kind]
    snapshot = writer(tmp_path, reduce=reduce, dtype="float16")
    assert json.loads((snapshot / "config.json").read_text())["dtype"] == "float16"
    captioner = load_captioner(name, snapshot)
    assert {p.dtype for p in captioner.model.parameters()} == {__import__("torch").float32}
    assert captioner.settings()["dtype"] == "float32"


def test_florence_decoding_is_a_named_option_recorded_in_the_settings(hf_home):
    from d2s.text.florence import FlorenceCaptioner
    from d2s.text.prompts import FLORENCE_DECODINGS, FLORENCE_MODEL_ID

    snapshot = _snapshot(hf_home, FLORENCE_MODEL_ID)
    released = FlorenceCaptioner("florence-cap1", snapshot)
    card = FlorenceCaptioner("florence-cap1", snapshot, decoding="model-card")
    assert released.settings()["decoding_name"] == "released"
    assert card.settings()["decoding_name"] == "model-card"
    assert card.settings()["decoding"]["early_stopping"] is False
    assert (
        released.settings()["decoding"]["num_beams"]
        == 3
        == card.settings()["decoding"]["num_beams"]
    )
    seen = {}

    def generate(**kwargs):
        seen.update(kwargs)
        return kwargs["input_ids"][:, :2]

    card.model.generate = generate
    card.caption_batch(card.preprocessor()([_image()]))
    assert {k: seen[k] for k in FLORENCE_DECODINGS["model-card"]} == FLORENCE_DECODINGS[
        "model-card"
    ]


def _ic9600(root, names):
    (root / "images").mkdir(parents=True)
    for index, name in enumerate(names):
        _image(index).save(root / "images" / name)
    (root / "train.txt").write_text("".join(f"{n}  0.5\n" for n in names))
    (root / "test.txt").write_text("")


def _cli(args, hf_home):
    env = {
        **os.environ,
        "HF_HOME": str(hf_home),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "d2s", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_caption_cli_loads_blip_by_hub_id_and_refuses_a_renamed_weight(hf_home, tmp_path):
    """`d2s caption` by hub id from HF_HOME; a weight file with one key renamed stops it (exit 2,
    one line naming model.safetensors), instead of captioning with random weights."""

    from safetensors.torch import load_file, save_file

    hf_home = shutil.copytree(hf_home, tmp_path / "hf")
    snapshot = _snapshot(hf_home, BLIP_MODEL_ID)
    root = tmp_path / "ic9600"
    _ic9600(root, ["abstract_1.jpg", "scenes_2.jpg"])
    args = ["caption", "--captioner", "blip", "--dataset", "ic9600", "--root", str(root)]
    args += ["--device", "cpu", "--batch-size", "2", "--no-progress"]
    good = _cli([*args, "--out", str(tmp_path / "good.tsv")], hf_home)
    assert good.returncode == 0, good.stderr
    settings = json.loads((tmp_path / "good.tsv.json").read_text())["settings"]
    assert settings["model"] == BLIP_MODEL_ID and settings["dtype"] == "float32"

    weights = snapshot / "model.safetensors"
    tensors = load_file(weights)
    key = next(k for k in tensors if k.startswith("text_decoder.bert.") and k.endswith(".weight"))
    tensors[key.removesuffix("weight") + "renamed"] = tensors.pop(key)
    save_file(tensors, weights, metadata={"format": "pt"})
    bad = _cli([*args, "--out", str(tmp_path / "bad.tsv")], hf_home)
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert "Traceback" not in bad.stderr and "LOAD REPORT" not in bad.stderr
    assert [line for line in lines if "error" in line] == lines[-1:]
    assert "model.safetensors" in lines[-1] and key in lines[-1]
    assert not (tmp_path / "bad.tsv").exists()


def test_florence_tokenizer_has_the_real_sizes_special_ids_and_pieces(hf_home):
    from transformers import AutoProcessor

    from d2s.text.prompts import FLORENCE_MODEL_ID

    processor = AutoProcessor.from_pretrained(_snapshot(hf_home, FLORENCE_MODEL_ID))
    tokenizer = processor.tokenizer
    ids = tokenizer.convert_tokens_to_ids
    assert len(tokenizer) == 51290 and tokenizer.image_token_id == 51289
    assert [ids(t) for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")] == [0, 1, 2, 3, 50264]
    assert (ids("<od>"), ids("<loc_0>"), ids("<loc_999>"), ids("<and>")) == (
        50265,
        50269,
        51268,
        51288,
    )
    pieces = tokenizer.tokenize("What does the image describe?")
    assert pieces == ["What", "Ġdoes", "Ġthe", "Ġimage", "Ġdescribe", "?"]
    assert processor.image_processor.size == {"height": 768, "width": 768}


def test_hub_shaped_florence_answers_end_like_a_trained_models(hf_home):
    """With the paper's decoding (1,024 new tokens, 3 beams) a random-weight Florence-2 would
    decode to the limit; the hub-shaped one ends its answers after CAPTION_TOKENS tokens."""
    from d2s.ops.rehearsal.captioner_weights import CAPTION_TOKENS
    from d2s.text.florence import FlorenceCaptioner
    from d2s.text.prompts import FLORENCE_MODEL_ID

    captioner = FlorenceCaptioner("florence-cap2", _snapshot(hf_home, FLORENCE_MODEL_ID))
    assert captioner.settings()["max_new_tokens"] == 1024
    batch = captioner.preprocessor()([_image()])
    inputs = {k: batch[k] for k in ("input_ids", "pixel_values", "attention_mask") if k in batch}
    out = captioner.model.generate(**inputs, **captioner.generate_args)
    assert out.shape[1] <= CAPTION_TOKENS + 3, out.shape  # start, the answer, </s>
    assert captioner.caption_one(_image()) != ""


@pytest.fixture(scope="module")
def rehearsal_hf_home(tmp_path_factory):
    """The captioners at the rehearsal's sizes (``d2s rehearse hub``: REDUCED_*)."""
    home = tmp_path_factory.mktemp("hf-rehearsal")
    write_blip(home)
    write_florence(home)
    return home


@pytest.mark.parametrize("kind", ["blip", "florence-cap3"])
def test_hub_shaped_captions_vary_with_the_image(rehearsal_hf_home, kind):
    """A caption-only model trains on the captions alone: one caption for every image would make
    it predict a constant (d2s train refuses that run)."""
    from d2s.text.blip import BlipCaptioner
    from d2s.text.florence import FlorenceCaptioner
    from d2s.text.prompts import BLIP_MODEL_ID, FLORENCE_MODEL_ID

    if kind == "blip":
        captioner = BlipCaptioner(_snapshot(rehearsal_hf_home, BLIP_MODEL_ID))
    else:
        snapshot = _snapshot(rehearsal_hf_home, FLORENCE_MODEL_ID)
        captioner = FlorenceCaptioner(kind, snapshot)
    captions = {captioner.caption_one(_blocks(seed)) for seed in range(4)}
    assert len(captions) >= 2, captions
