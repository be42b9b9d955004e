# Decoded-image caches (issue 15; d2s/data/cache.py): each (dataset, split, image size) the run
# matrix reads is decoded and resized once by `d2s cache-images`, where every run's `d2s train`
# finds it (its image_cache key; default resources/cache/images). `snakemake image_caches` builds
# them all before the runs, once, so a cluster does not decode a dataset in every job. A run
# checks its cache's manifest itself and rebuilds a stale one, so the record written here is a
# DAG marker only. The run list comes from d2s/ops/plan.py (the tables' runs, d2s/paper/runs.py).
# Needs RES, D2S, dataset_ready, threads_of and request (Snakefile, common.smk).
import shlex

from d2s.ops.plan import image_cache_runs, image_cache_words

CACHE_RECORD = f"{RES}/cache/images/records/{{dataset}}/{{split}}/{{size}}px.json"


def cache_splits(wildcards):
    """The split file a cached split comes from (none for the dataset's official split)."""
    if wildcards.split == "official":
        return []
    folder = "sst" if wildcards.split.startswith("sst") else wildcards.split
    return [f"{RES}/splits/{wildcards.dataset}/{folder}/splits.json"]


def cache_run_keys(wildcards):
    """The `d2s train` keys of the runs reading this cache (d2s/ops/plan.py), shell-quoted."""
    words = image_cache_words(config, wildcards.dataset, wildcards.split, wildcards.size)
    return shlex.join(words)


rule image_cache:
    input:
        ready=dataset_ready,
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
    threads: threads_of("image_cache")
    resources:
        **request("image_cache"),
    params:
        d2s=D2S,
        run_keys=cache_run_keys,
    shell:
        "{params.d2s} cache-images --no-progress --record {output.record:q} {params.run_keys}"
        " num_workers={threads} > {log:q} 2>&1"


rule image_caches:
    input:
        [
            CACHE_RECORD.format(dataset=d, split=s, size=n)
            for d, s, n in sorted(image_cache_runs(config))
        ],
