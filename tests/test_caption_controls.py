"""Negative controls of the text guidance: shuffled and constant captions (docs/design.md §1.4).

The shuffled pairing is a seeded permutation without fixed points (same multiset of captions), the
constant control feeds one feature; both train through ``d2s train``, are refused where they
control nothing, and enter Table 5 each compared with the real-caption run of the same seeds.
"""

import json
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from d2s.data import Item
from d2s.data.demo import make_demo
from d2s.paper.runs import REAL_CAPTIONS, RunSpec, run_overrides, table_cells
from d2s.paper.tables import CONTROL_NOTE, build_table
from d2s.train.checks import ConfigError
from d2s.train.config_file import load_config
from d2s.train.controls import apply_caption_control, derangement
from d2s.train.data import Split


@pytest.mark.parametrize("n", [2, 3, 5, 24, 312])
@pytest.mark.parametrize("seed", [42, 826, 1215])
def test_shuffled_pairing_is_a_permutation_without_fixed_points_fixed_by_seed(n, seed):
    perm = derangement(n, seed)
    assert sorted(perm.tolist()) == list(range(n))  # every caption used once: same multiset
    assert not (perm == np.arange(n)).any()  # no image keeps its own caption
    assert (derangement(n, seed) == perm).all()  # fixed by the seed


def test_seeds_give_different_pairings_and_the_split_keeps_its_captions():
    assert not (derangement(312, 42) == derangement(312, 826)).all()
    items = [Item(f"img{i}.png", f"/x/img{i}.png", i / 10) for i in range(10)]
    features = torch.randn(10, 512)
    entropy = torch.rand(10)
    split = Split("train", list(items), features.clone(), entropy.clone())
    apply_caption_control(split, "shuffled", 42)
    for i in range(10):  # another image's caption, with its own entropy
        assert not torch.equal(split.text_features[i], features[i])
        j = int(torch.nonzero((features == split.text_features[i]).all(1))[0])
        assert split.text_entropy[i] == entropy[j]
    as_rows = Counter(tuple(r) for r in split.text_features.tolist())
    assert as_rows == Counter(tuple(r) for r in features.tolist())


def test_constant_control_feeds_one_feature_to_every_image():
    features, entropy = torch.randn(10, 512), torch.rand(10)
    split = Split("train", [Item(f"{i}", f"{i}", 0.0) for i in range(10)], features, entropy)
    apply_caption_control(split, "constant", 42)
    assert (split.text_features == split.text_features[0]).all()
    assert (split.text_entropy == split.text_entropy[0]).all()
    assert any(torch.equal(split.text_features[0], row) for row in features)  # a real caption's
    unchanged = Split("train", [], features.clone(), entropy.clone())
    assert torch.equal(apply_caption_control(unchanged, "none", 42).text_features, features)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    make_demo(root, seed=0, size=32, image_size=32)
    return root


