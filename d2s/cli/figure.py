"""``d2s figure NAME --out PREFIX …``: render one of the paper's figures from result files.

Examples::

    d2s figure fig2 --table results/table1.csv --out figures/fig2
    d2s figure fig8 --run D2S-R18=results/runs/ic9600/official/d2s-r18/default/seed42 \\
        --run Vision-only=results/runs/ic9600/official/d2s-r18/no-align/seed42 --out figures/fig8
    d2s figure features --run D2S=RUN_FOLDER --out figures/data/alignment.npz
    d2s figure fig14 --features figures/data/alignment.npz --out figures/fig14
    d2s figure fig17 --captions resources/captions/ic9600/blip.tsv --dataset ic9600 \\
        --root resources/datasets/ic9600 --out figures/fig17
    d2s figure gallery --records figures/*.json --out figures/all

A figure is written as ``PREFIX.png`` (300 dpi), ``PREFIX.pdf``, ``PREFIX.csv`` (the data plotted)
and ``PREFIX.json`` (caption, inputs, runs, config; written last). ``features`` writes the
before/after-alignment features of a D2S run (``.npz``) that Figs. 4(d), 4(e), 12–14 read.
"""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    from d2s.paper.figures import ORDER

    p = subparsers.add_parser(
        "figure",
        help="render a paper figure from result files",
        description="Render one of the paper's figures (PNG + PDF + plotted data CSV + JSON "
        "record) from the suite's result files; `features` computes the before/after-alignment "
        "features of a D2S run; `gallery` writes the index page of rendered figures.",
    )
    p.add_argument("name", choices=[*ORDER, "features", "gallery"])
    p.add_argument(
        "--out", required=True, help="output prefix (no suffix); .npz / page for features / gallery"
    )
    p.add_argument("--table", help="table CSV (fig2, fig3: table1.csv; fig10/11: fig10/11.csv)")
    p.add_argument(
        "--run",
        action="append",
        default=[],
        metavar="LABEL=RUN_FOLDER",
        help="a training run folder; repeat a label for its seeds (figs 6-9, 15, 16)",
    )
    p.add_argument("--features", help="figure features .npz (figs 4d, 4e, 12-14)")
    p.add_argument(
        "--compare-features",
        action="append",
        default=[],
        metavar="NPZ",
        help="figs 4d, 14: another run's features, drawn as its own panel (e.g. the other eal_mode)",
    )
    p.add_argument("--captions", help="caption cache TSV (figs 17-18)")
    p.add_argument("--dataset", help="dataset loader name (figs 17-18), e.g. ic9600")
    p.add_argument("--root", help="dataset folder (figs 17-18; others: overrides the run's)")
    p.add_argument("--records", nargs="*", default=[], help="figure JSON records (gallery)")
    p.add_argument("--config-name", default="", help="config name, for the record")
    p.add_argument("--run-label", default="", help="run label (demo figures are marked)")
    p.add_argument("--examples", type=int, default=4, help="example images (fig16)")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap resamples (fig7)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--force", action="store_true", help="replace existing files not made here")
    p.set_defaults(func=run)


def _check_outputs(args: argparse.Namespace) -> None:
    """The output policy (d2s/core/outputs.py) for every file this figure writes."""
    import zipfile
    from pathlib import Path

    from d2s.core.outputs import check_output, first_line_is

    runs = [spec.split("=", 1)[-1] for spec in args.run]
    inputs = [args.table, args.features, *args.compare_features, args.captions, args.root]
    inputs = [path for path in [*inputs, *args.records, *runs] if path]
    if args.name == "gallery":
        outs = [Path(args.out), Path(args.out).with_name("index.md")]
        ours = first_line_is(f"# D2S figures ({args.config_name or 'paper'} config)")
    elif args.name == "features":
        outs = [Path(args.out)]
        ours = zipfile.is_zipfile  # an .npz of figure features
    else:
        suffixes = ("png", "pdf", "csv", "json", "npz")
        outs = [Path(f"{args.out}.{suffix}") for suffix in suffixes]
        record = Path(f"{args.out}.json")

        def ours(path: Path) -> bool:  # listed by the figure's own JSON record
            if path.suffix == ".npz" and zipfile.is_zipfile(path):
                return True  # the plotted arrays (the workflow declares the other four files)
            try:
                return path.name in json.loads(record.read_text(encoding="utf-8"))["files"].values()
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                return False

    for out in outs:
        check_output(out, command="figure", inputs=inputs, force=args.force, ours=ours)


def run(args: argparse.Namespace) -> int:
    from d2s.cli import CLIError
    from d2s.paper.figures.sources import FigureError, parse_runs

    _check_outputs(args)
    try:
        if args.threads > 0:
            import torch

            torch.set_num_threads(args.threads)
        if args.name == "gallery":
            return _gallery(args)
        runs = parse_runs(args.run)
        if args.name == "features":
            from d2s.paper.figures.alignment import compute_features, save_features

            if not runs:
                raise FigureError("features needs --run LABEL=RUN_FOLDER (a D2S run)")
            arrays, meta = compute_features(runs[0].folder, args.root, args.batch_size)
            save_features(arrays, meta, args.out)
            print(f"{runs[0].folder}: {meta['n_images']} test images → {args.out}")
            return 0
        from d2s.paper.figures.render import Inputs, render

        inputs = Inputs(
            out=args.out,
            table=args.table,
            runs=runs,
            features=args.features,
            compare_features=args.compare_features,
            captions=args.captions,
            dataset=args.dataset,
            root=args.root,
            config_name=args.config_name,
            run_label=args.run_label,
            examples=args.examples,
            n_boot=args.n_boot,
            batch_size=args.batch_size,
        )
        paths = render(args.name, inputs)
    except ValueError as err:  # FigureError, DatasetError, CheckpointError, MetricError
        raise CLIError(str(err)) from None
    print(f"{args.name} → {paths['png']}, {paths['pdf']}")
    return 0


def _gallery(args: argparse.Namespace) -> int:
    from pathlib import Path

    from d2s.core.io import atomic_write_text
    from d2s.paper.figures.gallery import read_records, render_gallery

    text = render_gallery(read_records(args.records), args.config_name, args.run_label)
    atomic_write_text(text, args.out)
    index = Path(args.out).with_name("index.md")
    if index != Path(args.out):
        atomic_write_text(text, index)
    print(f"gallery of {len(args.records)} figures → {args.out}")
    return 0
