"""The demo's scenes: what one demo image holds, how it is drawn and how it is described.

The complexity function (the label a model must learn) is stated in :mod:`d2s.data.demo`;
:class:`Scene` computes it from what is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

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
