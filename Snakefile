# D2S reproducibility suite: the whole workflow. This file is a table of contents; the rules live
# in workflow/rules/*.smk, their input functions in workflow/rules/common.smk, and every rule runs
# a `d2s` command (see README, docs/workflow.md and docs/design.md). A bare `snakemake` builds
# every table of the config and the figure gallery.
from snakemake.utils import min_version, validate

min_version("8.0")


configfile: "workflow/config/config.yaml"


# The schema carries the defaults of every workflow key (set_default fills them in).
validate(config, "workflow/schemas/config.schema.yaml", set_default=True)


# Input functions; the GPU slots and the config checks (d2s/ops/workflow.py).
include: "workflow/rules/common.smk"


# Before the first job: GPUs, CUDA build, shared memory, disk, hub, IC9600 (`d2s doctor`).
onstart:
    preflight()


# What each wildcard may be, once for every rule (lists from the d2s package: d2s/paper/targets.py).
wildcard_constraints:
    dataset=T.one_of(T.REAL_SETS + T.DEMO_SETS),
    real_set=T.one_of(T.REAL_SETS),
    demo_set=T.one_of(T.DEMO_CAPTION_SETS),
    public=T.one_of(T.PUBLIC_SETS),
    user_set=T.one_of(T.USER_SETS),
    kind="official|val|sst|nriqa",
    captioner=T.one_of(T.CAPTIONERS),
    caption_source=T.one_of(T.CAPTION_SOURCES),
    split=r"official|nriqa|sst\d+",
    model="[^/]+",
    variant="[^/]+",
    seed=r"\d+",
    target=T.one_of(T.REAL_SETS + T.DEMO_SETS),
    table=T.one_of(T.TABLES),
    table_fig=T.one_of(T.FIGURE_NAMES["table"]),
    run_fig=T.one_of(T.FIGURE_NAMES["runs"] + T.FIGURE_NAMES["probe"]),
    alignment_fig=T.one_of(T.FIGURE_NAMES["alignment"]),
    features=T.one_of(F.FEATURES),
    caption_fig=T.one_of(T.FIGURE_NAMES["captions"]),


# Aggregating and copying rules run where snakemake runs (never submitted to a cluster).
localrules:
    all,
    all_tables,
    captions_all,
    data_public,
    data_user,
    figure_report,
    figures_all,


rule all:
    input:
        T.default_targets(config),


# Datasets: demo data, downloads (Savoias, KADID-10K, KonIQ-10K, TID2013), user-placed sets
# (IC9600, Nagle4k, VISC-C, VISC-CI) and split files.
include: "workflow/rules/data.smk"
# Captions (docs/design.md §1.2): caption caches and cached CLIP text features; demo descriptions
# stand in for BLIP.
include: "workflow/rules/captions.smk"
# Training runs (wildcards: dataset, split, model, variant, seed) and cross-dataset evaluation.
include: "workflow/rules/train.smk"
# Decoded-image caches shared by the runs (`snakemake image_caches`; d2s/data/cache.py).
include: "workflow/rules/cache.smk"
# Tables 1-8 and the data of Figs. 10-11, beside the paper's numbers (results/paper/).
include: "workflow/rules/tables.smk"
# Latency and throughput benchmarks (`d2s bench run`) → Table 1's Params/Latency, Fig. 3.
include: "workflow/rules/benchmarks.smk"
# The paper's figures (docs/design.md §5) and the gallery page figures/all (figures/demo/all).
include: "workflow/rules/figures.smk"
