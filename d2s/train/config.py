"""Training configuration: one flat, typed record; YAML file plus ``key=value`` overrides.

Every key is checked: an unknown key or a value of the wrong type stops the run with a message
naming it. Defaults are the paper's D2S settings (docs/design.md §1); the defaults of the model's
recipe (:data:`d2s.train.recipes.RECIPES`, e.g. ICNet's own, docs/design.md §2) apply unless the
file or the command line sets the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import yaml

from d2s.data.cache import cache_setting
from d2s.train.checks import ConfigError


@dataclass(frozen=True)
class TrainConfig:
    """Every ``d2s train`` key; the defaults are the paper's D2S settings (docs/design.md §1),
    the one place they are written (the components take them as explicit arguments)."""

    # what to train ---------------------------------------------------------------------------
    # a model of the model table (d2s/registry/models.py); its recipe's defaults apply below the file
    model: str = "d2s-r18"
    # entropy alignment loss L_eal (Eq. 11, Table 5's switch)
    use_eal: bool = True
    # feature alignment loss L_fal, the symmetric InfoNCE (Eq. 11, Table 5's switch)
    use_fal: bool = True
    # released: EAL without gradient, as the authors' code; online: this suite's reading of
    # Eq. 11 with the online batch entropies' gradient (docs/design.md §1.1)
    eal_mode: str = "released"
    # model selection: the released protocol's best test PLCC, or a held-out validation split
    select: str = "test-plcc"
    # λ of Eq. 11 (paper: 5)
    eal_weight: float = 5.0
    # γ of Eq. 11 (paper: 0.01)
    fal_weight: float = 0.01
    # InfoNCE temperature τ (paper: fixed 0.07)
    temperature: float = 0.07
    # EAL memory buffer size M (Table 6; paper: 2048)
    buffer_size: int = 2048
    # EMA momentum m of the momentum model (Table 6; paper: 0.995)
    momentum: float = 0.995
    # refresh period: len(buffer) // refresh_steps entries re-read per step (Table 6; paper: 50)
    refresh_steps: int = 50
    # data ------------------------------------------------------------------------------------
    # dataset loader name (d2s/data/registry.py)
    dataset: str = "ic9600"
    # the dataset folder (required)
    root: str = ""
    # folder of split files replacing the dataset's own (SST, NR-IQA protocols)
    split_dir: str | None = None
    # split trained on
    train_split: str = "train"
    # split tested on (and selected on, under select: test-plcc)
    test_split: str = "test"
    # validation split for select: val; None: val_fraction of the training split
    val_split: str | None = None
    # share of the training split held out for select: val when there is no val_split
    val_fraction: float = 0.1
    # seed of that hold-out
    split_seed: int = 0
    # caption TSV (image<TAB>caption), encoded on first use and cached
    captions: str | None = None
    # pre-computed caption features (d2s text-features); replaces captions
    text_features: str | None = None
    # negative control of the text guidance (docs/design.md §1.4): none (the real captions),
    # shuffled (a seeded permutation without fixed points of the training captions) or constant
    # (one training caption for every image); the same features, re-paired in training only
    caption_control: str = "none"
    # open_clip weights of the frozen text encoder (a tag, a file, or random)
    clip_weights: str = "laion2b_s34b_b79k"
    # cache folder of encoded captions
    text_cache: str = "resources/cache/text"
    # square input side (paper: 512)
    image_size: int = 512
    # random horizontal flip in training (paper: on)
    hflip: bool = True
    # decoded-image cache (d2s/data/cache.py): "auto" = resources/cache/images, a folder, or
    # "off" for the per-image PIL path (no disk cost; for a dataset too big to cache). Built on
    # first use, shared by every run of the dataset split at this image_size; bitwise the same
    # inputs as the PIL path, so it is not part of the fingerprint.
    image_cache: str = "auto"
    # keep the cache on the device and flip / normalise there: "auto" = on CUDA when it takes at
    # most half the free device memory, "always", or "never" (host copies per step)
    image_cache_device: str = "auto"
    # optimisation ----------------------------------------------------------------------------
    # d2s: AdamW + cosine annealing per epoch; icnet: ICNet's SGD recipe (docs/design.md §2)
    recipe: str = "d2s"
    # seed of initialisation, shuffling and augmentation
    seed: int = 42
    # training epochs (paper: 20)
    epochs: int = 20
    # training batch size (paper: 32)
    batch_size: int = 32
    # learning rate (paper: 1e-3, one for all parameters)
    lr: float = 1e-3
    # weight decay (paper: 1e-3)
    weight_decay: float = 1e-3
    # floor of the cosine schedule (released code: 2.5e-5; the paper text says 2.5e-6)
    min_lr: float = 2.5e-5
    # start the trunk from ImageNet weights
    pretrained: bool = True
    # local file of those weights (machines without hub access)
    pretrained_file: str | None = None
    # execution -------------------------------------------------------------------------------
    # auto (CUDA when there is one; a run_label: paper run stops rather than fall back to the CPU),
    # cpu, cuda, cuda:N
    device: str = "auto"
    # fp32 as the released code trains D2S (TF32 matmuls/convolutions allowed on CUDA); bf16 =
    # autocast for the training forward only. Selection and test predictions are always fp32.
    precision: str = "fp32"
    # the momentum model's forward (it only ever infers): fp16 autocast as the released code, bf16,
    # or fp32; auto = fp16 on CUDA, bf16 on a CPU with native bf16 (AMX / AVX512-BF16), else fp32
    # (d2s.method.alignment.resolve_momentum_precision). Under eal_mode released it changes only the
    # logged EAL value (that term carries no gradient); under online it enters the gradient.
    momentum_precision: str = "auto"
    # cudnn.deterministic = True, cudnn.benchmark = False on CUDA, as the released code sets them;
    # false trades bitwise repeatability for speed.
    cudnn_deterministic: bool = True
    # keep the last partial batch of an epoch, as the released loop does (drop_last=False)
    drop_last: bool = False
    # gradient checkpointing of the backbone (timm's set_grad_checkpointing; same loss and
    # gradients, slower): auto = only when the step would not fit the GPU, always, or never
    grad_checkpointing: str = "auto"
    # channels-last memory format on CUDA (faster convolutions, same results)
    channels_last: bool = True
    # DataLoader worker processes (0: decode in this one)
    num_workers: int = 0
    # torch threads (0: torch's default)
    threads: int = 0
    # batch size of selection and test predictions
    eval_batch_size: int = 64
    # label written into every result (paper, demo, ...)
    run_label: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def fingerprint(self) -> str:
        """Hash of everything that changes the result (not where or how fast it runs)."""
        ignored = {
            "device",
            "num_workers",
            "threads",
            "eval_batch_size",
            "text_cache",
            "cudnn_deterministic",
            "image_cache",
            "image_cache_device",
            "grad_checkpointing",
        }
        payload = {k: v for k, v in self.to_dict().items() if k not in ignored}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def needs_text(self) -> bool:
        """Whether the run reads caption features (text-input models, or D2S with EAL/FAL)."""
        from d2s.registry import model_spec

        return model_spec(self.model).needs_text(self.use_eal, self.use_fal)

    @property
    def text_at_test(self) -> bool:
        """Whether the model reads caption features at test time too (Table 7's models)."""
        from d2s.registry import model_spec

        return model_spec(self.model).reads_text

    @property
    def momentum_precision_resolved(self) -> str:
        """``momentum_precision`` as it runs on this run's device (``auto`` resolved)."""
        from d2s.core.devices import resolve_device
        from d2s.method.alignment import resolve_momentum_precision

        return resolve_momentum_precision(self.momentum_precision, resolve_device(self.device))

    @property
    def eal_mode_label(self) -> str | None:
        """The ``eal_mode`` a result records: only D2S runs with EAL on have one."""
        from d2s.registry import model_spec

        return self.eal_mode if model_spec(self.model).labels_eal_mode(self.use_eal) else None

    @property
    def caption_control_label(self) -> str | None:
        """The ``caption_control`` a result records: only runs that train with captions have one."""
        return self.caption_control if self.needs_text else None


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _coerce(key: str, value: Any) -> Any:
    default = _FIELDS[key].default
    annotation = str(_FIELDS[key].type)
    if value is None:
        if "None" in annotation:
            return None
        raise ConfigError(f"config key {key!r} may not be null")
    if key == "image_cache":
        return cache_setting(value)
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.lower() in ("true", "yes", "1"):
                    return True
                if value.lower() in ("false", "no", "0"):
                    return False
                raise ValueError(value)
            if not isinstance(value, bool):
                raise ValueError(value)
            return value
        if isinstance(default, int) and not isinstance(default, bool):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if isinstance(default, float):
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        kind = type(default).__name__ if default is not None else "string"
        raise ConfigError(f"config key {key!r}: {value!r} is not a valid {kind}") from None


def _check_keys(values: dict[str, Any], source: str) -> None:
    for key in values:
        if key not in _FIELDS:
            close = difflib.get_close_matches(key, _FIELDS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{source}: unknown config key {key!r}{hint}")


def check_keys(values: Any, source: str) -> None:
    """Every key a :class:`TrainConfig` field and every value of its type (the workflow checks
    its ``training:`` and ``models:`` entries with this while it builds the DAG)."""
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: expected a mapping of d2s train keys")
    _check_keys(values, source)
    for key, value in values.items():
        try:
            _coerce(key, value)
        except ConfigError as err:
            raise ConfigError(f"{source}: {err}") from None


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["epochs=5", "eal_mode=online"]`` → dict; values parsed as YAML scalars."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"override {pair!r} is not of the form key=value")
        key, raw = pair.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as err:
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise ConfigError(
                f"override {pair!r}: the value is not a valid YAML scalar ({problem}); quote it"
            ) from None
    return out
