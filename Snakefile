# D2S reproducibility suite: the whole workflow. This file is a table of contents; the rules live
# in workflow/rules/*.smk and every rule runs a `d2s` command (see README and docs/design.md).
import sys

from snakemake.utils import min_version, validate

min_version("8.0")


configfile: "workflow/config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")

# Every rule runs the suite's CLI with the Python that runs Snakemake (no PATH assumptions).
D2S = f"{sys.executable} -m d2s"


# Datasets: demo data, downloads (Savoias, KADID-10K, KonIQ-10K, TID2013), user-placed sets
# (IC9600, Nagle4k, VISC-C, VISC-CI) and split files.
include: "workflow/rules/data.smk"
# Captions (docs/design.md §1.2): caption caches and cached CLIP text features; demo descriptions stand
# in for BLIP.
include: "workflow/rules/captions.smk"
# Training runs (wildcards: dataset, split, model, variant, seed) and cross-dataset evaluation.
include: "workflow/rules/train.smk"
# Decoded-image caches shared by the runs (`snakemake image_caches`; d2s/data/cache.py).
include: "workflow/rules/cache.smk"
# Tables 1-8 and the data of Figs. 10-11, beside the paper's numbers (results/paper/).
include: "workflow/rules/tables.smk"
# Latency and throughput benchmarks (pytest --benchmark-only) → Table 1's Params/Latency, Fig. 3.
include: "workflow/rules/benchmarks.smk"
# The paper's figures (docs/design.md §5) and the gallery page figures/all (figures/demo/all).
include: "workflow/rules/figures.smk"
