# Training runs and cross-dataset evaluations (docs/design.md §1–§3, §5). Each run is one
# `d2s train`; its folder holds last.pt (resume state: a killed run resumes from its last epoch)
# and, once complete, metrics.json — written last, so a partial run never looks complete.
# --restart: a run whose config or data changed (Snakemake re-runs it when its params change) is
# discarded and trained afresh, never resumed across the change nor refused.
# Input functions: common.smk (the run matrix itself lives in d2s/paper/runs.py).


rule train:
    input:
        unpack(train_inputs),
    output:
        metrics=f"{RUN_DIR}/metrics.json",
        predictions=f"{RUN_DIR}/predictions.csv",
    log:
        "logs/train/{dataset}/{split}/{model}/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/train/{dataset}/{split}/{model}/{variant}/seed{seed}.tsv"
    conda:
        "../envs/d2s.yaml"
    threads: COMPUTE.threads("train")
    resources:
        **COMPUTE.request("train"),
    params:
        d2s=D2S,
        slot=COMPUTE.gpu_slot("train"),
        overrides=train_args,
        out=run_folder,
    shell:
        "{params.slot} {params.d2s} train --out {params.out:q} --no-progress --restart {params.overrides}"
        " threads={threads} > {log:q} 2>&1"


rule evaluate_cross:
    input:
        source=cross_source,
        ready=ready("target"),
    output:
        metrics=f"{CROSS_DIR}/metrics.json",
    log:
        "logs/cross/{target}/{model}/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/cross/{target}/{model}/{variant}/seed{seed}.tsv"
    conda:
        "../envs/d2s.yaml"
    threads: COMPUTE.threads("evaluate_cross")
    resources:
        **COMPUTE.request("evaluate_cross"),
    params:
        d2s=D2S,
        checkpoint=cross_checkpoint,
        dataset=loader("target"),
        root=root("target"),
        out=cross_folder,
        device=TRAIN_DEVICE,
        slot=COMPUTE.gpu_slot("evaluate_cross"),
    shell:
        "{params.slot} {params.d2s} evaluate {params.checkpoint:q} --dataset {params.dataset}"
        " --root {params.root:q} --out {params.out:q} --device {params.device} > {log:q} 2>&1"
