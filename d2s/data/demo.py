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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from d2s.data.ic9600 import CATEGORIES

DEFAULT_SIZE = 400
DEFAULT_IMAGE_SIZE = 128
JPEG_SETTINGS = {"format": "JPEG", "quality": 90, "subsampling": 0, "optimize": False}
TEXTURES = ("plain", "gradient", "stripes", "checker", "noise")
KIND_WEIGHTS = {
    "circle": 1.0,
    "square": 1.0,
    "triangle": 1.25,
    "ring": 1.5,
    "cross": 1.5,
    "star": 2.0,
    "figure": 1.75,
    "vehicle": 1.75,
}
MAX_OBJECTS = 12
MAX_MARKS = 40
COLOURS = {
    "red": (200, 40, 40),
    "orange": (235, 140, 30),
    "yellow": (230, 210, 50),
    "green": (50, 160, 70),
    "teal": (30, 150, 150),
    "blue": (40, 80, 200),
    "purple": (130, 60, 170),
    "pink": (230, 120, 170),
    "brown": (120, 80, 40),
    "grey": (128, 128, 128),
    "black": (20, 20, 20),
    "white": (245, 245, 245),
}
BACKGROUND_COLOURS = ("white", "grey", "yellow", "teal", "pink", "blue")
#: Per category: which kinds it draws and how its scene is described (the IC9600 categories).
FLAVOURS = {
    "abstract": (("star", "ring", "circle", "cross"), "an abstract composition of shapes"),
    "advertisement": (("square", "circle", "star"), "a poster with bold blocks of colour"),
    "architecture": (("square", "triangle", "cross"), "a building-like arrangement of blocks"),
    "objects": (("circle", "square", "ring"), "a collection of household-like objects"),
    "paintings": (("circle", "triangle", "star"), "a painting-like picture"),
    "person": (("figure", "circle"), "stick figures of people"),
    "scenes": (("triangle", "circle", "square"), "an outdoor-like scene with hills and blocks"),
    "transport": (("vehicle", "square"), "toy-like vehicles"),
}
SPACED_WORDS = ("parking meter", "street sign", "open field", "city block", "paint stroke")
NUMBER_WORDS = {1: "a", 2: "two", 3: "three", 4: "four", 5: "five"}


@dataclass(frozen=True)
class Scene:
    """What one demo image holds; ``objects`` are ``(kind, colour, x, y, radius)``."""

    category: str
    texture: str
    background: str
    marks: int
    objects: tuple[tuple[str, str, int, int, int], ...]

    def complexity(self) -> float:
        """The documented complexity ``c`` in [0, 1] (see the module docstring)."""
        c_obj = min(1.0, sum(KIND_WEIGHTS[o[0]] for o in self.objects) / 18.0)
        c_clutter = self.marks / MAX_MARKS
        c_texture = TEXTURES.index(self.texture) / (len(TEXTURES) - 1)
        return 0.45 * c_obj + 0.30 * c_clutter + 0.25 * c_texture

    def score(self) -> float:
        """IC9600-style label: ``c`` rounded to a multiple of 1/68."""
        return round(68 * self.complexity()) / 68


