"""What each figure is drawn from, in a config's run matrix: the table, the runs of each method,
the probe run and the before/after-alignment features (the workflow's figure rules ask here).

Figure kinds (:data:`d2s.paper.figures.INPUTS`): ``table`` figures read a table CSV, ``runs``
figures the runs of several methods (:data:`FIGURE_METHODS`), ``probe`` and ``alignment`` figures
one D2S run (:data:`PROBE`), ``captions`` figures the caption cache.
"""

from __future__ import annotations

import shlex
from typing import Any

from d2s.paper.models import TABLE1_ROWS
from d2s.paper.runs import RunSpec, eal_mode_comparison, run_overrides, table_cells
from d2s.paper.targets import figures_folder, ready_marker

#: A method of a figure: (legend label, table, row) — every seed of that table row's runs.
Method = tuple[str, str, str]
_D2S_R18: Method = (TABLE1_ROWS["d2s-r18"], "table1", "d2s-r18")
_D2S_R50: Method = (TABLE1_ROWS["d2s-r50"], "table1", "d2s-r50")
_VISION_ONLY: Method = ("Vision-only", "table5", "(b)")  # Table 5 (b): D2S-R18 without EAL/FAL

#: The methods each ``runs`` figure compares (Figs. 8, 9, 15).
FIGURE_METHODS: dict[str, tuple[Method, ...]] = {
    "fig8": (_D2S_R18, _VISION_ONLY),
    "fig9": (_D2S_R18, _D2S_R50, _VISION_ONLY),
    "fig15": (_D2S_R18, _VISION_ONLY),
}

#: The run the single-run figures (4d/e, 6, 7, 12-14, 16) use: this method's first seed.
PROBE: Method = _D2S_R18

#: Figures drawn from another table than their own name (Figs. 2-3 from Table 1).
FIGURE_TABLES = {"fig2": "table1", "fig3": "table1"}

#: Figures that draw the compared run's features as a second panel (Figs. 4(d), 14), when the
#: config asks for one (``experiments.fig14.compare_eal_mode``).
COMPARED_PANEL = ("fig4d", "fig14")

#: The features files of the alignment figures: the probe run's, and the compared run's.
FEATURES = ("alignment", "alignment-compared")


def _runs(method: Method, config: dict[str, Any]) -> list[tuple[str, RunSpec]]:
    label, table, row = method
    return [(label, cell.spec) for cell in table_cells(table, config) if cell.row == row]


def probe_run(config: dict[str, Any]) -> RunSpec:
    return _runs(PROBE, config)[0][1]


def figure_runs(fig: str, config: dict[str, Any]) -> list[tuple[str, RunSpec]]:
    """(label, run) pairs behind a ``runs`` or ``probe`` figure."""
    if fig in FIGURE_METHODS:
        return [pair for method in FIGURE_METHODS[fig] for pair in _runs(method, config)]
    return [(PROBE[0], probe_run(config))]


def figure_table(fig: str, config: dict[str, Any]) -> str:
    """The table CSV a ``table`` figure is drawn from."""
    return f"{config['results']}/{FIGURE_TABLES.get(fig, fig)}.csv"


def _ic9600_ready(config: dict[str, Any]) -> str:
    """The ready marker of the config's IC9600 (its test images and categories)."""
    return ready_marker(config["experiments"]["ic9600"], config["resources"])


def figure_run_files(fig: str, config: dict[str, Any]) -> list[str]:
    """The metrics.json and predictions.csv of a figure's runs, then IC9600's ready marker."""
    runs = [spec.folder(config["results"]) for _, spec in figure_runs(fig, config)]
    files = [f"{run}/metrics.json" for run in runs] + [f"{run}/predictions.csv" for run in runs]
    return sorted(set(files)) + [_ic9600_ready(config)]


def figure_run_args(fig: str, config: dict[str, Any]) -> str:
    """``--run LABEL=FOLDER`` for each run of a figure."""
    results = config["results"]
    return " ".join(
        "--run " + shlex.quote(f"{label}={spec.folder(results)}")
        for label, spec in figure_runs(fig, config)
    )


def feature_run(features: str, config: dict[str, Any]) -> RunSpec:
    """The run behind a features file: ``alignment`` is the probe run, ``alignment-compared`` the
    probe run trained under ``experiments.fig14.compare_eal_mode``."""
    if features == "alignment":
        return probe_run(config)
    return eal_mode_comparison(probe_run(config), config)


def feature_files(features: str, config: dict[str, Any]) -> list[str]:
    """What a features file is computed from: its run's metrics.json (the run is complete),
    IC9600's ready marker (the test images) and the run's caption features, if it reads any."""
    spec = feature_run(features, config)
    inputs = [f"{spec.folder(config['results'])}/metrics.json", _ic9600_ready(config)]
    text = run_overrides(spec, config).get("text_features")
    return inputs + ([text] if text else [])


def feature_run_arg(features: str, config: dict[str, Any]) -> str:
    return shlex.quote("D2S=" + feature_run(features, config).folder(config["results"]))


def features_file(features: str, config: dict[str, Any]) -> str:
    """Where ``d2s figure features`` writes a features file (``alignment``, ``…-compared``)."""
    return f"{figures_folder(config)}/data/{features}.npz"


def compared_features(fig: str, config: dict[str, Any]) -> list[str]:
    """The compared run's features file, where ``fig`` draws it as a second panel."""
    wanted = fig in COMPARED_PANEL and eal_mode_comparison(probe_run(config), config)
    return [features_file(FEATURES[1], config)] if wanted else []


def compared_features_arg(fig: str, config: dict[str, Any]) -> str:
    return " ".join(
        f"--compare-features {shlex.quote(path)}" for path in compared_features(fig, config)
    )


def figure_meta(config: dict[str, Any]) -> str:
    """The config's name and run label, recorded with every figure."""
    return (
        f"--config-name {shlex.quote(str(config['config_name']))}"
        f" --run-label {shlex.quote(str(config['run_label']))}"
    )
