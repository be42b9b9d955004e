# Captions and text features (docs/design.md §1.2): every image of a dataset is captioned once
# into a resumable cache (`d2s caption`), and the frozen CLIP text encoder turns the captions into
# cached features and entropies (`d2s text-features`). On the demo, its own scene descriptions
# stand in for BLIP (docs/design.md §6) and the text encoder has random weights.
# Input functions: common.smk.


rule captions_demo:
    input:
        descriptions=demo_descriptions,
        ready=T.ready_marker("demo", RES),
    output:
        tsv=f"{RES}/captions/{{demo_set}}/blip.tsv",
        meta=f"{RES}/captions/{{demo_set}}/blip.tsv.json",
    log:
        "logs/captions/{demo_set}_blip.log",
    benchmark:
        "benchmarks/captions/{demo_set}_blip.tsv"
    conda:
        "../envs/d2s.yaml"
    threads: COMPUTE.threads("default")
    resources:
        **COMPUTE.request("default"),
    params:
        d2s=D2S,
        name=loader("demo_set"),
        root=root("demo_set"),
    shell:
        "{params.d2s} caption --captioner demo --dataset {params.name} --root {params.root:q}"
        " --model {input.descriptions:q} --out {output.tsv:q} > {log:q} 2>&1"


# The resumable cache lives in work/ (not a declared output, so Snakemake never deletes it after
# a failure or kill); a finished cache is copied to the declared outputs, sidecar last.
rule captions:
    input:
        ready=ready("real_set"),
    output:
        tsv=f"{RES}/captions/{{real_set}}/{{captioner}}.tsv",
        meta=f"{RES}/captions/{{real_set}}/{{captioner}}.tsv.json",
    log:
        "logs/captions/{real_set}_{captioner}.log",
    benchmark:
        "benchmarks/captions/{real_set}_{captioner}.tsv"
    conda:
        "../envs/d2s.yaml"
    threads: COMPUTE.threads("captions")
    resources:
        **COMPUTE.request("captions"),
    params:
        d2s=D2S,
        root=root("real_set"),
        model=caption_model,
        work=f"{RES}/captions/{{real_set}}/work/{{captioner}}.tsv",
        batch_size=CAPTIONS["batch_size"],
        device=CAPTIONS["device"],
        precision=CAPTIONS["precision"],
        slot=COMPUTE.gpu_slot("captions"),
        decoding=CAPTIONS["florence_decoding"],
    shell:
        "{params.slot} {params.d2s} caption --captioner {wildcards.captioner} --model {params.model:q}"
        " --dataset {wildcards.real_set} --root {params.root:q} --out {params.work:q}"
        " --batch-size {params.batch_size} --device {params.device}"
        " --precision {params.precision} --florence-decoding {params.decoding}"
        " --workers {threads} > {log:q} 2>&1"
        " && cp {params.work:q} {output.tsv:q} && cp {params.work:q}.json {output.meta:q}"


# The authors' own BLIP captions of a training split (captions.released_blip), imported and
# checked against the split's names and labels instead of running BLIP.
rule captions_released:
    input:
        ready=ready("real_set"),
        file=released_caption_file,
    output:
        tsv=f"{RES}/captions/{{real_set}}/blip-released.tsv",
        meta=f"{RES}/captions/{{real_set}}/blip-released.tsv.json",
    log:
        "logs/captions/{real_set}_blip-released.log",
    benchmark:
        "benchmarks/captions/{real_set}_blip-released.tsv"
    conda:
        "../envs/d2s.yaml"
    threads: COMPUTE.threads("default")
    resources:
        **COMPUTE.request("default"),
    params:
        d2s=D2S,
        root=root("real_set"),
    shell:
        "{params.d2s} caption import {input.file:q} --root {params.root:q} --out {output.tsv:q}"
        " > {log:q} 2>&1"


rule text_features:
    input:
        tsv=f"{RES}/captions/{{dataset}}/{{caption_source}}.tsv",
        meta=f"{RES}/captions/{{dataset}}/{{caption_source}}.tsv.json",
    output:
        features=text_features_file("{dataset}", "{caption_source}", RES),
    log:
        "logs/text_features/{dataset}_{caption_source}.log",
    benchmark:
        "benchmarks/text_features/{dataset}_{caption_source}.tsv"
    conda:
        "../envs/d2s.yaml"
    threads: COMPUTE.threads("text_features")
    resources:
        **COMPUTE.request("text_features"),
    params:
        d2s=D2S,
        weights=clip_weights,
        cache_dir=f"{RES}/text_features/.cache",
    shell:
        "{params.d2s} text-features --captions {input.tsv:q} --out {output.features:q}"
        " --clip-weights {params.weights:q} --cache-dir {params.cache_dir:q}"
        " --no-progress > {log:q} 2>&1"


rule captions_all:
    input:
        T.all_text_features(config),
