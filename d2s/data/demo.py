"""The embedded demo data: a procedurally drawn image-complexity set in IC9600's exact layout.

``make_demo(root, seed, size)`` writes (all deterministic for a seed, byte for byte):

- ``root/images/*.jpg``, ``root/train.txt``, ``root/test.txt``: the IC9600 layout (docs/design.md §3):
  two-space split files, names ``<category>_...`` with the 8 IC9600 categories, about one name in
  seven with single spaces, scores multiples of 1/68. Images are drawn in blocks of eight (one
  per category); every fourth block is the test set, the rest train (IC9600 is 75/25 too).
- ``root/captions.tsv``: header ``image<TAB>caption``, one row per image; the caption fills the
  four BLIP prompts of docs/design.md §1.2, lower case, joined with ``". "``. It names what is drawn (kinds,
  colours, rough counts in words, background, scattered marks) and never a score or a digit.
- ``root/factors.tsv``: per image the drawn factors the score is computed from (for figures).
- ``root/cross/``: the cross-dataset target (stand-in for Savoias / VISC), a different drawing style
  (outlines on dark backgrounds, PNG, smaller), in the VISC layout ``labels.csv`` (``image,score``)
  + ``images/``; score = ``0.15 + 0.7 * c`` (VISC's observed range), not quantised.
- ``root/distortion/``: the NR-IQA stand-in for KADID-10K in its layout, ``dmos.csv``
  (``dist_img,ref_img,dmos,var``) + ``images/``: reference demo images (``I01.png`` ...) under
  blur, noise and JPEG at five levels each (``I01_01_03.png`` = reference 1, type 1, level 3);
  ``dmos`` on KADID's 1-5 scale, ``5 - 4 * (level / 5) * weight[type]`` (weights 0.9, 1.0, 0.8).
- ``root/demo.json``: parameters and the complexity function, for the record.

The complexity function (the label a model must learn), with ``w`` the kind weights below::

    c_obj     = min(1, sum(w[kind] for each object) / 18)
    c_clutter = marks / 40                      # scattered thin lines and dots, 0..40
    c_texture = texture index / 4               # plain, gradient, stripes, checker, noise
    c         = 0.45 * c_obj + 0.30 * c_clutter + 0.25 * c_texture
    score     = round(68 * c) / 68

Each image draws a latent "busyness" b ~ U(0, 1) and sets its object count, marks and texture
around it, so scores spread over [0, 1] (every SST bin gets members); the score itself depends only
on what is drawn.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from d2s.data.demo_scenes import KIND_WEIGHTS, TEXTURES, Scene, caption, render, sample_scene
from d2s.data.ic9600 import CATEGORIES

DEFAULT_SIZE = 400
DEFAULT_IMAGE_SIZE = 128
JPEG_SETTINGS = {"format": "JPEG", "quality": 90, "subsampling": 0, "optimize": False}
SPACED_WORDS = ("parking meter", "street sign", "open field", "city block", "paint stroke")


def image_name(index: int, category: str) -> str:
    """IC9600-like file name; about one in seven holds single spaces, as 229 of IC9600's do."""
    if index % 7 == 5:
        words = SPACED_WORDS[(index // 7) % len(SPACED_WORDS)]
        return f"{category}_{words}_demo_{index:05d}.jpg"
    return f"{category}_demo_{index:05d}.jpg"


def is_test(index: int) -> bool:
    """Test membership: every fourth block of eight (one image per category), 75/25 like IC9600."""
    return (index // len(CATEGORIES)) % 4 == 3


#: The demo's own record of the files it wrote (hidden, so it outlives Snakemake deleting the
#: rule's outputs before a re-run): a folder whose every file it lists may be written again.
MARKER = ".d2s-demo.json"


def files_under(root: Path) -> list[str]:
    """Every file under ``root`` (links not followed), as sorted paths relative to it."""
    found = []
    for folder, _, names in os.walk(root):
        found += [os.path.relpath(os.path.join(folder, name), root) for name in names]
    return sorted(found)


def planned_files(size: int) -> list[str]:
    """Every file :func:`make_demo` writes for ``size`` images, relative to its root."""
    n_refs, n_cross = max(2, size // 50), max(8, size // 4)
    names = [f"images/{image_name(i, CATEGORIES[i % len(CATEGORIES)])}" for i in range(size)]
    names += ["train.txt", "test.txt", "captions.tsv", "factors.tsv", "demo.json"]
    names += [f"cross/images/cross_{i:04d}.png" for i in range(n_cross)] + ["cross/labels.csv"]
    for r in range(1, n_refs + 1):
        names.append(f"distortion/images/I{r:02d}.png")
        names += [
            f"distortion/images/I{r:02d}_{t:02d}_{level:02d}.png"
            for t in range(1, len(DISTORTIONS) + 1)
            for level in range(1, 6)
        ]
    return names + ["distortion/dmos.csv", "distortion/captions.tsv"]


def _made(root: Path) -> list[str] | None:
    try:
        files = json.loads((root / MARKER).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return files if isinstance(files, list) else None


def is_demo(root: Path) -> bool:
    """Whether ``root`` holds only what a previous ``make_demo`` wrote or was writing (its marker
    lists the files, written first; a killed write's hidden ``.part`` temporaries aside)."""
    made = _made(Path(root))
    if made is None:
        return False
    left = {name for name in files_under(Path(root)) if not Path(name).name.endswith(".part")}
    return left <= set(made) | {MARKER}


def _save(image: Image.Image, path: Path, **settings) -> None:
    from d2s.core.io import atomic_path

    with atomic_path(path) as tmp:
        image.save(tmp, **settings)


def _write_text(text: str, path: Path) -> None:
    from d2s.core.io import atomic_write_text

    atomic_write_text(text, path)


def _distort(image: Image.Image, kind: str, level: int, rng: np.random.Generator) -> Image.Image:
    """Blur (radius 0.5-4), Gaussian noise (sigma 6-50) or JPEG (quality 60-5) at level 1-5."""
    if kind == "blur":
        return image.filter(ImageFilter.GaussianBlur(radius=(0.5, 1.0, 2.0, 3.0, 4.0)[level - 1]))
    if kind == "noise":
        sigma = (6, 12, 20, 32, 50)[level - 1]
        array = np.asarray(image, dtype=np.float32) + rng.normal(0, sigma, (*image.size[::-1], 3))
        return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=(60, 35, 20, 10, 5)[level - 1], subsampling=2)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


DISTORTIONS = (("blur", 0.9), ("noise", 1.0), ("jpeg", 0.8))
DISTORTION_WORDS = {"blur": "blurred", "noise": "grainy", "jpeg": "blocky"}
DEGREE_WORDS = ("slightly", "somewhat", "clearly", "strongly", "extremely")


def make_demo(
    root: str | os.PathLike,
    seed: int = 0,
    size: int = DEFAULT_SIZE,
    image_size: int = DEFAULT_IMAGE_SIZE,
    progress: bool = False,
) -> dict:
    """Write the demo sets under ``root`` (see the module docstring); return their counts."""
    import pandas as pd
    from tqdm import tqdm

    from d2s.data.splitfile import format_pairs

    if size < 8:
        raise ValueError("the demo needs at least 8 images (one per category)")
    root = Path(root)
    if is_demo(root):  # ours: the previous demo goes, so a smaller one leaves nothing stale
        for name in _made(root) or []:
            (root / name).unlink(missing_ok=True)
    planned = planned_files(size)
    _write_text(
        json.dumps({"made_by": "d2s data make-demo", "files": planned}) + "\n", root / MARKER
    )
    images = root / "images"
    splits: dict[str, list[tuple[str, float]]] = {"train": [], "test": []}
    captions, factors = [], []
    references: list[Image.Image] = []
    n_refs = max(2, size // 50)
    for index in tqdm(range(size), desc="demo images", disable=not progress):
        rng = np.random.default_rng([seed, 0, index])
        category = CATEGORIES[index % len(CATEGORIES)]
        scene = sample_scene(rng, category, image_size)
        image = render(scene, image_size, rng)
        name = image_name(index, category)
        _save(image, images / name, **JPEG_SETTINGS)
        splits["test" if is_test(index) else "train"].append((name, scene.score()))
        captions.append((name, caption(scene)))
        factors.append(
            {
                "image": name,
                "category": category,
                "objects": len(scene.objects),
                "object_weight": sum(KIND_WEIGHTS[o[0]] for o in scene.objects),
                "marks": scene.marks,
                "texture": scene.texture,
                "complexity": round(scene.complexity(), 6),
                "score": scene.score(),
            }
        )
        if len(references) < n_refs:
            references.append(image)
    for split, pairs in splits.items():
        _write_text(format_pairs(pairs), root / f"{split}.txt")
    _write_text(
        "image\tcaption\n" + "".join(f"{n}\t{c}\n" for n, c in captions), root / "captions.tsv"
    )
    _write_text(
        pd.DataFrame(factors).to_csv(sep="\t", index=False, lineterminator="\n"),
        root / "factors.tsv",
    )

    # Cross-dataset target: same scene statistics, another drawing style, VISC layout.
    cross_rows = []
    n_cross = max(8, size // 4)
    cross_canvas = max(32, image_size * 3 // 4)
    for index in tqdm(range(n_cross), desc="demo cross set", disable=not progress):
        rng = np.random.default_rng([seed, 1, index])
        scene = sample_scene(rng, CATEGORIES[index % len(CATEGORIES)], cross_canvas)
        name = f"cross_{index:04d}.png"
        _save(
            render(scene, cross_canvas, rng, style="outline"),
            root / "cross" / "images" / name,
            format="PNG",
            optimize=False,
        )
        cross_rows.append({"image": name, "score": round(0.15 + 0.7 * scene.complexity(), 6)})
    _write_text(
        pd.DataFrame(cross_rows).to_csv(index=False, lineterminator="\n"),
        root / "cross" / "labels.csv",
    )

    # Distortion set: references under three distortions x five levels, KADID layout. Its
    # captions (distortion/captions.tsv) describe the scene and, in words, how degraded it looks,
    # as a captioner would; they stand in for BLIP on the demo's NR-IQA run.
    rows, dist_captions = [], []
    dist_dir = root / "distortion" / "images"
    for r, reference in enumerate(references, start=1):
        ref_name = f"I{r:02d}.png"
        _save(reference, dist_dir / ref_name, format="PNG", optimize=False)
        for t, (kind, weight) in enumerate(DISTORTIONS, start=1):
            for level in range(1, 6):
                rng = np.random.default_rng([seed, 2, r, t, level])
                name = f"I{r:02d}_{t:02d}_{level:02d}.png"
                _save(
                    _distort(reference, kind, level, rng),
                    dist_dir / name,
                    format="PNG",
                    optimize=False,
                )
                dmos = round(5.0 - 4.0 * (level / 5) * weight, 2)
                looks = f"{DEGREE_WORDS[level - 1]} {DISTORTION_WORDS[kind]}"
                dist_captions.append((name, f"{captions[r - 1][1]}. the picture looks {looks}"))
                rows.append(
                    {
                        "dist_img": name,
                        "ref_img": ref_name,
                        "dmos": dmos,
                        "var": round(0.1 + 0.05 * level, 3),
                    }
                )
    _write_text(
        pd.DataFrame(rows).to_csv(index=False, lineterminator="\n"),
        root / "distortion" / "dmos.csv",
    )
    _write_text(
        "image\tcaption\n" + "".join(f"{n}\t{c}\n" for n, c in dist_captions),
        root / "distortion" / "captions.tsv",
    )

    counts = {
        "train": len(splits["train"]),
        "test": len(splits["test"]),
        "cross": len(cross_rows),
        "distortion": len(rows),
    }
    record = {
        "seed": seed,
        "size": size,
        "image_size": image_size,
        "counts": counts,
        "complexity": "c = 0.45*min(1, sum(kind weights)/18) + 0.30*marks/40 + 0.25*texture/4; "
        "score = round(68*c)/68",
        "kind_weights": KIND_WEIGHTS,
        "textures": list(TEXTURES),
        "jpeg": {k: v for k, v in JPEG_SETTINGS.items() if k != "format"},
        "distortions": {k: w for k, w in DISTORTIONS},
        "note": "procedurally generated demo data: shows the machinery, not the paper's effect sizes",
    }
    _write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", root / "demo.json")
    return counts


__all__ = ["Scene", "caption", "make_demo", "render", "sample_scene"]
