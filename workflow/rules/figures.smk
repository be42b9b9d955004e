# The paper's figures (docs/design.md §5), each rendered by `d2s figure` from the suite's result
# files: tables (Figs. 2, 3, 10, 11), run predictions (8, 9, 15), trained models and test images
# (6, 7, 16), before/after-alignment features of a D2S run (4d, 4e, 12-14) and the caption cache
# (17-18); which is which: d2s.paper.figures.INPUTS. Each figure: PNG (300 dpi) + PDF + the plotted
# data (CSV) + a JSON record of its inputs, under figures/ (paper config) or figures/<results
# folder name> (e.g. figures/demo). `figures/all` (`figures/demo/all`) is the gallery page listing
# every figure with its caption and runs. Helpers: common.smk.


rule figure_from_table:
    input:
        table=figure_table_input,
    output:
        multiext(FIG + "/{table_fig}", *FIG_EXTS),
    log:
        "logs/" + FIG + "/{table_fig}.log",
    benchmark:
        "benchmarks/" + FIG + "/{table_fig}.tsv"
    threads: threads_of("default")
    resources:
        **request("default"),
    params:
        d2s=D2S,
        out=FIG + "/{table_fig}",
        meta=figure_meta,
    shell:
        "{params.d2s} figure {wildcards.table_fig} --table {input.table:q} --out {params.out:q}"
        " {params.meta} > {log:q} 2>&1"


rule figure_from_runs:
    input:
        figure_run_inputs,
    output:
        multiext(FIG + "/{run_fig}", *FIG_EXTS),
    log:
        "logs/" + FIG + "/{run_fig}.log",
    benchmark:
        "benchmarks/" + FIG + "/{run_fig}.tsv"
    threads: threads_of("figure")
    resources:
        **request("figure"),
    params:
        d2s=D2S,
        out=FIG + "/{run_fig}",
        runs=figure_run_args,
        meta=figure_meta,
    shell:
        "{params.d2s} figure {wildcards.run_fig} {params.runs} --out {params.out:q}"
        " --threads {threads} {params.meta} > {log:q} 2>&1"


rule figure_features:
    input:
        figure_feature_inputs,
    output:
        npz=FIG + "/data/{features}.npz",
    log:
        "logs/" + FIG + "/{features}.log",
    benchmark:
        "benchmarks/" + FIG + "/{features}.tsv"
    threads: threads_of("figure")
    resources:
        **request("figure"),
    params:
        d2s=D2S,
        run=probe_run_arg,
    shell:
        "{params.d2s} figure features --run {params.run} --out {output.npz:q}"
        " --threads {threads} > {log:q} 2>&1"


rule figure_alignment:
    input:
        features=FIG + "/data/alignment.npz",
        compared=compared_features,
    output:
        multiext(FIG + "/{alignment_fig}", *FIG_EXTS),
    log:
        "logs/" + FIG + "/{alignment_fig}.log",
    benchmark:
        "benchmarks/" + FIG + "/{alignment_fig}.tsv"
    threads: threads_of("figure")
    resources:
        **request("figure"),
    params:
        d2s=D2S,
        out=FIG + "/{alignment_fig}",
        compare=compared_features_arg,
        meta=figure_meta,
    shell:
        "{params.d2s} figure {wildcards.alignment_fig} --features {input.features:q}"
        " {params.compare} --out {params.out:q} --threads {threads} {params.meta} > {log:q} 2>&1"


rule figure_captions:
    input:
        captions=f"{RES}/captions/{IC}/blip.tsv",
        ready=ready_marker(IC),
    output:
        multiext(FIG + "/{caption_fig}", *FIG_EXTS),
    log:
        "logs/" + FIG + "/{caption_fig}.log",
    benchmark:
        "benchmarks/" + FIG + "/{caption_fig}.tsv"
    threads: threads_of("default")
    resources:
        **request("default"),
    params:
        d2s=D2S,
        out=FIG + "/{caption_fig}",
        dataset=loader_name(IC),
        root=dataset_folder(IC, RES),
        meta=figure_meta,
    shell:
        "{params.d2s} figure {wildcards.caption_fig} --captions {input.captions:q}"
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
        pngs=report_pngs,
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
