"""The significance columns (issue 16): per-seed paired differences and a paired bootstrap interval
over test images, checked against direct computations with scipy on fixed prediction files."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from d2s.paper.runs import RunSpec, table_cells
from d2s.paper.significance import RESAMPLES, SEED, paired_bootstrap
from d2s.paper.tables import build_table

SEEDS = [1, 2, 3]
N_IMAGES = 120


def _write_run(tmp_path, spec, target, prediction):
    folder = tmp_path / spec.folder("res")
    folder.mkdir(parents=True)
    names = [f"objects_{i:03d}.jpg" for i in range(len(target))]
    pd.DataFrame(
        {"image": names, "target": target, "prediction": prediction, "category": "objects"}
    ).to_csv(folder / "predictions.csv", index=False)
    metrics = {
        "srcc": stats.spearmanr(prediction, target).statistic,
        "plcc": stats.pearsonr(prediction, target).statistic,
        "rmse": float(np.sqrt(np.mean((prediction - target) ** 2))),
        "rmae": float(np.sqrt(np.mean(np.abs(prediction - target)))),
        "seed": spec.seed,
        "eal_mode": "released",
        "select": "test-plcc",
        "run_label": "test",
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture
def table1(tmp_path, monkeypatch):
    """Table 1 of three rows on one fixed test set: d2s-r18 clearly better than icnet, d2s-r50
    equal to icnet up to tiny noise, iccorn clearly worse."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(7)
    target = rng.uniform(0, 1, N_IMAGES)
    noise = {"d2s-r18": 0.05, "d2s-r50": None, "icnet": 0.2, "iccorn": 0.6}
    predictions = {}
    for seed in SEEDS:
        base = target + rng.normal(0, noise["icnet"], N_IMAGES)
        for model, sd in noise.items():
            pred = (
                base + rng.normal(0, 1e-4, N_IMAGES)
                if sd is None
                else (base if model == "icnet" else target + rng.normal(0, sd, N_IMAGES))
            )
            predictions[model, seed] = pred
            _write_run(
                tmp_path, RunSpec("ic9600", "official", model, "default", seed), target, pred
            )
    config = {
        "experiments": {"ic9600": "ic9600", "table1": {"models": list(noise)}},
        "seeds": SEEDS,
    }
    frame = build_table(
        "table1", table_cells("table1", config), "res", None, tmp_path / "t1.csv", {}
    )
    return frame, target, predictions


def _line(frame, row, metric):
    return frame[(frame["row"] == row) & (frame["metric"] == metric)].iloc[0]


def test_bootstrap_interval_equals_a_direct_loop_with_scipy(table1):
    frame, target, predictions = table1
    draws = np.random.default_rng(SEED).integers(0, N_IMAGES, size=(RESAMPLES, N_IMAGES))
    for metric, corr in (("srcc", stats.spearmanr), ("plcc", stats.pearsonr)):
        diffs = []
        for idx in draws:
            per_seed = [
                corr(predictions["d2s-r18", s][idx], target[idx]).statistic
                - corr(predictions["icnet", s][idx], target[idx]).statistic
                for s in SEEDS
            ]
            diffs.append(np.mean(per_seed))
        low, high = np.percentile(diffs, [2.5, 97.5])
        line = _line(frame, "d2s-r18", metric)
        assert line["ci_low"] == pytest.approx(low, abs=1e-12)
        assert line["ci_high"] == pytest.approx(high, abs=1e-12)
        seed_diffs = [
            corr(predictions["d2s-r18", s], target).statistic
            - corr(predictions["icnet", s], target).statistic
            for s in SEEDS
        ]
        assert line["diff_mean"] == pytest.approx(np.mean(seed_diffs))
        assert line["diff_std"] == pytest.approx(np.std(seed_diffs, ddof=1))
        assert line["vs"] == "icnet" and line["verdict"] == "better"


def test_bootstrap_interval_agrees_with_scipy_bootstrap():
    """One seed: scipy's own paired percentile bootstrap (other draws) gives nearly the same
    interval."""
    rng = np.random.default_rng(3)
    target = rng.uniform(0, 1, 200)
    a, b = target + rng.normal(0, 0.15, 200), target + rng.normal(0, 0.2, 200)
    ours = paired_bootstrap(target, a[None], b[None], "srcc")

    def diff(t, x, y):
        return stats.spearmanr(x, t).statistic - stats.spearmanr(y, t).statistic

    theirs = stats.bootstrap(
        (target, a, b),
        diff,
        paired=True,
        vectorized=False,
        n_resamples=2000,
        method="percentile",
        rng=np.random.default_rng(0),
    ).confidence_interval
    assert ours[0] == pytest.approx(theirs.low, abs=0.01)
    assert ours[1] == pytest.approx(theirs.high, abs=0.01)


def test_verdicts_and_reference_choice(table1):
    frame, _, _ = table1
    # ICNet is the strongest baseline (ICCORN is worse); D2S rows are compared with it
    assert _line(frame, "icnet", "srcc")["verdict"] == "reference"
    assert _line(frame, "d2s-r50", "srcc")["verdict"] == "not distinguishable"
    assert _line(frame, "iccorn", "srcc")["verdict"] == "worse"
    assert _line(frame, "iccorn", "srcc")["vs"] == "icnet"
    md = open("t1.md").read()
    assert "Is a difference real?" in md
    r18 = next(line for line in md.splitlines() if line.startswith("| d2s-r18 |  | icnet"))
    assert "better" in r18 and "[+" in r18
    on_disk = pd.read_csv("t1.csv", keep_default_na=False)
    assert set(on_disk.loc[on_disk["metric"] == "srcc", "verdict"]) == {
        "better",
        "not distinguishable",
        "worse",
        "reference",
    }


def test_group_without_baseline_compares_with_its_strongest_row(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(1)
    target = rng.uniform(0, 1, 60)
    config = {"experiments": {"ic9600": "demo", "table5": {}}, "seeds": [7]}
    cells = table_cells("table5", config)
    for i, cell in enumerate(cells):
        _write_run(tmp_path, cell.spec, target, target + rng.normal(0, 0.1 + 0.1 * i, 60))
    frame = build_table("table5", cells, "res", None, tmp_path / "t5.csv", {})
    strongest = cells[0].row  # the least noisy
    assert set(frame.loc[frame["metric"] == "srcc", "vs"]) == {strongest}
    assert _line(frame, strongest, "srcc")["verdict"] == "reference"
    # one seed: no std of the per-seed difference, but an interval
    other = _line(frame, cells[-1].row, "srcc")
    assert np.isnan(other["diff_std"]) and other["ci_high"] < 0 and other["verdict"] == "worse"
