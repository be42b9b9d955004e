# Datasets (docs/design.md §3): the demo data, downloads of the public sets, placement of the sets a user
# must supply, and split files. A dataset folder is complete when it holds `.d2s-verified.json`,
# which `d2s data fetch/place` write last, after verifying every image and label.
include: "data_common.smk"


rule data_demo:
    output:
        train=f"{RES}/demo/train.txt",
        test=f"{RES}/demo/test.txt",
        captions=f"{RES}/demo/captions.tsv",
        cross=f"{RES}/demo/cross/labels.csv",
        distortion=f"{RES}/demo/distortion/dmos.csv",
        distortion_captions=f"{RES}/demo/distortion/captions.tsv",
        record=f"{RES}/demo/demo.json",
    log:
        "logs/data/demo.log",
    params:
        d2s=D2S,
        root=lambda w, output: Path(output.record).parent,
        seed=config.get("demo", {}).get("seed", 0),
        size=config.get("demo", {}).get("size", 400),
        image_size=config.get("demo", {}).get("image_size", 128),
    shell:
        "{params.d2s} data make-demo {params.root:q} --seed {params.seed} --size {params.size}"
        " --image-size {params.image_size} > {log:q} 2>&1"


rule data_fetch:
    output:
        marker=verified("{public}"),
    log:
        "logs/data/fetch_{public}.log",
    wildcard_constraints:
        public="|".join(PUBLIC),
    params:
        d2s=D2S,
        dest=f"{RES}/datasets/{{public}}",
        downloads=f"{RES}/downloads/{{public}}",
        source=lambda w: (DATASETS.get(w.public) or {}).get("source", DEFAULT_SOURCE[w.public]),
    shell:
        "{params.d2s} data fetch {wildcards.public} --dest {params.dest:q} --source {params.source}"
        " --downloads {params.downloads:q} > {log:q} 2>&1"


rule data_place:
    input:
        src=user_source,
    output:
        marker=verified("{user_set}"),
    log:
        "logs/data/place_{user_set}.log",
    wildcard_constraints:
        user_set="|".join(USER_SETS),
    params:
        d2s=D2S,
        dest=f"{RES}/datasets/{{user_set}}",
        any_count=lambda w: (
            "--any-count" if (DATASETS.get(w.user_set) or {}).get("subset") else ""
        ),
    shell:
        "{params.d2s} data place {wildcards.user_set} --src {input.src:q} --dest {params.dest:q}"
        " {params.any_count} > {log:q} 2>&1"


rule data_splits:
    input:
        ready=dataset_ready,
    output:
        record=f"{RES}/splits/{{dataset}}/{{kind}}/splits.json",
    log:
        "logs/data/splits_{dataset}_{kind}.log",
    wildcard_constraints:
        dataset="|".join(PUBLIC + USER_SETS + list(DEMO_DATASETS)),
        kind="official|val|sst|nriqa",
    params:
        d2s=D2S,
        name=lambda w: loader_name(w.dataset),
        root=dataset_root,
        out=f"{RES}/splits/{{dataset}}/{{kind}}",
        seed=config.get("splits", {}).get("seed", 0),
        val_fraction=config.get("splits", {}).get("val_fraction", 0.1),
        sizes=" ".join(
            str(s) for s in config.get("splits", {}).get("sst_sizes", [10, 50, 100, 500])
        ),
    shell:
        "{params.d2s} data splits {params.name} {params.root:q} --out {params.out:q} --kind {wildcards.kind}"
        " --seed {params.seed} --val-fraction {params.val_fraction} --sizes {params.sizes}"
        " > {log:q} 2>&1"


rule data_public:
    input:
        [verified(name) for name in PUBLIC],


rule data_user:
    input:
        [verified(name) for name in USER_SETS],
