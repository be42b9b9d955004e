"""Snakemake script for the `table` rule: build one table from its runs (d2s.paper.tables)."""

import sys

from d2s.paper.runs import table_cells
from d2s.paper.tables import build_table, build_table8, model_rows

smk = snakemake  # noqa: F821  (injected by Snakemake)
sys.stderr = open(smk.log[0], "w")  # noqa: SIM115
table = smk.wildcards.table
config = smk.config
meta = {"config": config.get("config_name", ""), "run_label": config.get("run_label", "")}
if table == "table8":
    build_table8(smk.input.table1, smk.input.table7, smk.params.paper, smk.output.csv, meta)
else:
    extra = None
    if table == "table1":
        latency = smk.input.get("latency") if hasattr(smk.input, "get") else None
        models = [*config["experiments"]["table1"]["models"], "hyperiqa", "topiq"]
        extra = model_rows(models, latency)  # HyperIQA, TOPIQ: params and latency only
    build_table(
        table,
        table_cells(table, config),
        config["results"],
        smk.params.paper,
        smk.output.csv,
        meta,
        extra_rows=extra,
    )
