"""Snakemake script for the `table` rule: one table of the config (d2s.paper.tables)."""

import sys

from d2s.paper.tables import build_for_config

smk = snakemake  # noqa: F821  (injected by Snakemake)
sys.stderr = open(smk.log[0], "w")  # noqa: SIM115
inputs = dict(smk.input.items())
build_for_config(smk.wildcards.table, smk.config, inputs, smk.params.paper, smk.output.csv)
