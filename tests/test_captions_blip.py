"""Tiny random-weight BLIP loaded through ``from_pretrained``: prefixes, batching, settings."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from d2s.text.prompts import BLIP_PROMPTS

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def blip_dir(tmp_path_factory):
    from d2s.text.tiny import save_tiny_blip

    return save_tiny_blip(tmp_path_factory.mktemp("tiny-blip"))


@pytest.fixture(scope="module")
def captioner(blip_dir):
    from d2s.text.blip import BlipCaptioner

    return BlipCaptioner(blip_dir)


def images(count: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [
        Image.fromarray((rng.random((16 + 3 * i, 24, 3)) * 255).astype("uint8"))
        for i in range(count)
    ]


def test_four_prefixes_in_order(captioner):
    for caption in captioner.caption_batch(captioner.preprocessor()(images(3))):
        assert caption == caption.lower()
        assert caption.startswith(BLIP_PROMPTS[0])
        position = 0
        for i, prompt in enumerate(BLIP_PROMPTS):
            marker = prompt if i == 0 else ". " + prompt
            found = caption.find(marker, position)
            assert found >= position, (prompt, caption)
            position = found + len(marker)


def test_batched_equals_one_at_a_time(captioner):
    batch = images(5, seed=1)
    batched = captioner.caption_batch(captioner.preprocessor()(batch))
    single = [captioner.caption_one(image) for image in batch]
    assert batched == single
    assert len(set(batched)) > 1  # the images do get different captions


def test_decoded_prefix_is_complete(captioner):
    # generate() drops the prefix's last token: the tokenizer must add [SEP] so no word is lost.
    ids = captioner.prompt_ids[3][0].tolist()
    tok = captioner.processor.tokenizer
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert tok.decode(ids, skip_special_tokens=True) == BLIP_PROMPTS[3]


def test_settings_record_design_values(captioner, blip_dir):
    settings = captioner.settings()
    assert settings["captioner"] == "blip"
    assert settings["model"] == str(blip_dir)
    assert settings["prompts"] == list(BLIP_PROMPTS)
    assert settings["max_new_tokens"] == 64
    assert settings["precision"] == "fp32"


def test_tiny_tokenizer_is_refused(tmp_path, blip_dir):
    """The silent offline failure (a 2-5 token tokenizer) must not caption anything."""
    import shutil

    from transformers import BertTokenizer, BlipProcessor

    from d2s.text.blip import BlipCaptioner

    broken = tmp_path / "broken"
    shutil.copytree(blip_dir, broken)
    processor = BlipProcessor.from_pretrained(blip_dir)
    processor.tokenizer = BertTokenizer(vocab={"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3})
    processor.save_pretrained(broken)
    with pytest.raises(ValueError, match=r"has only \d tokens"):
        BlipCaptioner(broken)


def test_precision_rules():
    from d2s.text.precision import resolve_precision

    assert resolve_precision("cpu", "auto") == "fp32"
    with pytest.raises(ValueError):
        resolve_precision("cpu", "bf16")
