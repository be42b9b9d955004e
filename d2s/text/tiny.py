"""Tiny random-weight BLIP and Florence-2 checkpoints, written to a folder in the hub layout.

docs/design.md §6: no hub here, so the real loading code (``from_pretrained`` on a folder) is exercised
with small models built from configs. Both use real tokenizers (a BERT WordPiece vocabulary / a
byte-level BPE vocabulary written here) and real processors, so they load exactly like the hub
checkpoints. They caption in milliseconds; their captions are random words.
"""

from __future__ import annotations

import os
from pathlib import Path

from d2s.text.prompts import BLIP_PROMPTS

# Common English words: with the prefix words and single letters they make a ~200-token WordPiece
# vocabulary, so decoded random captions read as words.
_WORDS = """
a an the of and or in on at to with without from by for is are was be has have this that these
those it its there here image photo picture shows show main objects object background looks look
overall visual complexity complex simple plain busy clutter cluttered many few some one two three
several lots red green blue yellow white black gray orange purple brown pink dark light bright
colorful pattern patterns texture stripes checker noise gradient lines dots shapes shape circle
square triangle star tree trees car cars dog cat person people man woman house building sky road
street water grass field room table chair wall floor window door city park beach mountain
small large big little very quite rather high low medium level detailed detail abstract painting
advertisement architecture scene scenes transport objects paintings persons flat smooth rough
""".split()


def blip_vocab() -> dict[str, int]:
    """A BERT-style WordPiece vocabulary covering the four D2S prefixes (docs/design.md §1.2)."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    prompt_words = [w for p in BLIP_PROMPTS for w in p.split()]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    tokens = specials + prompt_words + _WORDS + letters + [f"##{c}" for c in letters] + list(".,")
    return {token: index for index, token in enumerate(dict.fromkeys(tokens))}


def save_tiny_blip(folder: str | os.PathLike, seed: int = 0, image_size: int = 32) -> Path:
    """A random-weight ``BlipForConditionalGeneration`` + ``BlipProcessor`` saved in ``folder``.

    Laid out like the hub's BLIP: the tokenizer is a plain BERT one (no ``[DEC]``) that ends a
    prefix with ``[SEP]`` (BLIP's ``generate`` drops it); the text model has two rows more than
    the tokenizer, and its ``bos_token_id`` is the first of them (the hub's 30522 after BERT's
    30,522 tokens), so BOS comes from the config, never from the tokenizer. Weights
    are drawn wider than BLIP's default (std 0.5, not 0.02) so that the image visibly changes the
    caption: with the default, a random tiny BLIP writes the same words for every image.
    """
    import torch
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    folder = Path(folder)
    vocab = blip_vocab()
    tokenizer = BertTokenizer(vocab=vocab)
    image_processor = BlipImageProcessor(size={"height": image_size, "width": image_size})
    processor = BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)
    config = BlipConfig(
        text_config={
            "vocab_size": len(vocab) + 2,  # BLIP's [DEC] and [ENC] rows, past the tokenizer
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "encoder_hidden_size": 32,
            "max_position_embeddings": 128,
            "bos_token_id": len(vocab),
            "sep_token_id": vocab["[SEP]"],
            "eos_token_id": vocab["[SEP]"],
            "pad_token_id": vocab["[PAD]"],
            "initializer_range": 0.5,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": image_size,
            "patch_size": 8,
            "initializer_range": 0.5,
        },
        projection_dim=32,
        initializer_range=0.5,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BlipForConditionalGeneration(config).eval()
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def florence_vocab() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A byte-level BPE vocabulary (BART style, ``Ġ`` = space) and its merges."""
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    chars += [chr(c) for c in range(ord("A"), ord("Z") + 1)] + list("Ġ.,?")
    words = ["Ġ" + w for w in _WORDS[:60]]
    merges: list[tuple[str, str]] = []
    tokens = list(chars)
    for word in words:  # merge left to right: Ġ+a → Ġa, Ġa+n → Ġan, ...
        piece = word[0]
        for char in word[1:]:
            merges.append((piece, char))
            piece += char
            tokens.append(piece)
    vocab = {t: i for i, t in enumerate(dict.fromkeys(specials + tokens + ["<image>"]))}
    return vocab, list(dict.fromkeys(merges))


def save_tiny_florence(folder: str | os.PathLike, seed: int = 0, image_size: int = 32) -> Path:
    """A random-weight native ``Florence2ForConditionalGeneration`` + ``Florence2Processor``.

    The DaViT vision tower reduces the image 32× (strides 4·2·2·2); Florence-2 adds one pooled
    token, so the processor inserts ``(image_size / 32)² + 1`` image tokens. Weights are drawn
    wide (std 0.5) so that captions depend on the image.
    """
    import torch
    from transformers import (
        BartTokenizer,
        CLIPImageProcessor,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2Processor,
    )

    if image_size % 32:
        raise ValueError("image_size must be a multiple of 32")
    folder = Path(folder)
    vocab, merges = florence_vocab()
    tokenizer = BartTokenizer(
        vocab=vocab, merges=merges, extra_special_tokens={"image_token": "<image>"}
    )
    image_processor = CLIPImageProcessor(
        size={"height": image_size, "width": image_size},
        crop_size={"height": image_size, "width": image_size},
        do_center_crop=False,
        image_seq_length=(image_size // 32) ** 2 + 1,
    )
    processor = Florence2Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        post_processor_config={"pure_text": {}},
    )
    config = Florence2Config(
        text_config={
            "model_type": "bart",
            "vocab_size": len(vocab),
            "d_model": 32,
            "encoder_layers": 1,
            "decoder_layers": 1,
            "encoder_attention_heads": 2,
            "decoder_attention_heads": 2,
            "encoder_ffn_dim": 64,
            "decoder_ffn_dim": 64,
            "max_position_embeddings": 1100,
            "bos_token_id": vocab["<s>"],
            "pad_token_id": vocab["<pad>"],
            "eos_token_id": vocab["</s>"],
            "decoder_start_token_id": vocab["</s>"],
            "forced_eos_token_id": vocab["</s>"],
            "init_std": 0.5,
        },
        vision_config={
            "embed_dim": [8, 8, 16, 32],
            "depths": [1, 1, 1, 1],
            "num_heads": [1, 1, 2, 2],
            "num_groups": [1, 1, 2, 2],
            "window_size": 2,
            "projection_dim": 32,
            "drop_path_rate": 0.0,
            "initializer_range": 0.5,
        },
        image_token_id=vocab["<image>"],
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Florence2ForConditionalGeneration(config).eval()
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
