"""Caption a list of dataset items into a caption cache: batched, resumable, with a progress bar."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from d2s.text.cache import CaptionCache, CaptionCacheError


class Captioner(Protocol):
    """What :func:`caption_items` needs (``BlipCaptioner``, ``FlorenceCaptioner``)."""

    name: str

    def settings(self) -> dict[str, Any]: ...

    def preprocessor(self) -> Callable[[list], dict[str, Any]]: ...

    def caption_batch(self, batch: dict[str, Any]) -> list[str]: ...


def load_captioner(
    name: str,
    model: str | os.PathLike | None = None,
    device: str = "cpu",
    precision: str = "fp32",
    trust_remote_code: bool = False,
    florence_decoding: str | None = None,
) -> Captioner:
    """Build the captioner ``name`` (``blip`` or ``florence-cap1/2/3``) from ``model``.

    ``florence_decoding`` names a Florence-2 decoding (default ``released``); BLIP has one.
    """
    from d2s.text.prompts import DEFAULT_MODELS, FLORENCE_DECODING, FLORENCE_TASKS

    model = str(model or DEFAULT_MODELS[name])
    if name == "blip":
        from d2s.text.blip import BlipCaptioner

        return BlipCaptioner(model, device=device, precision=precision)
    if name in FLORENCE_TASKS:
        from d2s.text.florence import FlorenceCaptioner

        return FlorenceCaptioner(
            name,
            model,
            device=device,
            precision=precision,
            trust_remote_code=trust_remote_code,
            decoding=florence_decoding or FLORENCE_DECODING,
        )
    raise ValueError(f"unknown captioner {name!r}")


class _Images:
    """Items → decoded RGB images (torch ``Dataset`` protocol, picklable for workers)."""

    def __init__(self, items: Sequence) -> None:
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        from d2s.data.torch_dataset import open_rgb

        item = self.items[index]
        return item.name, open_rgb(item)


class _Collate:
    def __init__(self, preprocess: Callable[[list], dict[str, Any]]) -> None:
        self.preprocess = preprocess

    def __call__(self, pairs):
        names = [name for name, _ in pairs]
        return names, self.preprocess([image for _, image in pairs])


def caption_items(
    captioner: Captioner,
    items: Sequence,
    out: str | os.PathLike,
    batch_size: int = 16,
    workers: int = 0,
    progress: bool = True,
    info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Caption every item without a caption in the cache ``out``, then mark the cache complete.

    ``items`` are :class:`d2s.data.Item` records (``name``, ``path``). Rows are appended and synced
    after every batch, so a killed run resumes where it stopped; a cache made with other settings
    is refused (:class:`~d2s.text.cache.CaptionCacheError`). Returns counts for the log.
    """
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    names = [item.name for item in items]
    if len(set(names)) != len(names):
        raise CaptionCacheError("the item list names an image more than once")
    cache = CaptionCache.open(out, captioner.settings(), info)
    todo = [item for item in items if item.name not in cache.done]
    before = len(items) - len(todo)
    if todo:
        loader = DataLoader(
            _Images(todo),
            batch_size=batch_size,
            shuffle=False,
            num_workers=workers,
            collate_fn=_Collate(captioner.preprocessor()),
        )
        with tqdm(
            total=len(items),
            initial=before,
            unit="img",
            desc=f"captions {captioner.name}",
            disable=not progress,
            dynamic_ncols=True,
        ) as bar:
            for batch_names, batch in loader:
                captions = captioner.caption_batch(batch)
                cache.append(zip(batch_names, captions, strict=True))
                bar.update(len(batch_names))
    cache.finish(names)
    return {
        "out": str(Path(out)),
        "images": len(items),
        "already_cached": before,
        "captioned_now": len(todo),
        "settings": cache.settings,
    }


def import_demo_captions(
    source: str | os.PathLike, items: Sequence, out: str | os.PathLike
) -> dict[str, Any]:
    """Write the demo's scene descriptions (``make-demo``'s ``captions.tsv``) as a caption cache.

    On the demo these descriptions stand in for BLIP (docs/design.md §6). Only ``items`` are kept, in their
    order; an item without a description is an error.
    """
    import hashlib

    from d2s.text.cache import write_captions

    source = Path(source)
    if not source.is_file():
        raise CaptionCacheError(f"{source}: missing (written by `d2s data make-demo`)")
    data = source.read_bytes()
    lines = data.decode("utf-8").splitlines()
    if not lines or lines[0].split("\t") != ["image", "caption"]:
        raise CaptionCacheError(f"{source}: header must be 'image<TAB>caption'")
    described: dict[str, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        name, sep, caption = line.partition("\t")
        if not sep:
            raise CaptionCacheError(f"{source}:{number}: no tab")
        described[name] = caption
    missing = [item.name for item in items if item.name not in described]
    if missing:
        raise CaptionCacheError(
            f"{source}: no description for {len(missing)} image(s), e.g. {missing[0]!r}"
        )
    settings = {
        "captioner": "demo",
        "model": "d2s demo scene descriptions (stand-in for BLIP, docs/design.md §6)",
        "source_sha256": hashlib.sha256(data).hexdigest(),
    }
    write_captions(
        out,
        [(item.name, described[item.name]) for item in items],
        settings,
        {"source": str(source)},
    )
    return {"out": str(Path(out)), "images": len(items), "settings": settings}
