"""What every rendered figure must be: the size asked for at 300 dpi, not blank, PDF and JSON too."""

import json

import numpy as np
import pandas as pd
from PIL import Image

from d2s.paper.figures.style import DPI


def check_image(paths, width_in, height_in):
    """PNG of exactly width × height inches at 300 dpi, not blank; PDF written; JSON last."""
    with Image.open(paths["png"]) as image:
        assert image.size == (round(width_in * DPI), round(height_in * DPI))
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 5  # something is drawn
    with open(paths["pdf"], "rb") as handle:
        assert handle.read(5) == b"%PDF-"
    record = json.loads(open(paths["json"]).read())
    assert record["caption"] and record["files"]["png"].endswith(".png")
    return pd.read_csv(paths["csv"]), record
