# Training runs and cross-dataset evaluations (docs/design.md §1–§3, §5). Each run is one `d2s train`;
# its folder holds last.pt (resume state: a killed run resumes from its last epoch) and, once
# complete, metrics.json — written last, so a partial run never looks complete.
include: "train_common.smk"


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
    wildcard_constraints:
        split=r"official|nriqa|sst\d+",
        seed=r"\d+",
    threads: config.get("train_threads", 8)
    resources:
        gpu=train_resources,
        mem_mb=config.get("train_mem_mb", 16000),
    params:
        d2s=D2S,
        overrides=train_args,
        out=lambda w, output: str(Path(output.metrics).parent),
    shell:
        "{params.d2s} train --out {params.out:q} --no-progress {params.overrides}"
        " threads={threads} > {log:q} 2>&1"


rule evaluate_cross:
    input:
        source=cross_source,
        ready=lambda w: ready_marker(w.target),
    output:
        metrics=RESULTS + "/cross/{target}/{model}/{variant}/seed{seed}/metrics.json",
    log:
        "logs/cross/{target}/{model}/{variant}/seed{seed}.log",
    wildcard_constraints:
        seed=r"\d+",
    params:
        d2s=D2S,
        checkpoint=lambda w, input: str(Path(input.source).parent / "best.pt"),
        dataset=lambda w: loader_name(w.target),
        root=lambda w: dataset_folder(w.target, RES),
        out=lambda w, output: str(Path(output.metrics).parent),
        device=config.get("training", {}).get("device", "auto"),
    shell:
        "{params.d2s} evaluate {params.checkpoint:q} --dataset {params.dataset}"
        " --root {params.root:q} --out {params.out:q} --device {params.device} > {log:q} 2>&1"
