"""Figures from captions (Figs. 17-18) and the gallery page that lists every figure."""

import pandas as pd
import pytest
from figure_checks import check_image
from PIL import Image

from d2s.paper.figures import FIGURES, INPUTS, ORDER
from d2s.paper.figures.render import Inputs, render

# captions ---------------------------------------------------------------------------------------


def test_caption_examples_pick_one_image_per_decile(tmp_path):
    images = tmp_path / "data" / "images"
    images.mkdir(parents=True)
    scores = [0.02, 0.07, 0.15, 0.33, 0.36, 0.41, 0.58, 0.64, 0.66, 0.81, 0.95, 1.0]
    rows = []
    captions = ["image\tcaption"]
    for i, score in enumerate(scores):
        name = f"abstract_{i:02d}.jpg"
        Image.new("RGB", (24, 24), (10 * i, 200, 30)).save(images / name)
        rows.append(f"{name}  {score}")
        captions.append(f"{name}\tthis image shows shape {i}. the main objects are a {i} circle")
    (tmp_path / "data" / "train.txt").write_text("\n".join(rows[::2]) + "\n")
    (tmp_path / "data" / "test.txt").write_text("\n".join(rows[1::2]) + "\n")
    (tmp_path / "captions.tsv").write_text("\n".join(captions) + "\n")
    datas = []
    for fig in ("fig17", "fig18"):
        paths = render(
            fig,
            Inputs(
                out=str(tmp_path / fig),
                captions=str(tmp_path / "captions.tsv"),
                dataset="ic9600",
                root=str(tmp_path / "data"),
            ),
        )
        data, _ = check_image(paths, 6.9, 1.15 * 5 + 0.2)
        datas.append(data)
    data = pd.concat(datas).fillna({"image": "", "caption": ""})
    assert data["decile"].tolist() == list(range(10))
    # nearest to the range's midpoint among the scores inside it; empty ranges stay empty
    for rec in data.itertuples():
        inside = [s for s in scores if int(min(s * 10, 9)) == rec.decile]
        if not inside:
            assert rec.image == ""
            continue
        best = min(inside, key=lambda s: abs(s - (rec.decile + 0.5) / 10))
        assert float(rec.score) == pytest.approx(best)
        assert rec.caption.startswith("this image shows shape")
    assert (data["image"] == "").sum() == 2  # [0.2, 0.3) and [0.7, 0.8) have no image


def test_caption_lines_colour_the_prompts():
    from d2s.paper.figures.captions import PROMPT_COLOR, caption_lines

    lines = caption_lines("this image shows a cat. the background looks plain", width=80)
    assert lines[0] == [("this image shows", PROMPT_COLOR), (" a cat", "black")]
    assert lines[1][0] == ("the background looks", PROMPT_COLOR)


def test_gallery_lists_every_figure_with_caption_and_runs(tmp_path):
    from d2s.paper.figures.gallery import render_gallery

    records = [
        {
            "figure": name,
            "files": {"png": f"{name}.png", "pdf": f"{name}.pdf"},
            "sources": [{"label": "D2S-R18", "run": f"results/runs/{name}/seed42", "seed": 42}],
        }
        for name in ORDER
    ]
    page = render_gallery(records, "demo", "demo")
    assert "DEMO FIGURES" in page
    for name in ORDER:
        assert f"]({name}.png)" in page
        assert FIGURES[name][1] in page
        assert f"`results/runs/{name}/seed42`" in page
    partial = render_gallery(records[:2], "paper", "paper")
    assert partial.count("*(not rendered)*") == len(ORDER) - 2


def test_every_figure_has_a_title_a_place_in_the_gallery_and_inputs():
    """The workflow's figure rules are chosen by d2s.paper.figures.INPUTS: a figure missing there would
    have no rule; one with an unknown kind would match none."""
    assert set(INPUTS) == set(FIGURES) == set(ORDER)
    assert set(INPUTS.values()) == {"table", "runs", "probe", "alignment", "captions"}
