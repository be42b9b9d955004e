"""Tiny random-weight native Florence-2 (transformers 5) loaded through ``from_pretrained``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from d2s.text.prompts import FLORENCE_TASKS

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def florence_dir(tmp_path_factory):
    from d2s.text.tiny import save_tiny_florence

    return save_tiny_florence(tmp_path_factory.mktemp("tiny-florence"))


def images(count: int) -> list[Image.Image]:
    rng = np.random.default_rng(3)
    return [
        Image.fromarray((rng.random((20 + 5 * i, 28, 3)) * 255).astype("uint8"))
        for i in range(count)
    ]


def test_task_tokens_are_design_values():
    assert FLORENCE_TASKS == {
        "florence-cap1": "<CAPTION>",
        "florence-cap2": "<DETAILED_CAPTION>",
        "florence-cap3": "<MORE_DETAILED_CAPTION>",
    }


@pytest.mark.parametrize("name", ["florence-cap1", "florence-cap3"])
def test_prompt_is_the_task(florence_dir, name):
    from d2s.text.florence import FlorenceCaptioner

    captioner = FlorenceCaptioner(name, florence_dir, max_new_tokens=8, num_beams=1)
    batch = captioner.preprocessor()(images(2))
    text = captioner.processor.tokenizer.decode(batch["input_ids"][0], skip_special_tokens=True)
    expected = captioner.processor.task_prompts_without_inputs[FLORENCE_TASKS[name]]
    assert text.strip() == expected
    assert captioner.settings()["prompts"] == [FLORENCE_TASKS[name]]
    assert batch["image_sizes"] == [(28, 20), (28, 25)]


@pytest.mark.parametrize("num_beams", [1, 3])
def test_batched_equals_one_at_a_time(florence_dir, num_beams):
    from d2s.text.florence import FlorenceCaptioner

    captioner = FlorenceCaptioner(
        "florence-cap2", florence_dir, max_new_tokens=24, num_beams=num_beams
    )
    batch = images(4)
    batched = captioner.caption_batch(captioner.preprocessor()(batch))
    single = [captioner.caption_one(image) for image in batch]
    assert batched == single
    assert len(set(batched)) > 1  # captions depend on the image, so a mix-up would show
    assert all("<pad>" not in c and "</s>" not in c for c in batched)


def test_postprocess_drops_padding_and_specials(florence_dir):
    from d2s.text.florence import FlorenceCaptioner

    captioner = FlorenceCaptioner("florence-cap1", florence_dir, max_new_tokens=4, num_beams=1)
    tok = captioner.processor.tokenizer
    words = tok(" a red car", add_special_tokens=False)["input_ids"]
    row = [tok.eos_token_id, tok.bos_token_id, *words, tok.eos_token_id]
    short = [tok.eos_token_id, tok.bos_token_id, *words[:2], tok.eos_token_id]
    short += [tok.pad_token_id] * (len(row) - len(short))
    out = captioner.postprocess(torch.tensor([row, short]), [(10, 10), (10, 10)])
    assert out == ["a red car", "a red"]
