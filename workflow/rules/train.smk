# Training runs and cross-dataset evaluations (docs/design.md §1–§3, §5). Each run is one
# `d2s train`; its folder holds last.pt (resume state: a killed run resumes from its last epoch)
# and, once complete, metrics.json — written last, so a partial run never looks complete.
# --restart: a run whose config or data changed (Snakemake re-runs it when its params change) is
# discarded and trained afresh, never resumed across the change nor refused.
# Helpers: common.smk (the run matrix itself lives in d2s/paper/runs.py).


rule train:
    input:
        unpack(train_inputs),
    output:
        metrics=RUN_DIR + "/metrics.json",
        predictions=RUN_DIR + "/predictions.csv",
    log:
        "logs/train/{dataset}/{split}/{model}/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/train/{dataset}/{split}/{model}/{variant}/seed{seed}.tsv"
    threads: threads_of("train")
    resources:
        **request("train"),
    params:
        d2s=D2S,
        slot=gpu_slot("train"),
        overrides=train_args,
        out=run_folder,
    shell:
        "{params.slot} {params.d2s} train --out {params.out:q} --no-progress --restart {params.overrides}"
        " threads={threads} > {log:q} 2>&1"


rule evaluate_cross:
    input:
        source=cross_source,
        ready=cross_ready,
    output:
        metrics=RESULTS + "/cross/{target}/{model}/{variant}/seed{seed}/metrics.json",
    log:
        "logs/cross/{target}/{model}/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/cross/{target}/{model}/{variant}/seed{seed}.tsv"
    threads: threads_of("evaluate_cross")
    resources:
        **request("evaluate_cross"),
    params:
        d2s=D2S,
        checkpoint=cross_checkpoint,
        dataset=cross_loader,
        root=cross_root,
        out=cross_folder,
        device=eval_device,
        slot=gpu_slot("evaluate_cross"),
    shell:
        "{params.slot} {params.d2s} evaluate {params.checkpoint:q} --dataset {params.dataset}"
        " --root {params.root:q} --out {params.out:q} --device {params.device} > {log:q} 2>&1"
