# The paper's figures (docs/design.md §5), each rendered by `d2s figure` from the suite's result
# files: tables (Figs. 2, 3, 10, 11), run predictions (8, 9, 15), trained models and test images
# (6, 7, 16), before/after-alignment features of a D2S run (4d, 4e, 12-14) and the caption cache
# (17-18); which is which: d2s.paper.figures.INPUTS, what each reads: d2s/paper/figure_inputs.py.
# Each figure: PNG (300 dpi) + PDF + the plotted data (CSV) + a JSON record of its inputs, under
# figures/ (paper config) or figures/<results folder name> (e.g. figures/demo). `figures/all`
# (`figures/demo/all`) is the gallery page listing every figure with its caption and runs.
# Input functions: common.smk.


rule figure_from_table:
    input:
        table=figure_table_input,
    output:
        multiext(f"{FIG}/{{table_fig}}", *T.FIGURE_FILES),
    log:
        f"logs/{FIG}/{{table_fig}}.log",
    benchmark:
        f"benchmarks/{FIG}/{{table_fig}}.tsv"
    conda:
        "../envs/d2s.yaml"
    threads: COMPUTE.threads("default")
    resources:
        **COMPUTE.request("default"),
    params:
        d2s=D2S,
        out=f"{FIG}/{{table_fig}}",
        meta=FIGURE_META,
    shell:
        "{params.d2s} figure {wildcards.table_fig} --table {input.table:q} --out {params.out:q}"
        " {params.meta} > {log:q} 2>&1"


rule figure_from_runs:
    input:
        figure_run_inputs,
    output:
        multiext(f"{FIG}/{{run_fig}}", *T.FIGURE_FILES),
    log:
        f"logs/{FIG}/{{run_fig}}.log",
    benchmark:
        f"benchmarks/{FIG}/{{run_fig}}.tsv"
    conda:
        "../envs/d2s.yaml"
    threads: COMPUTE.threads("figure")
    resources:
        **COMPUTE.request("figure"),
    params:
        d2s=D2S,
        out=f"{FIG}/{{run_fig}}",
        runs=figure_run_args,
        meta=FIGURE_META,
    shell:
        "{params.d2s} figure {wildcards.run_fig} {params.runs} --out {params.out:q}"
        " --threads {threads} {params.meta} > {log:q} 2>&1"


rule figure_features:
    input:
        figure_feature_inputs,
    output:
        npz=F.features_file("{features}", config),
    log:
        f"logs/{FIG}/{{features}}.log",
    benchmark:
        f"benchmarks/{FIG}/{{features}}.tsv"
    conda:
        "../envs/d2s.yaml"
    threads: COMPUTE.threads("figure")
    resources:
        **COMPUTE.request("figure"),
    params:
        d2s=D2S,
        run=probe_run_arg,
    shell:
        "{params.d2s} figure features --run {params.run} --out {output.npz:q}"
        " --threads {threads} > {log:q} 2>&1"


rule figure_alignment:
    input:
        features=F.features_file(F.FEATURES[0], config),
        compared=compared_features,
    output:
        multiext(f"{FIG}/{{alignment_fig}}", *T.FIGURE_FILES),
    log:
        f"logs/{FIG}/{{alignment_fig}}.log",
    benchmark:
        f"benchmarks/{FIG}/{{alignment_fig}}.tsv"
    conda:
        "../envs/d2s.yaml"
    threads: COMPUTE.threads("figure")
    resources:
        **COMPUTE.request("figure"),
    params:
        d2s=D2S,
        out=f"{FIG}/{{alignment_fig}}",
        compare=compared_features_arg,
        meta=FIGURE_META,
    shell:
        "{params.d2s} figure {wildcards.alignment_fig} --features {input.features:q}"
        " {params.compare} --out {params.out:q} --threads {threads} {params.meta} > {log:q} 2>&1"


rule figure_captions:
    input:
        captions=f"{RES}/captions/{IC}/blip.tsv",
        ready=T.ready_marker(IC, RES),
    output:
        multiext(f"{FIG}/{{caption_fig}}", *T.FIGURE_FILES),
    log:
        f"logs/{FIG}/{{caption_fig}}.log",
    benchmark:
        f"benchmarks/{FIG}/{{caption_fig}}.tsv"
    conda:
        "../envs/d2s.yaml"
    threads: COMPUTE.threads("default")
    resources:
        **COMPUTE.request("default"),
    params:
        d2s=D2S,
        out=f"{FIG}/{{caption_fig}}",
        dataset=loader_name(IC),
        root=folder_of("ready"),
        meta=FIGURE_META,
    shell:
        "{params.d2s} figure {wildcards.caption_fig} --captions {input.captions:q}"
        " --dataset {params.dataset} --root {params.root:q} --out {params.out:q}"
        " {params.meta} > {log:q} 2>&1"


# The PNGs again, in one folder that `snakemake --report` can show as the "Figures" category.
rule figure_report:
    input:
        files=T.all_figure_files(config),
    output:
        report(directory(f"{FIG}/report"), patterns=["{name}.png"], category="Figures"),
    log:
        f"logs/{FIG}/report.log",
    conda:
        "../envs/d2s.yaml"
    params:
        pngs=report_pngs,
    shell:
        "mkdir -p {output:q} && cp {params.pngs} {output:q}/ > {log:q} 2>&1"


rule figures_all:
    input:
        records=T.all_figure_records(config),
        files=T.all_figure_files(config),
        report=f"{FIG}/report",
    output:
        page=f"{FIG}/all",
        index=f"{FIG}/index.md",
    log:
        f"logs/{FIG}/all.log",
    conda:
        "../envs/d2s.yaml"
    params:
        d2s=D2S,
        meta=FIGURE_META,
    shell:
        "{params.d2s} figure gallery --records {input.records:q} --out {output.page:q}"
        " {params.meta} > {log:q} 2>&1"
