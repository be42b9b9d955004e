# Datasets (docs/design.md §3): the demo data, downloads of the public sets, placement of the sets
# a user must supply, and split files. A dataset folder is complete when it holds
# `.d2s-verified.json`, which `d2s data fetch/place` write last, after verifying every image and
# label. Helpers: common.smk.


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
    benchmark:
        "benchmarks/data/demo.tsv"
    threads: threads_of("data")
    resources:
        **request("data"),
    params:
        d2s=D2S,
        root=f"{RES}/demo",
        seed=config["demo"]["seed"],
        size=config["demo"]["size"],
        image_size=config["demo"]["image_size"],
    shell:
        "{params.d2s} data make-demo {params.root:q} --seed {params.seed} --size {params.size}"
        " --image-size {params.image_size} > {log:q} 2>&1"


rule data_fetch:
    output:
        marker=verified("{public}"),
    log:
        "logs/data/fetch_{public}.log",
    benchmark:
        "benchmarks/data/fetch_{public}.tsv"
    threads: threads_of("data")
    resources:
        **request("data"),
    params:
        d2s=D2S,
        dest=f"{RES}/datasets/{{public}}",
        downloads=f"{RES}/downloads/{{public}}",
        source=fetch_source,
        any_count=fetch_flags,
    shell:
        "{params.d2s} data fetch {wildcards.public} --dest {params.dest:q} --source {params.source}"
        " --downloads {params.downloads:q} {params.any_count} > {log:q} 2>&1"


rule data_place:
    input:
        src=user_source,
    output:
        marker=verified("{user_set}"),
    log:
        "logs/data/place_{user_set}.log",
    benchmark:
        "benchmarks/data/place_{user_set}.tsv"
    threads: threads_of("data")
    resources:
        **request("data"),
    params:
        d2s=D2S,
        dest=f"{RES}/datasets/{{user_set}}",
        any_count=place_flags,
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
    benchmark:
        "benchmarks/data/splits_{dataset}_{kind}.tsv"
    threads: threads_of("data")
    resources:
        **request("data"),
    params:
        d2s=D2S,
        name=dataset_loader,
        root=dataset_root,
        out=f"{RES}/splits/{{dataset}}/{{kind}}",
        seed=config["splits"]["seed"],
        val_fraction=config["splits"]["val_fraction"],
        sizes=sst_sizes,
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
