"""Paper figures from small synthetic result files: each renders, has the expected pixel size,
and its sidecar data equals the input recomputed independently (no trained model needed)."""

import json

import numpy as np
import pandas as pd
import pytest
from figure_checks import check_image
from scipy.stats import pearsonr, spearmanr

from d2s.paper.figures.render import Inputs, render
from d2s.paper.figures.sources import FigureError, RunRef, parse_runs

CATEGORIES = ["abstract", "advertisement", "architecture", "objects", "paintings", "person"]
HEADER = "table,row,group,metric,mean,std,n,paper,paper_std,diff,status,eal_mode,select,run_label"
HEADER += ",config,note"


def write_table(path, lines):
    path.write_text(HEADER + "\n" + "\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def table1(tmp_path):
    lines = [
        "table1,d2s-r18,,srcc,0.61,0.02,3,0.9509,0.0026,,reproduced,released,test-plcc,demo,demo,",
        "table1,d2s-r18,,plcc,0.63,0.03,3,0.9544,0.0009,,reproduced,released,test-plcc,demo,demo,",
        "table1,d2s-r18,,params_m,13.02,,1,13.02,,,reproduced,released,test-plcc,demo,demo,",
        "table1,icnet,,srcc,0.5,0.05,3,0.9446,,,reproduced,,test-plcc,demo,demo,",
        "table1,icnet,,plcc,0.52,0.04,3,0.947,,,reproduced,,test-plcc,demo,demo,",
        "table1,icnet,,params_m,20.33,,1,,,,reproduced,,test-plcc,demo,demo,",
        "table1,MoCo,,srcc,,,,0.759,,,cited,,,demo,demo,unsupervised",
        "table1,MoCo,,plcc,,,,0.748,,,cited,,,demo,demo,unsupervised",
        "table1,hyperiqa,,srcc,,,,0.935,,,cited,,,demo,demo,",
        "table1,hyperiqa,,plcc,,,,0.935,,,cited,,,demo,demo,",
        "table1,hyperiqa,,params_m,,,,27.38,,,cited,,,demo,demo,",
        "table1,hyperiqa,,latency_ms,,,,29.638,,,cited,,,demo,demo,",
    ]
    return tmp_path / "table1.csv", lines


def test_fig2_plots_reproduced_means_and_cited_paper_values(table1, tmp_path):
    path, lines = table1
    paths = render("fig2", Inputs(out=str(tmp_path / "fig2"), table=write_table(path, lines)))
    data, record = check_image(paths, 3.3, 2.7)
    got = data.set_index("method")
    assert set(got.index) == {"d2s-r18", "icnet", "MoCo", "hyperiqa"}
    assert got.loc["d2s-r18", "srcc"] == 0.61 and got.loc["d2s-r18", "plcc_std"] == 0.03
    assert got.loc["d2s-r18", "source"] == "reproduced"
    assert got.loc["MoCo", "plcc"] == 0.748 and got.loc["MoCo", "source"] == "cited"
    assert record["sources"][0]["file"] == str(path)


def test_fig2_labels_never_overlap():
    """The paper's literature points (SAE / CLIC and the top cluster sit within 0.01) plus demo
    points at the coordinates of cited ones: every pair of label boxes is disjoint once drawn."""
    from d2s.paper.figures.accuracy import method_points, plot_accuracy

    paper = pd.read_csv("results/paper/table1.csv", keep_default_na=False)
    paper = paper[paper["metric"].isin(["srcc", "plcc"])]
    frame = pd.DataFrame(
        {
            "row": paper["row"],
            "group": "",
            "metric": paper["metric"],
            "mean": np.nan,
            "std": np.nan,
            "paper": pd.to_numeric(paper["value"]),
            "paper_std": np.nan,
            "status": "cited",
        }
    )
    demo = {"icnet": (0.759, 0.748), "d2s-r18": (0.865, 0.86), "d2s-r50": (0.94, 0.936)}
    for row, (srcc, plcc) in demo.items():  # demo runs land on top of cited methods
        mask = frame["row"] == row
        frame.loc[mask, "status"] = "reproduced"
        frame.loc[mask, "mean"] = np.where(frame.loc[mask, "metric"] == "srcc", srcc, plcc)
        frame.loc[mask, "std"] = 0.01
    fig, plotted = plot_accuracy(method_points(frame, ("srcc", "plcc")))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    assert len(boxes) == len(plotted) >= 12
    overlapping = [
        (ax.texts[i].get_text(), ax.texts[j].get_text())
        for i in range(len(boxes))
        for j in range(i + 1, len(boxes))
        if boxes[i].overlaps(boxes[j])
    ]
    assert not overlapping


def test_fig3_falls_back_to_params_when_latency_is_absent_and_uses_it_when_present(
    table1, tmp_path
):
    path, lines = table1
    paths = render("fig3", Inputs(out=str(tmp_path / "a"), table=write_table(path, lines)))
    data, record = check_image(paths, 3.3, 2.7)
    assert record["mode"] == "params-only" and record["notes"]
    assert set(data["method"]) == {"d2s-r18", "icnet", "hyperiqa"}  # MoCo has no params
    lines += [
        "table1,d2s-r18,,latency_ms,4.5,,1,,,,reproduced,,,demo,demo,",
        "table1,icnet,,latency_ms,9.1,,1,,,,reproduced,,,demo,demo,",
    ]
    paths = render("fig3", Inputs(out=str(tmp_path / "b"), table=write_table(path, lines)))
    data, record = check_image(paths, 3.3, 2.7)
    assert record["mode"] == "latency"
    got = data.set_index("method")
    assert got.loc["icnet", "latency_ms"] == 9.1 and got.loc["hyperiqa", "latency_ms"] == 29.638
    # bubble area grows with SRCC
    assert got.loc["hyperiqa", "bubble_size"] > got.loc["d2s-r18", "bubble_size"]
    assert got.loc["d2s-r18", "bubble_size"] > got.loc["icnet", "bubble_size"]


@pytest.mark.parametrize(
    "fig,key,models", [("fig10", "eal", ["d2s-r18"]), ("fig11", "fal", ["d2s-r18", "d2s-r50"])]
)
def test_sweep_figures_plot_the_table_values_in_weight_order(fig, key, models, tmp_path):
    rng = np.random.default_rng(1)
    weights = [5, 0.1, 1] if key == "eal" else [0.1, 0.001, 0.01]
    lines, expected = [], {}
    for model in models:
        for w in weights:
            for metric in ("srcc", "plcc", "rmse", "rmae"):
                mean, std = rng.uniform(0.2, 0.9), rng.uniform(0, 0.05)
                expected[(model, w, metric)] = (mean, std)
                lines.append(
                    f"{fig},{model},{key}_weight={w},{metric},{mean},{std},2,,,,"
                    "reproduced,released,test-plcc,demo,demo,"
                )
    table = write_table(tmp_path / f"{fig}.csv", lines)
    paths = render(fig, Inputs(out=str(tmp_path / fig), table=table))
    data, _ = check_image(paths, 3.3, 2.9)
    assert len(data) == len(expected)
    for rec in data.itertuples():
        assert (rec.mean, rec.std) == pytest.approx(expected[(rec.model, rec.weight, rec.metric)])
    part = data[(data["model"] == models[0]) & (data["metric"] == "srcc")]
    assert list(part["weight"]) == sorted(weights)
    assert set(data["coefficient"]) == {f"{key}_weight"}


# predictions of runs -------------------------------------------------------------------------


def make_run(folder, seed, rng, n=64, noise=0.1):
    folder.mkdir(parents=True)
    target = np.round(rng.uniform(0, 1, n) * 68) / 68
    target[:2] = [0.0, 1.0]  # both ends of the score range
    prediction = np.clip(target + rng.normal(0, noise, n), 0, 1)
    frame = pd.DataFrame(
        {
            "image": [f"{CATEGORIES[i % len(CATEGORIES)]}_{i:03d}.jpg" for i in range(n)],
            "target": target,
            "prediction": prediction,
            "category": [CATEGORIES[i % len(CATEGORIES)] for i in range(n)],
        }
    )
    frame.to_csv(folder / "predictions.csv", index=False)
    (folder / "metrics.json").write_text(json.dumps({"seed": seed, "model": "d2s-r18"}))
    return frame


@pytest.fixture
def runs(tmp_path):
    rng = np.random.default_rng(0)
    frames, refs = {}, []
    for label, noise, seeds in (
        ("D2S-R18", 0.05, [42, 826]),
        ("D2S-R50", 0.04, [42]),
        ("Vision-only", 0.12, [42, 826]),
    ):
        for seed in seeds:
            folder = tmp_path / "runs" / label / f"seed{seed}"
            frames[(label, seed)] = make_run(folder, seed, rng, noise=noise)
            refs.append(RunRef(label, folder))
    return refs, frames


def test_fig8_binned_mae_equals_an_independent_recomputation(runs, tmp_path):
    refs, frames = runs
    refs = [r for r in refs if r.label != "D2S-R50"]
    paths = render("fig8", Inputs(out=str(tmp_path / "fig8"), runs=refs))
    data, record = check_image(paths, 3.3, 2.3)
    assert [s["label"] for s in record["sources"]] == [r.label for r in refs]
    for label in ("D2S-R18", "Vision-only"):
        for b in range(10):
            per_seed = []
            for (lab, _seed), frame in frames.items():
                if lab != label:
                    continue
                t, p = frame["target"].to_numpy(), frame["prediction"].to_numpy()
                inside = (t >= b / 10) & ((t < (b + 1) / 10) if b < 9 else (t <= 1.0))
                if inside.any():
                    per_seed.append(np.abs(p[inside] - t[inside]).mean())
            row = data[(data["label"] == label) & (data["bin"] == b)]
            if not per_seed:
                assert row.empty
                continue
            assert row["mae"].item() == pytest.approx(np.mean(per_seed))
            assert row["mae_std"].item() == pytest.approx(np.std(per_seed, ddof=1))
    assert set(data[data["label"] == "D2S-R18"]["bin"]) >= {0, 9}  # 0.0 and 1.0 are binned


def test_fig9_per_category_metrics_equal_scipy(runs, tmp_path):
    refs, frames = runs
    paths = render("fig9", Inputs(out=str(tmp_path / "fig9"), runs=refs))
    data, _ = check_image(paths, 6.9, 3.6)
    assert set(data["label"]) == {"D2S-R18", "D2S-R50", "Vision-only"}
    for (label, category, metric), row in data.set_index(
        ["label", "category", "metric"]
    ).iterrows():
        values = []
        for (lab, _seed), frame in frames.items():
            if lab != label:
                continue
            part = frame[frame["category"] == category]
            t, p = part["target"].to_numpy(), part["prediction"].to_numpy()
            values.append(
                {
                    "srcc": spearmanr(p, t)[0],
                    "plcc": pearsonr(p, t)[0],
                    "rmse": np.sqrt(np.mean((p - t) ** 2)),
                    "rmae": np.sqrt(np.mean(np.abs(p - t))),
                }[metric]
            )
        assert row["mean"] == pytest.approx(np.mean(values))
        assert row["n_seeds"] == len(values)
    assert set(data["category"]) == set(CATEGORIES)


def test_fig15_scatter_plots_each_methods_first_run(runs, tmp_path):
    refs, frames = runs
    refs = [r for r in refs if r.label != "D2S-R50"]
    paths = render("fig15", Inputs(out=str(tmp_path / "fig15"), runs=refs))
    data, record = check_image(paths, 3.3, 1.85)
    for label in ("D2S-R18", "Vision-only"):
        part = data[data["label"] == label]
        expected = frames[(label, 42)]
        assert part["prediction"].tolist() == pytest.approx(expected["prediction"].tolist())
        assert part["target"].tolist() == pytest.approx(expected["target"].tolist())
    assert len(record["sources"]) == 2


def test_run_arguments_are_checked(tmp_path):
    assert parse_runs(["A=x/y", "A=x/z"])[1].folder.name == "z"
    with pytest.raises(FigureError, match="LABEL=RUN_FOLDER"):
        parse_runs(["no-label"])
    with pytest.raises(FigureError, match="predictions missing"):
        render("fig8", Inputs(out=str(tmp_path / "x"), runs=[RunRef("A", tmp_path / "none")]))


# alignment features (synthetic arrays) -----------------------------------------------------------


@pytest.fixture
def features(tmp_path):
    from d2s.paper.figures.alignment import save_features

    rng = np.random.default_rng(3)
    n = 12
    text = rng.normal(0, 1, (n, 16)).astype(np.float32)
    arrays = {
        "names": np.array([f"img{i}.jpg" for i in range(n)]),
        "labels": rng.uniform(0, 1, n),
        "visual_before": rng.normal(3, 0.2, (n, 16)).astype(np.float32),
        "visual_after": (text + rng.normal(0, 0.1, (n, 16))).astype(np.float32),
        "text": text,
        "entropy_visual_before": rng.normal(2.7, 0.01, n),
        "entropy_visual_after": rng.normal(2.5, 0.05, n),
        "entropy_text": rng.normal(2.45, 0.05, n),
    }
    path = tmp_path / "alignment.npz"
    save_features(arrays, {"run": "somewhere/seed42", "seed": 42}, path)
    return str(path), arrays


@pytest.mark.parametrize("fig", ["fig4d", "fig14"])
def test_entropy_figures_plot_the_feature_entropies(fig, features, tmp_path):
    path, arrays = features
    paths = render(fig, Inputs(out=str(tmp_path / fig), features=path))
    data, record = check_image(paths, 3.3, 2.2)
    for series, key in (
        ("visual, before", "entropy_visual_before"),
        ("visual, after", "entropy_visual_after"),
        ("text", "entropy_text"),
    ):
        part = data[data["series"] == series]
        assert part["image"].tolist() == arrays["names"].tolist()
        assert part["entropy"].to_numpy() == pytest.approx(arrays[key])
    assert record["sources"][0]["run"] == "somewhere/seed42"


def test_entropy_figure_draws_one_panel_per_eal_mode(features, tmp_path):
    """Fig. 14 for both eal_modes: the compared run is its own panel, and the record says how
    far each run moved the visual entropies (computed here by hand)."""
    from d2s.paper.figures.alignment import save_features

    path, arrays = features
    still = dict(arrays, entropy_visual_after=arrays["entropy_visual_before"] + 0.001)
    other = tmp_path / "online.npz"
    save_features(still, {"run": "elsewhere/seed42", "eal_mode": "released"}, other)
    paths = render(
        "fig14", Inputs(out=str(tmp_path / "both"), features=path, compare_features=[str(other)])
    )
    data, record = check_image(paths, 2 * 3.3, 2.2)
    assert list(dict.fromkeys(data["panel"])) == ["eal_mode: ?", "eal_mode: released"]
    moved, barely = record["panels"]
    expected = np.abs(arrays["entropy_visual_after"] - arrays["entropy_visual_before"]).mean()
    assert moved["mean_abs_change"] == pytest.approx(expected)
    assert barely["mean_abs_change"] == pytest.approx(0.001)
    assert barely["run"] == "elsewhere/seed42"
    assert barely["visual_after_mean"] == pytest.approx(
        arrays["entropy_visual_before"].mean() + 0.001
    )


def test_kde_curves_are_scipy_kdes_scaled_to_peak_one():
    from scipy.stats import gaussian_kde

    from d2s.paper.figures.alignment import kde_curves

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "series": ["a"] * 20 + ["b"] * 20 + ["c"] * 3,
            "entropy": np.r_[rng.normal(0, 1, 20), rng.normal(5, 0.1, 20), 2, 2, 2],
        }
    )
    curves = kde_curves(frame)
    a = curves[curves["series"] == "a"]
    expected = gaussian_kde(frame["entropy"][:20])(a["entropy"])
    assert a["density"].to_numpy() == pytest.approx(expected / expected.max())
    assert curves[curves["series"] == "c"]["density"].isna().all()  # no spread


@pytest.mark.parametrize(
    "fig,stages,height",
    [("fig4e", ["before", "after"], 4.8), ("fig13", ["after"], 2.4)],
)
def test_tsne_figures_embed_both_modalities(fig, stages, height, features, tmp_path):
    from sklearn.manifold import TSNE

    path, arrays = features
    paths = render(fig, Inputs(out=str(tmp_path / fig), features=path))
    data, _ = check_image(paths, 3.3, height)
    assert list(dict.fromkeys(data["stage"])) == stages
    stage = stages[-1]
    joint = np.concatenate([arrays[f"visual_{stage}"], arrays["text"]]).astype(np.float64)
    joint /= np.linalg.norm(joint, axis=1, keepdims=True)
    expected = TSNE(2, perplexity=(len(joint) - 1) / 3, init="pca", random_state=0).fit_transform(
        joint
    )
    part = data[data["stage"] == stage]
    assert part[["x", "y"]].to_numpy() == pytest.approx(expected, abs=1e-4)
    assert part["modality"].tolist() == ["visual"] * 12 + ["text"] * 12
