"""Score your own images with a trained model: ``d2s.load(checkpoint).score(images)``.

Two checkpoint formats load directly (both with ``torch.load(..., weights_only=True)``, so a
downloaded file can never run pickled code):

- the ``best.pt`` written by ``d2s train`` (suite envelope, kind ``"model"``); a run folder that
  holds ``best.pt`` works too;
- the authors' released ``D2S_R18.pth`` / ``D2S_R50.pth``: ``{"model_state": state_dict, ...}``
  whose keys are mapped by :func:`released_to_suite_keys` (see :data:`RELEASED_KEY_MAP`).

Inputs and preprocessing (the same as ``d2s evaluate`` and training, docs/design.md §1):

- paths and PIL images are converted to RGB by :func:`to_rgb`, resized to ``image_size``² with
  PIL's bilinear filter (torchvision ``Resize``), turned into ``[0, 1]`` tensors and normalised
  with the ImageNet mean/std inside :class:`ScoringModule`;
- **tensors are taken as RGB in [0, 1]** (``float``; ``uint8`` tensors are read as 0–255), shape
  ``(3, H, W)`` or ``(B, 3, H, W)`` (one channel is repeated to three); they are resized to
  ``image_size``² (bilinear, antialiased) and normalised the same way. Pass ``normalized=True``
  to ``score`` for tensors that are already resized and normalised: they go straight to the model.

Image policy (what ``d2s score`` reports as a bad file, :class:`ImageError`): missing, unreadable
(permission denied), not an image, corrupt or truncated (Pillow's ``LOAD_TRUNCATED_IMAGES`` stays
off), or more than ``max_pixels`` pixels. The default limit is Pillow's own decompression-bomb
threshold (2 × ``Image.MAX_IMAGE_PIXELS`` ≈ 179 megapixels); the size is checked from the header,
before anything is decoded. ``max_pixels=None`` (``--max-pixels 0``) removes the limit for trusted
files. Greyscale, palette, RGBA/LA (alpha dropped, as in training), CMYK, 1-bit and 16-bit/32-bit
greyscale (``I;16``, ``I``, ``F``: rescaled to 8 bits, not clipped) images are all accepted; the
first frame of an animated file is scored. Tiny images (even 1×1) are upsampled to the input size.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError
from torch import nn

from d2s.data.images import to_rgb

# d2s.training.checkpoint is imported inside the loading functions: reading images (to_rgb,
# read_image, collect_images) must not pull in the training package.

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Pillow raises DecompressionBombError above twice its warning threshold; we use that as default.
DEFAULT_MAX_PIXELS: int = 2 * (Image.MAX_IMAGE_PIXELS or 89_478_485)

#: Input size of the authors' released checkpoints (their ``val.py`` default, docs/design.md §1).
RELEASED_IMAGE_SIZE = 512

#: File name endings that count as images when a folder or glob is expanded (case-insensitive).
#: A file named explicitly is always tried, whatever its name.
IMAGE_SUFFIXES = frozenset(
    ".jpg .jpeg .jpe .jfif .png .bmp .dib .gif .tif .tiff .webp .ppm .pgm .pbm .pnm .tga "
    ".jp2 .j2k .ico .avif".split()
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "RELEASED_KEY_MAP",
    "ImageError",
    "Problem",
    "Scorer",
    "ScoringModule",
    "collect_images",
    "load",
    "prepare_image",
    "read_image",
    "released_to_suite_keys",
    "to_rgb",
]


class ImageError(ValueError):
    """An image that cannot be scored; the message names the file and the reason."""


# --------------------------------------------------------------------------------------------
# reading images


@contextlib.contextmanager
def _pixel_limit_off() -> Iterator[None]:
    """Pillow's global bomb check off while we apply our own limit (header-only, before decode)."""
    before = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = before


