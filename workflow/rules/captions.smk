# Captions and text features (docs/design.md §1.2): every image of a dataset is captioned once
# into a resumable cache (`d2s caption`), and the frozen CLIP text encoder turns the captions into
# cached features and entropies (`d2s text-features`). On the demo, its own scene descriptions
# stand in for BLIP (docs/design.md §6) and the text encoder has random weights.
# Helpers: common.smk.


rule captions_demo:
    input:
        descriptions=demo_descriptions,
        ready=f"{RES}/demo/demo.json",
    output:
        tsv=f"{RES}/captions/{{demo_set}}/blip.tsv",
        meta=f"{RES}/captions/{{demo_set}}/blip.tsv.json",
    log:
        "logs/captions/{demo_set}_blip.log",
    benchmark:
        "benchmarks/captions/{demo_set}_blip.tsv"
    threads: threads_of("default")
    resources:
        **request("default"),
    params:
        d2s=D2S,
        name=demo_loader,
        root=demo_root,
    shell:
        "{params.d2s} caption --captioner demo --dataset {params.name} --root {params.root:q}"
        " --model {input.descriptions:q} --out {output.tsv:q} > {log:q} 2>&1"


# The resumable cache lives in work/ (not a declared output, so Snakemake never deletes it after
# a failure or kill); a finished cache is copied to the declared outputs, sidecar last.
rule captions:
    input:
        ready=real_ready,
    output:
        tsv=f"{RES}/captions/{{real_set}}/{{captioner}}.tsv",
        meta=f"{RES}/captions/{{real_set}}/{{captioner}}.tsv.json",
    log:
        "logs/captions/{real_set}_{captioner}.log",
    benchmark:
        "benchmarks/captions/{real_set}_{captioner}.tsv"
    threads: threads_of("captions")
    resources:
        **request("captions"),
    params:
        d2s=D2S,
        root=real_root,
        model=caption_model,
        work=f"{RES}/captions/{{real_set}}/work/{{captioner}}.tsv",
        batch_size=CAPTIONS["batch_size"],
        device=CAPTIONS["device"],
        precision=CAPTIONS["precision"],
        slot=gpu_slot("captions"),
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
        ready=real_ready,
        file=released_caption_file,
    output:
        tsv=f"{RES}/captions/{{real_set}}/blip-released.tsv",
        meta=f"{RES}/captions/{{real_set}}/blip-released.tsv.json",
    log:
        "logs/captions/{real_set}_blip-released.log",
    benchmark:
        "benchmarks/captions/{real_set}_blip-released.tsv"
    threads: threads_of("default")
    resources:
        **request("default"),
    params:
        d2s=D2S,
        root=real_root,
    shell:
        "{params.d2s} caption import {input.file:q} --root {params.root:q} --out {output.tsv:q}"
        " > {log:q} 2>&1"


rule text_features:
    input:
        tsv=f"{RES}/captions/{{dataset}}/{{caption_source}}.tsv",
        meta=f"{RES}/captions/{{dataset}}/{{caption_source}}.tsv.json",
    output:
        features=f"{RES}/text_features/{{dataset}}/{{caption_source}}.pt",
    log:
        "logs/text_features/{dataset}_{caption_source}.log",
    benchmark:
        "benchmarks/text_features/{dataset}_{caption_source}.tsv"
    threads: threads_of("text_features")
    resources:
        **request("text_features"),
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
        all_text_features(),
