# Decoded-image caches (issue 15; d2s/data/cache.py): each (dataset, split, image size) the run
# matrix reads is decoded and resized once by `d2s cache-images`, where every run's `d2s train`
# finds it (its image_cache key; default resources/cache/images). `snakemake image_caches` builds
# them all before the runs, once, so a cluster does not decode a dataset in every job. A run
# checks its cache's manifest itself and rebuilds a stale one, so the record written here is a
# DAG marker only. The run list comes from d2s/ops/plan.py (the tables' runs, d2s/paper/runs.py).
# Input functions: common.smk.


rule image_cache:
    input:
        ready=ready("dataset"),
        splits=cache_splits,
    output:
        record=CACHE_RECORD,
    log:
        "logs/cache/{dataset}/{split}/{size}px.log",
    benchmark:
        "benchmarks/cache/{dataset}/{split}/{size}px.tsv"
    wildcard_constraints:
        split=r"official|nriqa|sst\d+",
        size=r"\d+",
    conda:
        "../envs/d2s.yaml"
    threads: COMPUTE.threads("image_cache")
    resources:
        **COMPUTE.request("image_cache"),
    params:
        d2s=D2S,
        run_keys=cache_run_keys,
    shell:
        "{params.d2s} cache-images --no-progress --record {output.record:q} {params.run_keys}"
        " num_workers={threads} > {log:q} 2>&1"


rule image_caches:
    input:
        all_image_caches(),
