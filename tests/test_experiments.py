"""The run matrix (d2s.paper.runs) and the table builder (d2s.paper.tables) on synthetic results."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from d2s.paper.runs import RunSpec, run_overrides, table_cells, variant_overrides
from d2s.paper.tables import TableError, build_table, build_table8

ROOT = Path(__file__).resolve().parents[1]
PAPER_CONFIG = yaml.safe_load((ROOT / "workflow" / "config" / "config.yaml").read_text())


def test_variant_tokens_map_to_train_keys():
    config = {"short_epochs": 5, "nriqa_image_size": 384}
    assert variant_overrides("default", config) == {}
    assert variant_overrides("M512_mom0.999", config) == {"buffer_size": 512, "momentum": 0.999}
    assert variant_overrides("nriqa", config) == {"epochs": 5, "image_size": 384}
    assert variant_overrides("no-align", config) == {"use_eal": False, "use_fal": False}
    assert variant_overrides("eal0.5_fal1", config) == {"eal_weight": 0.5, "fal_weight": 1.0}
    assert variant_overrides("cap-florence-cap2", config) == {"captioner": "florence-cap2"}
    assert variant_overrides("sel-val", config) == {"select": "val"}
    assert variant_overrides("ealmode-online", config) == {"eal_mode": "online"}
    with pytest.raises(ValueError, match="unknown variant token 'warp9'"):
        variant_overrides("short_warp9", config)


def test_table1_selection_groups_and_the_eal_mode_comparison_run():
    from d2s.paper.runs import eal_mode_comparison

    config = {
        "experiments": {
            "ic9600": "demo",
            "table1": {"models": ["d2s-r18", "icnet"], "selections": {"val": ["icnet"]}},
        },
        "seeds": [1, 2],
    }
    cells = table_cells("table1", config)
    extra = [c for c in cells if c.group == "select: val"]
    assert [(c.row, c.spec.variant, c.spec.seed) for c in extra] == [
        ("icnet", "sel-val", 1),
        ("icnet", "sel-val", 2),
    ]
    assert len(cells) == 4 + 2
    probe = cells[0].spec
    assert eal_mode_comparison(probe, config) is None
    config["experiments"]["fig14"] = {"compare_eal_mode": "online"}
    other = eal_mode_comparison(probe, config)
    assert other.variant == "ealmode-online" and other.seed == probe.seed
    assert other.model == probe.model and other.folder("r") != probe.folder("r")


def test_run_overrides_for_each_split_kind():
    sst = run_overrides(RunSpec("ic9600", "sst50", "icnet", "short", 42), PAPER_CONFIG)
    assert sst["split_dir"] == "resources/splits/ic9600/sst" and sst["train_split"] == "sst50"
    assert sst["epochs"] == 5 and "text_features" not in sst  # ICNet reads no captions
    nriqa = run_overrides(RunSpec("kadid10k", "nriqa", "d2s-r50", "nriqa", 826), PAPER_CONFIG)
    assert nriqa["dataset"] == "kadid10k" and nriqa["image_size"] == 384
    assert nriqa["text_features"] == "resources/text_features/kadid10k/blip.pt"
    assert nriqa["eal_mode"] == "released" and nriqa["select"] == "test-plcc"
    table7 = run_overrides(
        RunSpec("ic9600", "official", "caption-only", "cap-florence-cap1", 42), PAPER_CONFIG
    )
    assert table7["text_features"].endswith("ic9600/florence-cap1.pt")
    demo = run_overrides(
        RunSpec("demo", "official", "d2s-r18", "default", 42), {**PAPER_CONFIG, "resources": "res"}
    )
    assert demo["dataset"] == "ic9600" and demo["root"] == "res/demo"


def test_image_caches_live_under_the_configs_resources():
    """A config with its own `resources` (the rehearsal's) keeps its image caches there."""
    spec = RunSpec("ic9600", "official", "d2s-r18", "default", 42)
    elsewhere = {**PAPER_CONFIG, "resources": "rehearsal/resources"}
    assert run_overrides(spec, elsewhere)["image_cache"] == "rehearsal/resources/cache/images"
    assert run_overrides(spec, PAPER_CONFIG)["image_cache"] == "resources/cache/images"
    for value in ("off", "some/folder"):
        training = {**PAPER_CONFIG["training"], "image_cache": value}
        assert run_overrides(spec, {**elsewhere, "training": training})["image_cache"] == value


def _unique_runs(config, tables):
    cells = [c for t in tables for c in table_cells(t, config)]
    return {c.spec if isinstance(c.spec, RunSpec) else c.spec.source for c in cells}


def test_table3_sources_are_the_default_runs_only_when_the_short_protocol_is_the_same():
    """Paper: 5 short epochs vs 20, separate source runs. Demo-like: equal epochs, one run."""
    config = {
        "experiments": {"ic9600": "demo", "table3": {"models": ["icnet"], "targets": ["t"]}},
        "seeds": [1],
        "resources": "res",
        "training": {"epochs": 3},
    }
    for short_epochs, expected in ((2, "short"), (3, "default")):
        [cell] = table_cells("table3", {**config, "short_epochs": short_epochs})
        assert cell.spec.source.variant == expected
    # epochs left to the model's recipe: the short run's explicit epochs may differ, keep both
    [cell] = table_cells("table3", {**config, "training": {}, "short_epochs": 3})
    assert cell.spec.source.variant == "short"


def test_paper_matrix_run_counts_by_hand():
    cells = table_cells("table1", PAPER_CONFIG)
    assert len(cells) == 12 and len({c.spec for c in cells}) == 12  # 3 seeds x 4 models
    assert len(table_cells("table2", PAPER_CONFIG)) == 4 * 4 * 3
    assert len(table_cells("table3", PAPER_CONFIG)) == 4 * 4 * 3  # 12 sources x 4 targets
    # Table 6's rows at the paper's defaults share one run (2048 / 0.995 / 50 = Table 5 (e))
    t6 = _unique_runs(PAPER_CONFIG, ["table6"])
    assert len(t6) == (3 + 3 + 2 + 1) * 3
    tables = [
        "table1",
        "table2",
        "table3",
        "table4",
        "table5",
        "table6",
        "table7",
        "fig10",
        "fig11",
    ]
    # 12 + 48 + 12 (short) + 18 + 12 (a-d) + 24 + 24 + 12 + 18, counted from the paper's tables,
    # + 15 for Table 5's caption controls (2 controls x 3 seeds x 2 EAL modes, and the 3 real-
    # caption runs under the online EAL; the released ones are Table 1's D2S-R18 runs)
    assert len(_unique_runs(PAPER_CONFIG, tables)) == 180 + 15


def _write_run(root, spec, metrics, label="paper"):
    folder = root / spec.folder("res")
    folder.mkdir(parents=True)
    payload = {
        **metrics,
        "seed": spec.seed,
        "eal_mode": "released",
        "select": "test-plcc",
        "run_label": label,
    }
    (folder / "metrics.json").write_text(json.dumps(payload))


def test_table_means_stds_and_paper_differences(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = {
        "experiments": {"ic9600": "ic9600", "table1": {"models": ["d2s-r18"]}},
        "seeds": [1, 2, 3],
    }
    rng = np.random.default_rng(0)
    values = rng.uniform(0.9, 0.96, size=(3, 4))
    for seed, row in zip([1, 2, 3], values, strict=True):
        metrics = dict(zip(["srcc", "plcc", "rmse", "rmae"], row, strict=True))
        _write_run(tmp_path, RunSpec("ic9600", "official", "d2s-r18", "default", seed), metrics)
    paper = tmp_path / "paper.csv"
    paper.write_text(
        "row,group,metric,value,std,note\nd2s-r18,,srcc,0.9509,0.0026,\nMICM,,plcc,0.953,,cited row\n"
    )
    frame = build_table(
        "table1",
        table_cells("table1", config),
        "res",
        paper,
        tmp_path / "t1.csv",
        {"config": "paper", "run_label": "paper"},
    )
    srcc = frame[(frame["row"] == "d2s-r18") & (frame["metric"] == "srcc")].iloc[0]
    assert srcc["mean"] == pytest.approx(values[:, 0].mean())
    assert srcc["std"] == pytest.approx(values[:, 0].std(ddof=1))
    assert srcc["diff"] == pytest.approx(values[:, 0].mean() - 0.9509)
    assert srcc["n"] == 3 and srcc["eal_mode"] == "released" and srcc["select"] == "test-plcc"
    cited = frame[frame["row"] == "MICM"].iloc[0]
    assert cited["status"] == "cited" and np.isnan(cited["mean"]) and cited["paper"] == 0.953
    on_disk = pd.read_csv(tmp_path / "t1.csv")
    assert len(on_disk) == len(frame) and set(on_disk["config"]) == {"paper"}
    md = (tmp_path / "t1.md").read_text()
    assert "d2s-r18" in md and "(0.9509)" in md and "DEMO" not in md


def test_demo_tables_say_so_and_missing_runs_are_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = {"experiments": {"ic9600": "demo", "table5": {}}, "seeds": [7]}
    cells = table_cells("table5", config)
    with pytest.raises(TableError, match="metrics.json: run result missing"):
        build_table("table5", cells, "res", None, tmp_path / "t5.csv", {})
    for cell in cells:
        _write_run(
            tmp_path, cell.spec, {"srcc": 0.5, "plcc": 0.6, "rmse": 0.2, "rmae": 0.4}, "demo"
        )
    build_table(
        "table5", cells, "res", None, tmp_path / "t5.csv", {"config": "demo", "run_label": "demo"}
    )
    assert "DEMO RESULTS" in (tmp_path / "t5.md").read_text()
    assert set(pd.read_csv(tmp_path / "t5.csv")["row"]) == {"(a)", "(b)", "(c)", "(d)", "(e)"}


def test_table8_is_derived_from_tables_1_and_7(tmp_path):
    def table(rows):
        return pd.DataFrame(
            rows,
            columns=["row", "group", "metric", "mean", "std", "n", "status", "eal_mode", "select"],
        )

    t1 = table(
        [
            ("icnet", "", "srcc", 0.9, 0.01, 3, "reproduced", "", "test-plcc"),
            ("d2s-r18", "", "srcc", 0.95, 0.0, 3, "reproduced", "released", "test-plcc"),
            ("MICM", "", "srcc", None, None, None, "cited", "", ""),
        ]
    )
    t7 = table(
        [
            ("blip", "caption only", "srcc", 0.8, 0.02, 3, "reproduced", "", "test-plcc"),
            ("blip", "concat", "srcc", 0.94, 0.0, 3, "reproduced", "", "test-plcc"),
        ]
    )
    t1.to_csv(tmp_path / "t1.csv", index=False)
    t7.to_csv(tmp_path / "t7.csv", index=False)
    frame = build_table8(
        tmp_path / "t1.csv",
        tmp_path / "t7.csv",
        ROOT / "results" / "paper" / "table8.csv",
        tmp_path / "t8.csv",
        {"run_label": "paper"},
    )
    got = frame[frame["status"] == "reproduced"].set_index("row")
    assert got.loc["blip", "group"] == "text-only" and got.loc["blip", "mean"] == 0.8
    assert (
        got.loc["icnet", "group"] == "vision-only"
        and got.loc["d2s-r18", "group"] == "vision-text fusion"
    )
    assert got.loc["d2s-r18", "paper"] == pytest.approx(0.951)
