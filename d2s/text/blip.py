"""BLIP conditional captioning with the four D2S prefixes (docs/design.md §1.2), batched.

docs/design.md §1.2: ``Salesforce/blip-image-captioning-large``; four prefixes, each generated
independently on the same image; ``max_new_tokens=64``; default decoding; each decoded output
includes its prefix (lower case, BLIP's BERT tokenizer is uncased); joined with ``". "``.

Batching. BLIP's ``generate`` puts BOS in place of the prefix's first token ([CLS]) and drops its
last one ([SEP]), so it only works with unpadded prefixes; and its BERT-style text decoder takes
absolute positions from the start of the row, so left padding would shift them. Prefixes of
different token lengths therefore cannot share a decoder batch without changing the result.
:meth:`BlipCaptioner.caption_batch` runs the vision encoder once for a batch of images and then one
decoder ``generate`` per prefix over all those images (equal lengths, no padding), doing exactly
what ``BlipForConditionalGeneration.generate`` does per call. :meth:`BlipCaptioner.caption_one` is
the plain one-image-one-prefix loop through the public ``generate``: the reference the batched path
must equal under greedy decoding.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from d2s.text.loading import load_model, weights_dtype
from d2s.text.precision import autocast, check_tokenizer, resolve_precision
from d2s.text.prompts import BLIP_MAX_NEW_TOKENS, BLIP_MODEL_ID, BLIP_PROMPTS, join_blip

#: Generation-config fields that decide the decoded text; recorded in the cache settings.
DECODING_FIELDS = (
    "num_beams",
    "do_sample",
    "temperature",
    "top_k",
    "top_p",
    "repetition_penalty",
    "length_penalty",
    "no_repeat_ngram_size",
    "min_length",
    "early_stopping",
)


def decoding_settings(generation_config, **passed: Any) -> dict[str, Any]:
    """The decoding fields in effect: the model's ``GenerationConfig``, then what ``generate`` is
    passed (``passed`` wins, as in ``generate``)."""
    settings = {name: getattr(generation_config, name, None) for name in DECODING_FIELDS}
    settings.update({name: value for name, value in passed.items() if name in DECODING_FIELDS})
    return settings


class BlipImages:
    """Picklable image preprocessing (runs in DataLoader workers): PIL images → pixel values."""

    def __init__(self, image_processor) -> None:
        self.image_processor = image_processor

    def __call__(self, images: list) -> dict[str, torch.Tensor]:
        return {
            "pixel_values": self.image_processor(images=images, return_tensors="pt")["pixel_values"]
        }


class BlipCaptioner:
    """BLIP with the four D2S prefixes.

    Args:
        model: hub id or local folder, loaded with ``BlipForConditionalGeneration`` /
            ``BlipProcessor.from_pretrained``.
        device: torch device.
        precision: ``fp32`` (default: the authors decode BLIP in fp32), ``auto`` (bf16/fp16
            autocast on CUDA, fp32 on CPU), ``bf16``, ``fp16``.
        prompts, max_new_tokens: docs/design.md §1.2 values by default.
        dtype: of the loaded weights (default ``float32`` whatever the checkpoint's own dtype;
            ``precision`` adds autocast on top). Recorded in :meth:`settings`.

    BOS. BLIP's tokenizer is BERT's (no ``[DEC]`` token): the decoder's BOS is the text config's
    ``bos_token_id`` (30522 on the hub, a row past the tokenizer's 30,522 entries), as in
    ``BlipForConditionalGeneration.generate``; decoding skips it like a special token.
    """

    name = "blip"

    def __init__(
        self,
        model: str | os.PathLike = BLIP_MODEL_ID,
        device: str | torch.device = "cpu",
        precision: str = "fp32",
        prompts: tuple[str, ...] = BLIP_PROMPTS,
        max_new_tokens: int = BLIP_MAX_NEW_TOKENS,
        dtype: str = "float32",
    ) -> None:
        from transformers import BlipForConditionalGeneration, BlipProcessor

        self.model_id = str(model)
        self.device = torch.device(device)
        self.precision = resolve_precision(self.device, precision)
        self.prompts = tuple(prompts)
        self.max_new_tokens = int(max_new_tokens)
        self.processor = BlipProcessor.from_pretrained(self.model_id)
        tokenizer = self.processor.tokenizer
        check_tokenizer(tokenizer, self.model_id)
        self.model = load_model(BlipForConditionalGeneration, self.model_id, dtype)
        self.model.to(self.device).eval()
        # Token ids of each prefix as the processor makes them: [CLS] words [SEP].
        self.prompt_ids = [tokenizer(p, return_tensors="pt")["input_ids"] for p in self.prompts]
        for prompt, ids in zip(self.prompts, self.prompt_ids, strict=True):
            if tokenizer.unk_token_id is not None and tokenizer.unk_token_id in ids:
                raise ValueError(f"{self.model_id}: prefix {prompt!r} has unknown tokens")
            if ids[0, -1].item() != tokenizer.sep_token_id:
                raise ValueError(f"{self.model_id}: prefix {prompt!r} must end with [SEP]")

    def settings(self) -> dict[str, Any]:
        """What decides the captions; a cache resumes only under equal settings."""
        return {
            "captioner": self.name,
            "model": self.model_id,
            "prompts": list(self.prompts),
            "join": "each output + '. ', stripped",
            "max_new_tokens": self.max_new_tokens,
            "decoding": decoding_settings(self.model.text_decoder.generation_config),
            "precision": self.precision,
            "dtype": weights_dtype(self.model),
        }

    def preprocessor(self) -> BlipImages:
        return BlipImages(self.processor.image_processor)

    def _decode(self, sequences: torch.Tensor) -> list[str]:
        return [t.strip() for t in self.processor.batch_decode(sequences, skip_special_tokens=True)]

    @torch.no_grad()
    def caption_batch(self, batch: dict[str, torch.Tensor]) -> list[str]:
        """Captions of a preprocessed batch: one vision pass, one decoder ``generate`` per prefix."""
        model = self.model
        text_config = model.config.text_config
        pixel_values = batch["pixel_values"].to(self.device)
        size = pixel_values.shape[0]
        per_prompt = []
        with autocast(self.device, self.precision):
            image_embeds = model.vision_model(pixel_values=pixel_values)[0]
            image_mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=self.device)
            for ids in self.prompt_ids:
                # As BlipForConditionalGeneration.generate: BOS replaces [CLS], [SEP] is dropped.
                input_ids = ids.to(self.device).repeat(size, 1)
                input_ids[:, 0] = text_config.bos_token_id
                input_ids = input_ids[:, :-1]
                out = model.text_decoder.generate(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    eos_token_id=text_config.sep_token_id,
                    pad_token_id=text_config.pad_token_id,
                    encoder_hidden_states=image_embeds,
                    encoder_attention_mask=image_mask,
                    max_new_tokens=self.max_new_tokens,
                )
                per_prompt.append(self._decode(out))
        return [join_blip([texts[i] for texts in per_prompt]) for i in range(size)]

    @torch.no_grad()
    def caption_one(self, image) -> str:
        """The unbatched reference: one public ``generate`` call per prefix for one PIL image."""
        outputs = []
        with autocast(self.device, self.precision):
            for prompt in self.prompts:
                inputs = self.processor(images=image, text=prompt, return_tensors="pt").to(
                    self.device
                )
                out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens)
                outputs.extend(self._decode(out))
        return join_blip(outputs)