def _train(demo, out, cache, *extra):
    command = [sys.executable, "-m", "d2s", "train", "--out", str(out), "model=d2s-r18"]
    command += [
        f"root={demo}",
        f"captions={demo / 'captions.tsv'}",
        "clip_weights=random",
        f"text_cache={cache}",
        "image_size=32",
        "epochs=1",
        "batch_size=12",
        "buffer_size=8",
        "refresh_steps=2",
        "pretrained=false",
        "device=cpu",
        "threads=1",
        *extra,
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def test_controls_train_through_d2s_train_and_change_what_fal_sees(demo, tmp_path):
    """Each control is recorded in metrics.json and changes the FAL of the same seed's training
    (the same images and initialisation; only the captions' pairing differs)."""
    fal = {}
    for control in ("none", "shuffled", "constant"):
        out = tmp_path / control
        done = _train(demo, out, tmp_path / "cache", f"caption_control={control}")
        assert done.returncode == 0, done.stderr[-3000:]
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["caption_control"] == control
        fal[control] = pd.read_csv(out / "log.csv")["fal"].iloc[0]
    assert fal["shuffled"] != fal["none"] and fal["constant"] != fal["none"]


def test_a_control_that_controls_nothing_is_refused_in_one_line(demo, tmp_path):
    done = _train(demo, tmp_path / "r", tmp_path / "cache", "caption_control=reversed")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "caption_control" in done.stderr and "'reversed'" in done.stderr
    base = {"root": str(demo), "captions": str(demo / "captions.tsv")}
    for model, keys in [
        ("d2s-r18", {"use_eal": False, "use_fal": False}),
        ("icnet", {}),
        ("caption-only", {}),
    ]:
        with pytest.raises(ConfigError, match="caption_control"):
            load_config(overrides={**base, **keys, "model": model, "caption_control": "shuffled"})
    for model in ("d2s-r18", "d2s-r50", "d2s-r18-gap"):  # every D2S model takes them
        keys = {**base, "model": model, "caption_control": "constant", "use_eal": True}
        assert load_config(overrides=keys).caption_control_label == "constant"


def _config(**table5):
    return {
        "experiments": {"ic9600": "demo", "table1": {"seeds": [1, 2, 3]}, "table5": table5},
        "seeds": [7],
        "resources": "resources",
        "protocol": {"eal_mode": "released"},
    }


def test_table5_control_rows_use_table1_seeds_and_name_their_reference():
    assert [c for c in table_cells("table5", _config()) if c.group] == []
    config = _config(caption_controls=["shuffled", "constant"], control_eal_modes=["released"])
    controls = [c for c in table_cells("table5", config) if c.group]
    assert len(controls) == 9 and {c.spec.seed for c in controls} == {1, 2, 3}
    real = [c for c in controls if c.reference]
    assert {c.row for c in real} == {REAL_CAPTIONS}
    assert {c.spec.variant for c in real} == {"default"}  # Table 1's D2S-R18 runs themselves
    shuffled = next(c.spec for c in controls if c.row == "shuffled captions")
    assert run_overrides(shuffled, config)["caption_control"] == "shuffled"
    both = _config(caption_controls=["shuffled"], control_eal_modes=["released", "online"])
    online = [c for c in table_cells("table5", both) if c.group == "captions, eal_mode online"]
    assert {c.spec.variant for c in online} == {
        "ealmode-online",
        "ealmode-online_captions-shuffled",
    }
    keys = run_overrides(next(c.spec for c in online if not c.reference), both)
    assert keys["eal_mode"] == "online" and keys["caption_control"] == "shuffled"


def _write_run(tmp_path, spec: RunSpec, target, prediction):
    folder = tmp_path / spec.folder("res")
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"objects_{i:03d}.jpg" for i in range(len(target))]
    frame = pd.DataFrame({"image": names, "target": target, "prediction": prediction})
    frame.to_csv(folder / "predictions.csv", index=False)
    metrics = {
        "srcc": stats.spearmanr(prediction, target).statistic,
        "plcc": stats.pearsonr(prediction, target).statistic,
        "rmse": 0.1,
        "rmae": 0.1,
        "seed": spec.seed,
        "caption_control": spec.variant.split("captions-")[-1]
        if "captions-" in spec.variant
        else "none",
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_controls_are_compared_with_the_real_caption_run_and_read_in_words(tmp_path):
    """The reference is the real-caption row even where a control scores higher (a group's
    strongest row would be the default); a lower control reads "needs the real pairing"."""
    rng = np.random.default_rng(0)
    target = rng.uniform(0, 1, 100)
    config = _config(caption_controls=["shuffled", "constant"], control_eal_modes=["released"])
    cells = table_cells("table5", config)
    noise = {REAL_CAPTIONS: 0.2, "shuffled captions": 0.05, "constant captions": 0.6}
    for cell in cells:
        _write_run(
            tmp_path, cell.spec, target, target + rng.normal(0, noise.get(cell.row, 0.1), 100)
        )
    frame = build_table("table5", cells, str(tmp_path / "res"), None, tmp_path / "t5.csv", {})
    controls = frame[
        (frame["group"] == "captions, eal_mode released") & (frame["metric"] == "srcc")
    ]
    by_row = controls.set_index("row")
    assert set(by_row["vs"]) == {REAL_CAPTIONS}
    assert by_row.loc[REAL_CAPTIONS, "verdict"] == "reference"
    assert by_row.loc["shuffled captions", "verdict"] == "better"
    assert by_row.loc["constant captions", "verdict"] == "worse"
    assert by_row.loc["constant captions", "note"].startswith(CONTROL_NOTE + "the gain needs")
    assert "survives losing the pairing" in by_row.loc["shuffled captions", "note"]
    assert by_row.loc["constant captions", "caption_control"] == "constant"
    md = (tmp_path / "t5.md").read_text()
    assert (
        "Is the gain semantic?" in md
        and "| constant captions | captions, eal_mode released |" in md
    )


def test_plan_costs_the_runs_the_controls_add():
    import yaml

    from d2s.ops.plan import CONTROLS_ROW, plan, run_hours

    config = yaml.safe_load(open("workflow/config/config.yaml"))
    costs = {"d2s": 100.0, "vision-only": 80.0, "batch": 32, "size": 512}
    rows = {row["table"]: row for row in plan(config, costs)}
    added = rows[CONTROLS_ROW]
    # 2 controls x 3 seeds x 2 EAL modes, and the online EAL's 3 real-caption runs
    assert added["runs"] == 15
    online = RunSpec("ic9600", "official", "d2s-r18", "ealmode-online_captions-constant", 42)
    assert added["hours"] == pytest.approx(15 * run_hours(online, config, costs)[0])
    # (a)-(e) and the added runs: the released real-caption reference is case (e) itself
    assert rows["table5"]["runs"] == 5 * 3 + 15
    config["experiments"]["table5"]["caption_controls"] = []
    assert CONTROLS_ROW not in {row["table"] for row in plan(config, costs)}


def test_check_demo_requires_the_control_rows_with_verdicts(tmp_path):
    """.ci/check_demo.py passes on a results folder whose Table 5 has the control rows, fails
    naming table5.csv when they are missing, and skips them on request (CI's reduced demo)."""
    rng = np.random.default_rng(3)
    target = rng.uniform(0, 1, 100)
    results = tmp_path / "res"
    config = _config(
        caption_controls=["shuffled", "constant"], control_eal_modes=["released"], seeds=[1]
    )
    config["experiments"]["table1"]["models"] = ["d2s-r18"]
    for cell in table_cells("table5", config):
        _write_run(tmp_path, cell.spec, target, target + rng.normal(0, 0.1, 100))
    build_table(
        "table1", table_cells("table1", config), str(results), None, results / "table1.csv", {}
    )

    def check(*flags):
        command = [sys.executable, ".ci/check_demo.py", str(results), *flags]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    missing = check()
    assert missing.returncode == 1 and "table5.csv: missing" in missing.stdout
    assert check("--no-caption-controls").returncode == 0
    build_table(
        "table5", table_cells("table5", config), str(results), None, results / "table5.csv", {}
    )
    done = check()
    assert done.returncode == 0, done.stdout
    assert "captions, eal_mode released: shuffled captions: SRCC" in done.stdout
    without = {**config, "experiments": {**config["experiments"], "table5": {"seeds": [1]}}}
    build_table(
        "table5", table_cells("table5", without), str(results), None, results / "table5.csv", {}
    )
    failed = check()
    assert failed.returncode == 1 and "no caption-control rows" in failed.stdout
