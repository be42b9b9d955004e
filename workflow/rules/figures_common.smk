# Helpers for workflow/rules/figures.smk (kept apart from rules, as the lint asks). Which runs
# feed which figure comes from the run matrix (d2s/experiments.py, via table_cells).
import shlex
from pathlib import Path

# Figures of the paper config go to figures/, those of another config to figures/<last part of
# its results folder> (the demo: results/demo -> figures/demo).
FIG = "figures" if RESULTS.rstrip("/") == "results" else "figures/" + Path(RESULTS).name
FIG_NAMES = {
    "table": ["fig2", "fig3", "fig10", "fig11"],
    "runs": ["fig8", "fig9", "fig15"],
    "probe": ["fig6", "fig7", "fig16"],
    "alignment": ["fig4d", "fig4e", "fig12", "fig13", "fig14"],
    "captions": ["fig17", "fig18"],
}
FIG_EXTS = (".png", ".pdf", ".csv", ".json")


def _specs(table, row):
    return [cell.spec for cell in table_cells(table, config) if cell.row == row]


def figure_methods(fig):
    """(label, RunSpec) pairs behind a figure: D2S-R18 / D2S-R50 = Table 1 runs, vision-only =
    Table 5 case (b) (d2s-r18, no-align); all their seeds."""
    methods = [("D2S-R18", s) for s in _specs("table1", "d2s-r18")]
    if fig == "fig9":
        methods += [("D2S-R50", s) for s in _specs("table1", "d2s-r50")]
    if fig in ("fig8", "fig9", "fig15"):
        methods += [("Vision-only", s) for s in _specs("table5", "(b)")]
    return methods


def probe_run():
    """The D2S-R18 run the single-run figures (4d/e, 6, 7, 12-14, 16) use: its first seed."""
    return _specs("table1", "d2s-r18")[0]


def figure_table_input(w):
    return f"{RESULTS}/{'table1' if w.fig in ('fig2', 'fig3') else w.fig}.csv"


def figure_run_inputs(w):
    runs = figure_methods(w.fig) if w.fig in FIG_NAMES["runs"] else [("D2S", probe_run())]
    files = [spec.folder(RESULTS) + "/metrics.json" for _, spec in runs]
    files += [spec.folder(RESULTS) + "/predictions.csv" for _, spec in runs]
    return sorted(set(files)) + [ready_marker(IC)]


def figure_run_args(w):
    runs = figure_methods(w.fig) if w.fig in FIG_NAMES["runs"] else [("D2S-R18", probe_run())]
    return " ".join(
        f"--run {shlex.quote(f'{label}={spec.folder(RESULTS)}')}" for label, spec in runs
    )


def figure_feature_inputs(w):
    spec = probe_run()
    inputs = [spec.folder(RESULTS) + "/metrics.json", ready_marker(IC)]
    text = run_overrides(spec, config).get("text_features")
    return inputs + ([text] if text else [])


def figure_meta(w=None):
    return (
        f"--config-name {shlex.quote(str(config.get('config_name', '')))}"
        f" --run-label {shlex.quote(str(config.get('run_label', '')))}"
    )


def all_figure_names():
    """Every figure this config can draw (the sweeps only where the config has them)."""
    names = []
    for group in FIG_NAMES.values():
        names += [n for n in group if n not in ("fig10", "fig11") or n in EXPERIMENTS]
    return names


def all_figure_records():
    return [f"{FIG}/{name}.json" for name in all_figure_names()]


def all_figure_files():
    return [f"{FIG}/{name}{ext}" for name in all_figure_names() for ext in FIG_EXTS]