def read_image(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Fully decoded 8-bit RGB image at ``path``; :class:`ImageError` naming it otherwise."""
    path = Path(path)
    try:
        with _pixel_limit_off(), Image.open(path) as image:
            width, height = image.size
            if max_pixels and width * height > max_pixels:
                raise ImageError(
                    f"{path}: image too large ({width}×{height} = {width * height:,} pixels, "
                    f"limit {max_pixels:,}; a possible decompression bomb — raise the limit with "
                    "--max-pixels, or 0 for none, if you trust the file)"
                )
            if width < 1 or height < 1:
                raise ImageError(f"{path}: image has no pixels ({width}×{height})")
            image.load()  # full decode here: a truncated file fails now, not later
            return to_rgb(image)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image file") from None
    except PermissionError:
        raise ImageError(f"{path}: cannot read file (permission denied)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file (Pillow cannot identify its format)") from None
    except Image.DecompressionBombError as err:  # defensive: our own check runs first
        raise ImageError(f"{path}: image too large ({err})") from None
    except MemoryError:
        raise ImageError(f"{path}: not enough memory to decode this image") from None
    except Exception as err:  # Pillow raises OSError, SyntaxError, ValueError... for bad data
        raise ImageError(
            f"{path}: cannot decode image, corrupt or truncated ({type(err).__name__}: {err})"
        ) from None


# --------------------------------------------------------------------------------------------
# expanding command-line paths


@dataclass(frozen=True)
class Problem:
    """An input that gave nothing to score: ``path`` as the user wrote it, and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


_GLOB_CHARS = re.compile(r"[*?[]")


def _is_image_name(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


def _walk(folder: Path, problems: list[Problem]) -> list[Path]:
    """Image files under ``folder`` (recursive, sorted, hidden entries skipped)."""
    found: list[Path] = []

    def on_error(err: OSError) -> None:
        where = err.filename or str(folder)
        reason = "permission denied" if isinstance(err, PermissionError) else err.strerror
        problems.append(Problem(str(where), f"cannot read folder ({reason})"))

    for parent, dirs, files in os.walk(folder, onerror=on_error):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and _is_image_name(name):
                found.append(Path(parent) / name)
    return found


def collect_images(inputs: Iterable[str | os.PathLike]) -> tuple[list[Path], list[Problem]]:
    """Expand files, folders (recursively) and glob patterns into image paths.

    A file named explicitly is kept whatever its name (a non-image is reported when read); files
    found in folders or by globs are kept when their suffix is in :data:`IMAGE_SUFFIXES`. Returns
    ``(paths, problems)``: paths in input order (folders and globs sorted), each file once;
    problems for missing paths, unreadable folders, empty folders and globs without match.
    """
    paths: list[Path] = []
    problems: list[Problem] = []
    seen: set[str] = set()

    def add(path: Path) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            paths.append(path)

    for raw in inputs:
        text = os.fspath(raw)
        path = Path(text)
        if path.is_dir():
            before = len(problems)
            found = _walk(path, problems)
            if not found and len(problems) == before:
                problems.append(
                    Problem(text, "folder holds no image files (looked for .jpg, .png, .tif, ...)")
                )
            for item in found:
                add(item)
        elif path.exists() or path.is_symlink():
            add(path)  # a file (or a broken link): read_image says what is wrong with it
        elif _GLOB_CHARS.search(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                problems.append(Problem(text, "no file matches this pattern"))
            hits = 0
            for match in matches:
                match_path = Path(match)
                if match_path.is_dir():
                    for item in _walk(match_path, problems):
                        add(item)
                        hits += 1
                elif _is_image_name(match):
                    add(match_path)
                    hits += 1
            if matches and not hits:
                problems.append(Problem(text, "pattern matches no image files"))
        else:
            problems.append(Problem(text, "no such file or folder"))
    return paths, problems


# --------------------------------------------------------------------------------------------
# the model


class ScoringModule(nn.Module):
    """``model`` behind ImageNet normalisation: ``(B, 3, S, S)`` RGB in [0, 1] → scores ``(B,)``.

    This is what ``d2s export`` writes, so an exported file needs only resize + ``/255`` outside.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model((images - self.mean) / self.std).reshape(-1)

    def forward_normalized(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images).reshape(-1)


ImageLike = str | os.PathLike | Image.Image | torch.Tensor


def prepare_image(
    image: ImageLike, size: int, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> torch.Tensor:
    """One image → ``(3, size, size)`` float tensor, RGB in [0, 1] (not yet normalised).

    Paths are read with :func:`read_image`; PIL images are resized with PIL's bilinear filter
    (exactly torchvision's ``Resize`` on PIL images, as in training); tensors follow the
    convention of the module docstring and are resized bilinearly with antialiasing.
    """
    from torchvision.transforms import functional as TF

    if isinstance(image, (str, os.PathLike)):
        image = read_image(image, max_pixels)
    if isinstance(image, Image.Image):
        resized = to_rgb(image).resize((size, size), Image.Resampling.BILINEAR)
        return TF.to_tensor(resized)
    if isinstance(image, torch.Tensor):
        tensor = _as_unit_chw(image)
        if tuple(tensor.shape[-2:]) != (size, size):
            tensor = TF.resize(tensor, [size, size], antialias=True)
        return tensor
    raise TypeError(f"cannot score a {type(image).__name__}: pass a path, a PIL image or a tensor")


@dataclass
class Scorer:
    """A trained image-complexity model ready to score images (see the module docstring).

    ``info`` records where the weights came from (format, model name, ignored keys, ...).
    """

    module: ScoringModule
    image_size: int
    device: torch.device
    name: str
    source: str
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> nn.Module:
        """The inference model itself (expects ImageNet-normalised input)."""
        return self.module.model

    def to(self, device: str | torch.device) -> Scorer:
        self.device = torch.device(device)
        self.module.to(self.device)
        return self

    # preprocessing ----------------------------------------------------------------------------
    def prepare(self, image: ImageLike) -> torch.Tensor:
        """One image → ``(3, S, S)`` float tensor in [0, 1] (not yet normalised)."""
        return prepare_image(image, self.image_size, self.max_pixels)

    def prepare_batch(self, images: Sequence[ImageLike]) -> torch.Tensor:
        """Images → ``(B, 3, S, S)`` in [0, 1], ready for an exported model (``d2s export``)."""
        return torch.stack([self.prepare(image) for image in images])

    # scoring ----------------------------------------------------------------------------------
    @torch.inference_mode()
    def score(
        self,
        images: ImageLike | Sequence[ImageLike],
        batch_size: int = 32,
        normalized: bool = False,
    ) -> float | torch.Tensor:
        """Complexity scores in [0, 1].

        A single path, PIL image or ``(3, H, W)`` tensor gives a ``float``; a list, or a
        ``(B, 3, H, W)`` tensor, gives a 1-D float tensor (on the CPU) in input order. A bad path
        raises :class:`ImageError` (``d2s score`` skips it instead).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        single = isinstance(images, (str, os.PathLike, Image.Image)) or (
            isinstance(images, torch.Tensor) and images.dim() == 3
        )
        if isinstance(images, torch.Tensor):
            if images.dim() not in (3, 4):
                raise ValueError(
                    f"expected a (3, H, W) or (B, 3, H, W) tensor, got shape {tuple(images.shape)}"
                )
            batch = images.unsqueeze(0) if images.dim() == 3 else images
            if normalized:
                chunks = [
                    batch[i : i + batch_size].float() for i in range(0, len(batch), batch_size)
                ]
            else:
                chunks = [
                    self.prepare_batch(list(batch[i : i + batch_size]))
                    for i in range(0, len(batch), batch_size)
                ]
        else:
            items = [images] if single else list(images)
            if normalized:
                raise ValueError("normalized=True applies to tensors only")
            chunks = (
                self.prepare_batch(items[i : i + batch_size])
                for i in range(0, len(items), batch_size)
            )
        outputs = [self._forward(chunk, normalized) for chunk in chunks]
        scores = torch.cat(outputs) if outputs else torch.zeros(0)
        return float(scores[0]) if single else scores

    def _forward(self, batch: torch.Tensor, normalized: bool = False) -> torch.Tensor:
        batch = batch.to(self.device, dtype=torch.float32)
        module = self.module
        out = module.forward_normalized(batch) if normalized else module(batch)
        return out.float().cpu()

    @torch.inference_mode()
    def score_paths(
        self, paths: Sequence[str | os.PathLike], batch_size: int = 32, num_workers: int = 0
    ) -> Iterator[tuple[Path, float | None, str | None]]:
        """``(path, score, None)`` or ``(path, None, error message)`` per path, in order.

        Bad files are reported, not raised, so a long run is never lost to one broken image.
        Images are decoded by a ``DataLoader`` (``num_workers`` processes, 0 = in this one).
        """
        from torch.utils.data import DataLoader

        loader = DataLoader(
            _PathDataset(list(paths), self.image_size, self.max_pixels),
            batch_size=batch_size,
            num_workers=num_workers,
            collate_fn=list,
            pin_memory=self.device.type == "cuda",
        )
        for rows in loader:
            good = [row for row in rows if row[1] is not None]
            scores = self._forward(torch.stack([row[1] for row in good])) if good else []
            by_index = {row[0]: float(s) for row, s in zip(good, scores, strict=True)}
            for index, _, error in rows:
                path = Path(paths[index])
                if error is None:
                    yield path, by_index[index], None
                else:
                    yield path, None, error


def _as_unit_chw(tensor: torch.Tensor) -> torch.Tensor:
    """``(C, H, W)`` tensor → float RGB in [0, 1] (uint8 read as 0–255, 1 channel repeated)."""
    if tensor.dim() != 3:
        raise ValueError(f"expected an image tensor (3, H, W), got shape {tuple(tensor.shape)}")
    if tensor.shape[0] == 1:
        tensor = tensor.expand(3, -1, -1)
    if tensor.shape[0] != 3:
        raise ValueError(
            f"expected 1 or 3 channels (RGB, channels first), got shape {tuple(tensor.shape)}"
        )
    if tensor.dtype == torch.uint8:
        return tensor.float() / 255.0
    if not tensor.is_floating_point():
        raise ValueError(f"expected a float (RGB in [0, 1]) or uint8 tensor, got {tensor.dtype}")
    return tensor.float()


class _PathDataset(torch.utils.data.Dataset):
    """Decoded, resized images of ``paths``; a bad file gives its message instead (no raise)."""

    def __init__(self, paths: list, size: int, max_pixels: int | None) -> None:
        self.paths = paths
        self.size = size
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None, str | None]:
        try:
            return index, prepare_image(Path(self.paths[index]), self.size, self.max_pixels), None
        except ImageError as err:
            return index, None, str(err)


# --------------------------------------------------------------------------------------------
# checkpoints

#: Released-format key prefixes → suite ``D2S`` prefixes. Source: the authors' repository
#: (github.com/xauat-liushipeng/D2S): ``d2s/model_.py`` builds ``D2S.vision_encoder.model``
#: (timm ResNet, ``features_only=True``, last map ``[4]``), ``D2S.vision_encoder.attn_pool``
#: (CLIP AttentionPool2d: ``q_proj``/``k_proj``/``v_proj``/``c_proj``) and ``D2S.fc``
#: (Linear-ReLU-Linear-Sigmoid); its ``val.py`` loads ``torch.load(ckpt)["model_state"]`` with
#: ``strict=False``, so every other key in the file (text encoder, projection, momentum copies,
#: ...) is ignored, as here. **Not verified against the real D2S_R18.pth / D2S_R50.pth.**
RELEASED_KEY_MAP: tuple[tuple[str, str], ...] = (
    ("vision_encoder.model.", "backbone."),
    ("vision_encoder.attn_pool.", "pool."),
    ("fc.", "head."),
)

#: Wrapper prefixes stripped first (DataParallel/DDP and ``torch.compile``).
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")

#: timm ResNets by (block type, blocks per stage).
_RESNETS = {
    ("basic", (2, 2, 2, 2)): "resnet18",
    ("basic", (3, 4, 6, 3)): "resnet34",
    ("bottleneck", (3, 4, 6, 3)): "resnet50",
    ("bottleneck", (3, 4, 23, 3)): "resnet101",
    ("bottleneck", (3, 8, 36, 3)): "resnet152",
}


def released_to_suite_keys(
    state: dict[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Map a released ``model_state`` to the suite ``D2S`` layout: ``(mapped, ignored keys)``.

    Each key loses any ``module.``/``_orig_mod.`` prefix, then the first matching prefix of
    :data:`RELEASED_KEY_MAP` is replaced; keys matching none are returned as ignored.
    """
    mapped: dict[str, torch.Tensor] = {}
    ignored: list[str] = []
    for key, value in state.items():
        name = key
        stripped = True
        while stripped:
            stripped = False
            for wrapper in _WRAPPER_PREFIXES:
                if name.startswith(wrapper):
                    name, stripped = name[len(wrapper) :], True
        for old, new in RELEASED_KEY_MAP:
            if name.startswith(old):
                mapped[new + name[len(old) :]] = value
                break
        else:
            ignored.append(key)
    return mapped, ignored


def _resnet_of(state: dict[str, torch.Tensor], source: str) -> str:
    from d2s.training.checkpoint import CheckpointError

    blocks = []
    for stage in range(1, 5):
        indices = {
            int(m.group(1))
            for k in state
            if (m := re.match(rf"backbone\.layer{stage}\.(\d+)\.", k)) is not None
        }
        blocks.append(len(indices))
    kind = "bottleneck" if "backbone.layer1.0.conv3.weight" in state else "basic"
    name = _RESNETS.get((kind, tuple(blocks)))
    if name is None:
        raise CheckpointError(
            f"{source}: backbone weights match no known ResNet ({kind} blocks per stage {blocks})"
        )
    return name


def _torch_load(path: Path) -> Any:
    from d2s.training.checkpoint import safe_torch_load

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*looks like a TorchScript archive")
        warnings.filterwarnings("ignore", message="Detected pickle protocol")
        return safe_torch_load(path)


def _describe(data: Any) -> str:
    if isinstance(data, dict):
        keys = [str(k) for k in list(data)[:6]]
        return f"a dict with keys {keys}"
    return f"a {type(data).__name__}"


def _from_suite(data: dict, path: Path) -> tuple[nn.Module, int, str, dict]:
    from d2s.models import build, model_names, model_spec
    from d2s.training.checkpoint import VERSION, CheckpointError, load_weights

    if data.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {data.get('version')} is not supported (expects {VERSION})"
        )
    if data.get("kind") != "model":
        raise CheckpointError(
            f"{path}: holds a {data.get('kind')!r} checkpoint (a resume state such as last.pt); "
            "score with the model checkpoint best.pt"
        )
    name = data.get("model_name")
    if name not in model_names():
        raise CheckpointError(f"{path}: unknown model {name!r}")
    if model_spec(name).reads_text:
        raise CheckpointError(
            f"{path}: model {name!r} reads captions at test time; scoring takes images only "
            "(use d2s evaluate --captions)"
        )
    model = build(name, pretrained=False, **data.get("model_kwargs", {}))
    load_weights(model, data["state_dict"], str(path))
    size = data.get("image_size") or (data.get("config") or {}).get("image_size")
    if not size:
        raise CheckpointError(f"{path}: checkpoint does not record its image_size")
    info = {"format": "suite", "model": name, "epoch": data.get("epoch")}
    return model, int(size), str(name), info


def _from_released(data: dict, path: Path, num_heads: int) -> tuple[nn.Module, int, str, dict]:
    from d2s.models import D2S
    from d2s.models.table import d2s_name_of
    from d2s.training.checkpoint import CheckpointError, load_weights

    state = data["model_state"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: 'model_state' is not a state dict of tensors")
    mapped, ignored = released_to_suite_keys(state)
    required = ("pool.c_proj.weight", "head.0.weight", "head.2.weight")
    if not any(k.startswith("backbone.") for k in mapped) or any(k not in mapped for k in required):
        raise CheckpointError(
            f"{path}: 'model_state' does not hold a D2S image branch in the released layout "
            f"(expected keys starting with {[old for old, _ in RELEASED_KEY_MAP]}; "
            f"found e.g. {list(state)[:4]})"
        )
    backbone = _resnet_of(mapped, str(path))
    kwargs = dict(
        backbone=backbone,
        pool="attn",
        embed_dim=int(mapped["pool.c_proj.weight"].shape[0]),
        num_heads=num_heads,
        head_hidden=int(mapped["head.0.weight"].shape[0]),
    )
    model = D2S(pretrained=False, **kwargs)
    load_weights(model, mapped, str(path))
    name = d2s_name_of(backbone=backbone, pool="attn") or f"d2s-{backbone}"
    info = {
        "format": "released",
        "model": name,
        "model_kwargs": kwargs,
        "epoch": data.get("epoch"),
        "ignored_keys": ignored,
    }
    return model, RELEASED_IMAGE_SIZE, name, info


def load(
    checkpoint: str | os.PathLike,
    device: str | torch.device = "cpu",
    image_size: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    num_heads: int = 16,
) -> Scorer:
    """Load a trained model for scoring (see the module docstring for the formats).

    Args:
        checkpoint: ``best.pt`` of ``d2s train`` (or its run folder), or a released
            ``D2S_R18.pth`` / ``D2S_R50.pth``.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, or ``"auto"`` (CUDA when available).
        image_size: input resolution; default: the training resolution recorded in a suite
            checkpoint, 512 for a released one.
        max_pixels: largest image (in pixels) that is decoded; ``None`` for no limit.
        num_heads: AttnPool heads of a released checkpoint (not stored in it; the authors use 16).

    Raises :class:`~d2s.training.checkpoint.CheckpointError` naming the file when it is missing,
    not a checkpoint, holds pickled code, or is in neither known format.
    """
    from d2s.training.checkpoint import FORMAT, CheckpointError

    path = Path(checkpoint)
    if path.is_dir():
        if not (path / "best.pt").is_file():
            raise CheckpointError(f"{path}: a folder without best.pt; pass a checkpoint file")
        path = path / "best.pt"
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found")
    if not os.access(path, os.R_OK):
        raise CheckpointError(f"{path}: cannot read checkpoint (permission denied)")
    data = _torch_load(path)
    if isinstance(data, dict) and data.get("format") == FORMAT:
        model, size, name, info = _from_suite(data, path)
    elif isinstance(data, dict) and "model_state" in data:
        model, size, name, info = _from_released(data, path, num_heads)
    else:
        raise CheckpointError(
            f"{path}: not a known checkpoint format (expected the best.pt of d2s train or the "
            f"authors' released D2S_R18.pth/D2S_R50.pth with 'model_state'); found {_describe(data)}"
        )
    if image_size is not None:
        from d2s.training.config import check_image_size

        check_image_size(int(image_size), "--image-size")  # the same rule as d2s train
        size = int(image_size)
    if str(device) == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
        module = ScoringModule(model).to(device).eval()
    except (RuntimeError, AssertionError) as err:
        raise ValueError(f"device {str(device)!r} is not usable here: {err}") from None
    return Scorer(module, size, device, name, str(path), max_pixels, info)
