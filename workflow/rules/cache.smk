# Decoded-image caches (issue 15; d2s/data/cache.py): each (dataset, split, image size) the run
# matrix reads is decoded and resized once by `d2s cache-images`, where every run's `d2s train`
# finds it (its image_cache key; default resources/cache/images). `snakemake image_caches` builds
# them all before the runs, once, so a cluster does not decode a dataset in every job. A run
# checks its cache's manifest itself and rebuilds a stale one, so the record written here is a
# DAG marker only. The run list comes from d2s/plan.py (the tables' runs, d2s/experiments.py).
# Needs RES, D2S and ready_marker (Snakefile, data_common.smk, train_common.smk).
import shlex

from d2s.plan import image_cache_runs, image_cache_words

CACHE_RECORD = f"{RES}/cache/images/records/{{dataset}}/{{split}}/{{size}}px.json"


rule image_cache:
    input:
        ready=lambda w: ready_marker(w.dataset),
        splits=lambda w: (
            [
                f"{RES}/splits/{w.dataset}/{'sst' if w.split.startswith('sst') else w.split}/splits.json"
            ]
            if w.split != "official"
            else []
        ),
    output:
        record=CACHE_RECORD,
    log:
        "logs/cache/{dataset}/{split}/{size}px.log",
    wildcard_constraints:
        split=r"official|nriqa|sst\d+",
        size=r"\d+",
    threads: config.get("train_threads", 8)
    params:
        d2s=D2S,
        run_keys=lambda w: shlex.join(image_cache_words(config, w.dataset, w.split, w.size)),
    shell:
        "{params.d2s} cache-images --no-progress --record {output.record:q} {params.run_keys}"
        " num_workers={threads} > {log:q} 2>&1"


rule image_caches:
    input:
        [
            CACHE_RECORD.format(dataset=d, split=s, size=n)
            for d, s, n in sorted(image_cache_runs(config))
        ],