def sample_scene(rng: np.random.Generator, category: str, canvas: int) -> Scene:
    """Draw a scene whose parts all follow one latent busyness level."""
    busy = rng.uniform()
    kinds, _ = FLAVOURS[category]
    n_objects = int(np.clip(round(busy * MAX_OBJECTS + rng.normal(0, 1.5)), 0, MAX_OBJECTS))
    marks = int(np.clip(round(busy * MAX_MARKS + rng.normal(0, 5)), 0, MAX_MARKS))
    texture = TEXTURES[int(np.clip(round(busy * 4 + rng.normal(0, 0.8)), 0, 4))]
    colours = list(COLOURS)
    objects = []
    for _ in range(n_objects):
        radius = int(rng.integers(canvas // 20, canvas // 6))
        objects.append(
            (
                kinds[int(rng.integers(len(kinds)))],
                colours[int(rng.integers(len(colours)))],
                int(rng.integers(radius, canvas - radius)),
                int(rng.integers(radius, canvas - radius)),
                radius,
            )
        )
    background = BACKGROUND_COLOURS[int(rng.integers(len(BACKGROUND_COLOURS)))]
    return Scene(category, texture, background, marks, tuple(objects))


def _background(scene: Scene, canvas: int, rng: np.random.Generator, dark: bool) -> Image.Image:
    base = np.array(COLOURS[scene.background], dtype=np.float32)
    if dark:
        base = base * 0.25
    other = 255.0 - base if not dark else base + 60.0
    y, x = np.mgrid[0:canvas, 0:canvas]
    if scene.texture == "plain":
        mix = np.zeros((canvas, canvas), np.float32)
    elif scene.texture == "gradient":
        mix = (x + y) / (2.0 * canvas)
    elif scene.texture == "stripes":
        mix = ((x // max(2, canvas // 16)) % 2).astype(np.float32) * 0.6
    elif scene.texture == "checker":
        cell = max(2, canvas // 10)
        mix = (((x // cell) + (y // cell)) % 2).astype(np.float32) * 0.6
    else:
        mix = rng.uniform(0, 1, (canvas, canvas)).astype(np.float32)
    array = base[None, None, :] * (1 - mix[..., None]) + other[None, None, :] * mix[..., None]
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "RGB")


def _draw_object(draw: ImageDraw.ImageDraw, obj, outline_only: bool) -> None:
    kind, colour, x, y, r = obj
    rgb = COLOURS[colour]
    fill = None if outline_only else rgb
    width = 2 if outline_only else 1
    box = (x - r, y - r, x + r, y + r)
    if kind == "circle":
        draw.ellipse(box, fill=fill, outline=rgb, width=width)
    elif kind == "square":
        draw.rectangle(box, fill=fill, outline=rgb, width=width)
    elif kind == "triangle":
        draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=fill, outline=rgb)
    elif kind == "ring":
        draw.ellipse(box, outline=rgb, width=max(2, r // 3))
    elif kind == "cross":
        t = max(1, r // 3)
        draw.rectangle((x - r, y - t, x + r, y + t), fill=fill, outline=rgb)
        draw.rectangle((x - t, y - r, x + t, y + r), fill=fill, outline=rgb)
    elif kind == "star":
        angles = np.linspace(-np.pi / 2, 3 * np.pi / 2, 11)[:-1]
        radii = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
        points = [
            (x + q * np.cos(a), y + q * np.sin(a)) for q, a in zip(radii, angles, strict=True)
        ]
        draw.polygon([(float(px), float(py)) for px, py in points], fill=fill, outline=rgb)
    elif kind == "figure":
        head = max(2, r // 3)
        draw.ellipse((x - head, y - r, x + head, y - r + 2 * head), fill=fill, outline=rgb)
        draw.line((x, y - r + 2 * head, x, y + r // 3), fill=rgb, width=2)
        draw.line((x - r // 2, y, x + r // 2, y), fill=rgb, width=2)
        draw.line((x, y + r // 3, x - r // 2, y + r), fill=rgb, width=2)
        draw.line((x, y + r // 3, x + r // 2, y + r), fill=rgb, width=2)
    elif kind == "vehicle":
        wheel = max(2, r // 3)
        draw.rectangle((x - r, y - r // 2, x + r, y + r // 3), fill=fill, outline=rgb, width=width)
        for wx in (x - r // 2, x + r // 2):
            draw.ellipse(
                (wx - wheel, y + r // 3 - wheel, wx + wheel, y + r // 3 + wheel), fill=(20, 20, 20)
            )


def render(
    scene: Scene, canvas: int, rng: np.random.Generator, style: str = "filled"
) -> Image.Image:
    """Draw ``scene``: ``filled`` (the IC9600 stand-in) or ``outline`` (the cross-dataset style)."""
    dark = style == "outline"
    image = _background(scene, canvas, rng, dark)
    draw = ImageDraw.Draw(image)
    for obj in scene.objects:
        _draw_object(draw, obj, outline_only=dark)
    mark_colour = (230, 230, 230) if dark else (30, 30, 30)
    for _ in range(scene.marks):
        x0, y0 = (int(v) for v in rng.integers(0, canvas, 2))
        if rng.uniform() < 0.5:
            dx, dy = (int(v) for v in rng.integers(-canvas // 8, canvas // 8 + 1, 2))
            draw.line((x0, y0, x0 + dx, y0 + dy), fill=mark_colour, width=1)
        else:
            draw.ellipse((x0 - 1, y0 - 1, x0 + 1, y0 + 1), fill=mark_colour)
    return image


def _count_phrase(n: int, colour: str, kind: str) -> str:
    if n == 1:
        article = "an" if colour[0] in "aeiou" else "a"
        return f"{article} {colour} {kind}"
    word = NUMBER_WORDS.get(n, "several")
    return f"{word} {colour} {kind}s"


def caption(scene: Scene) -> str:
    """The four-prompt description of ``scene`` (docs/design.md §1.2 template); no digits, no score."""
    _, summary = FLAVOURS[scene.category]
    if scene.objects:
        groups: dict[tuple[str, str], int] = {}
        for kind, colour, *_ in scene.objects:
            groups[(colour, kind)] = groups.get((colour, kind), 0) + 1
        parts = [_count_phrase(n, c, k) for (c, k), n in sorted(groups.items())]
        objects = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    else:
        objects = "nothing in particular, the frame is empty"
    background = {
        "plain": f"plain {scene.background}",
        "gradient": f"like a smooth {scene.background} gradient",
        "stripes": f"striped with {scene.background} bands",
        "checker": f"like a {scene.background} checkerboard",
        "noise": "grainy and speckled",
    }[scene.texture]
    if scene.marks == 0:
        busy = "calm with open space and no scattered marks"
    elif scene.marks <= 10:
        busy = "broken up by a few thin lines and dots"
    elif scene.marks <= 25:
        busy = "busy with scattered lines and dots"
    else:
        busy = "crowded with many scattered lines and dots"
    return ". ".join(
        (
            f"this image shows {summary}",
            f"the main objects are {objects}",
            f"the background looks {background}",
            f"the overall visual complexity is {busy}",
        )
    )


def image_name(index: int, category: str) -> str:
    """IC9600-like file name; about one in seven holds single spaces, as 229 of IC9600's do."""
    if index % 7 == 5:
        words = SPACED_WORDS[(index // 7) % len(SPACED_WORDS)]
        return f"{category}_{words}_demo_{index:05d}.jpg"
    return f"{category}_demo_{index:05d}.jpg"


def is_test(index: int) -> bool:
    """Test membership: every fourth block of eight (one image per category), 75/25 like IC9600."""
    return (index // len(CATEGORIES)) % 4 == 3


def _save(image: Image.Image, path: Path, **settings) -> None:
    from d2s.io import atomic_path

    with atomic_path(path) as tmp:
        image.save(tmp, **settings)


def _write_text(text: str, path: Path) -> None:
    from d2s.io import atomic_write_text

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
