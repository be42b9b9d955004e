# The paper's figures (docs/design.md §5), each rendered by `d2s figure` from the suite's result files:
# tables (Figs. 2, 3, 10, 11), run predictions (8, 9, 15), trained models and test images (6, 7,
# 16), before/after-alignment features of a D2S run (4d, 4e, 12-14) and the caption cache (17-18).
# Each figure: PNG (300 dpi) + PDF + the plotted data (CSV) + a JSON record of its inputs, under
# figures/ (paper config) or figures/<results folder name> (e.g. figures/demo). `figures/all`
# (`figures/demo/all`) is the gallery page listing every figure with its caption and runs.
# Needs D2S (Snakefile), RES (data_common.smk), RESULTS, EXPERIMENTS, IC, table_cells,
# run_overrides, ready_marker (train_common.smk).


include: "figures_common.smk"


rule figure_from_table:
    input:
        table=figure_table_input,
    output:
        multiext(FIG + "/{fig}", *FIG_EXTS),
    log:
        "logs/" + FIG + "/{fig}.log",
    wildcard_constraints:
        fig="|".join(FIG_NAMES["table"]),
    params:
        d2s=D2S,
        out=FIG + "/{fig}",
        meta=figure_meta,
    shell:
        "{params.d2s} figure {wildcards.fig} --table {input.table:q} --out {params.out:q}"
        " {params.meta} > {log:q} 2>&1"


rule figure_from_runs:
    input:
        figure_run_inputs,
    output:
        multiext(FIG + "/{fig}", *FIG_EXTS),
    log:
        "logs/" + FIG + "/{fig}.log",
    wildcard_constraints:
        fig="|".join(FIG_NAMES["runs"] + FIG_NAMES["probe"]),
    threads: 2
    params:
        d2s=D2S,
        out=FIG + "/{fig}",
        runs=figure_run_args,
        meta=figure_meta,
    shell:
        "{params.d2s} figure {wildcards.fig} {params.runs} --out {params.out:q}"
        " --threads {threads} {params.meta} > {log:q} 2>&1"


rule figure_features:
    input:
        figure_feature_inputs,
    output:
        npz=FIG + "/data/alignment.npz",
    log:
        "logs/" + FIG + "/features.log",
    threads: 2
    params:
        d2s=D2S,
        run=lambda w: shlex.quote("D2S=" + probe_run().folder(RESULTS)),
    shell:
        "{params.d2s} figure features --run {params.run} --out {output.npz:q}"
        " --threads {threads} > {log:q} 2>&1"


rule figure_alignment:
    input:
        features=FIG + "/data/alignment.npz",
    output:
        multiext(FIG + "/{fig}", *FIG_EXTS),
    log:
        "logs/" + FIG + "/{fig}.log",
    wildcard_constraints:
        fig="|".join(FIG_NAMES["alignment"]),
    threads: 2
    params:
        d2s=D2S,
        out=FIG + "/{fig}",
        meta=figure_meta,
    shell:
        "{params.d2s} figure {wildcards.fig} --features {input.features:q}"
        " --out {params.out:q} --threads {threads} {params.meta} > {log:q} 2>&1"


rule figure_captions:
    input:
        captions=f"{RES}/captions/{IC}/blip.tsv",
        ready=ready_marker(IC),
    output:
        multiext(FIG + "/{fig}", *FIG_EXTS),
    log:
        "logs/" + FIG + "/{fig}.log",
    wildcard_constraints:
        fig="|".join(FIG_NAMES["captions"]),
    params:
        d2s=D2S,
        out=FIG + "/{fig}",
        dataset=loader_name(IC),
        root=dataset_folder(IC, RES),
        meta=figure_meta,
    shell:
        "{params.d2s} figure {wildcards.fig} --captions {input.captions:q}"
        " --dataset {params.dataset} --root {params.root:q} --out {params.out:q}"
        " {params.meta} > {log:q} 2>&1"


# The PNGs again, in one folder that `snakemake --report` can show as the "Figures" category.
rule figure_report:
    input:
        files=all_figure_files(),
    output:
        report(directory(FIG + "/report"), patterns=["{name}.png"], category="Figures"),
    log:
        "logs/" + FIG + "/report.log",
    params:
        pngs=lambda w, input: " ".join(shlex.quote(f) for f in input.files if f.endswith(".png")),
    shell:
        "mkdir -p {output:q} && cp {params.pngs} {output:q}/ > {log:q} 2>&1"


rule figures_all:
    input:
        records=all_figure_records(),
        files=all_figure_files(),
        report=FIG + "/report",
    output:
        page=FIG + "/all",
        index=FIG + "/index.md",
    log:
        "logs/" + FIG + "/all.log",
    params:
        d2s=D2S,
        meta=figure_meta,
    shell:
        "{params.d2s} figure gallery --records {input.records:q} --out {output.page:q}"
        " {params.meta} > {log:q} 2>&1"
