# Datasets (docs/design.md §3): the demo data, downloads of the public sets, placement of the sets
# a user must supply, and split files. A dataset folder is complete when it holds
# `.d2s-verified.json`, which `d2s data fetch/place` write last, after verifying every image and
# label. Input functions: common.smk.


rule data_demo:
    output:
        train=f"{RES}/demo/train.txt",
        test=f"{RES}/demo/test.txt",
        captions=f"{RES}/demo/captions.tsv",
        cross=f"{RES}/demo/cross/labels.csv",
        distortion=f"{RES}/demo/distortion/dmos.csv",
        distortion_captions=f"{RES}/demo/distortion/captions.tsv",
        record=T.ready_marker("demo", RES),
    log:
        "logs/data/demo.log",
    benchmark:
        "benchmarks/data/demo.tsv"
    conda:
        "../envs/d2s.yaml"
    threads: COMPUTE.threads("data")
    resources:
        **COMPUTE.request("data"),
    params:
        d2s=D2S,
        root=folder_of("record", io="output"),
        seed=config["demo"]["seed"],
        size=config["demo"]["size"],
        image_size=config["demo"]["image_size"],
    shell:
        "{params.d2s} data make-demo {params.root:q} --seed {params.seed} --size {params.size}"
        " --image-size {params.image_size} > {log:q} 2>&1"


rule data_fetch:
    output:
        marker=T.verified("{public}", RES),
    log:
        "logs/data/fetch_{public}.log",
    benchmark:
        "benchmarks/data/fetch_{public}.tsv"
    conda:
        "../envs/d2s.yaml"
    threads: COMPUTE.threads("data")
    resources:
        **COMPUTE.request("data"),
    params:
        d2s=D2S,
        dest=folder_of("marker", io="output"),
        downloads=f"{RES}/downloads/{{public}}",
        source=fetch_source,
        any_count=count_flag("public"),
    shell:
        "{params.d2s} data fetch {wildcards.public} --dest {params.dest:q} --source {params.source}"
        " --downloads {params.downloads:q} {params.any_count} > {log:q} 2>&1"


rule data_place:
    input:
        src=user_source,
    output:
        marker=T.verified("{user_set}", RES),
    log:
        "logs/data/place_{user_set}.log",
    benchmark:
        "benchmarks/data/place_{user_set}.tsv"
    conda:
        "../envs/d2s.yaml"
    threads: COMPUTE.threads("data")
    resources:
        **COMPUTE.request("data"),
    params:
        d2s=D2S,
        dest=folder_of("marker", io="output"),
        any_count=count_flag("user_set"),
    shell:
        "{params.d2s} data place {wildcards.user_set} --src {input.src:q} --dest {params.dest:q}"
        " {params.any_count} > {log:q} 2>&1"


rule data_splits:
    input:
        ready=ready("dataset"),
    output:
        record=T.split_record("{dataset}", "{kind}", RES),
    log:
        "logs/data/splits_{dataset}_{kind}.log",
    benchmark:
        "benchmarks/data/splits_{dataset}_{kind}.tsv"
    conda:
        "../envs/d2s.yaml"
    threads: COMPUTE.threads("data")
    resources:
        **COMPUTE.request("data"),
    params:
        d2s=D2S,
        name=loader("dataset"),
        root=root("dataset"),
        out=folder_of("record", io="output"),
        seed=config["splits"]["seed"],
        val_fraction=config["splits"]["val_fraction"],
        sizes=SST_SIZES,
    shell:
        "{params.d2s} data splits {params.name} {params.root:q} --out {params.out:q} --kind {wildcards.kind}"
        " --seed {params.seed} --val-fraction {params.val_fraction} --sizes {params.sizes}"
        " > {log:q} 2>&1"


rule data_public:
    input:
        T.all_downloads(config),


rule data_user:
    input:
        T.all_user_sets(config),
