# Captions and text features (docs/design.md §1.2): every image of a dataset is captioned once into a
# resumable cache (`d2s caption`), and the frozen CLIP text encoder turns the captions into cached
# features and entropies (`d2s text-features`). On the demo, its own scene descriptions stand in
# for BLIP (docs/design.md §6) and the text encoder has random weights.
# Needs RES, PUBLIC, USER_SETS, dataset_ready, dataset_root and D2S (Snakefile, data_common.smk).


include: "captions_common.smk"


rule captions_demo:
    input:
        descriptions=lambda w: f"{dataset_root(w)}/captions.tsv",
        ready=f"{RES}/demo/demo.json",
    output:
        tsv=f"{RES}/captions/{{dataset}}/blip.tsv",
        meta=f"{RES}/captions/{{dataset}}/blip.tsv.json",
    log:
        "logs/captions/{dataset}_blip.log",
    benchmark:
        "benchmarks/captions/{dataset}_blip.tsv"
    wildcard_constraints:
        dataset="demo|demo-distortion",
    params:
        d2s=D2S,
        name=lambda w: loader_name(w.dataset),
        root=dataset_root,
    shell:
        "{params.d2s} caption --captioner demo --dataset {params.name} --root {params.root:q}"
        " --model {input.descriptions:q} --out {output.tsv:q} > {log:q} 2>&1"


# The resumable cache lives in work/ (not a declared output, so Snakemake never deletes it after
# a failure or kill); a finished cache is copied to the declared outputs, sidecar last.
rule captions:
    input:
        ready=dataset_ready,
    output:
        tsv=f"{RES}/captions/{{dataset}}/{{captioner}}.tsv",
        meta=f"{RES}/captions/{{dataset}}/{{captioner}}.tsv.json",
    log:
        "logs/captions/{dataset}_{captioner}.log",
    benchmark:
        "benchmarks/captions/{dataset}_{captioner}.tsv"
    wildcard_constraints:
        dataset="|".join(PUBLIC + USER_SETS),
        captioner="|".join(CAPTIONERS),
    threads: 4
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=CAPTIONS.get("runtime_min", 720),
    params:
        d2s=D2S,
        root=dataset_root,
        model=caption_model,
        work=f"{RES}/captions/{{dataset}}/work/{{captioner}}.tsv",
        batch_size=CAPTIONS.get("batch_size", 32),
        device=CAPTIONS.get("device", "cuda"),
        precision=CAPTIONS.get("precision", "fp32"),
    shell:
        "{params.d2s} caption --captioner {wildcards.captioner} --model {params.model:q}"
        " --dataset {wildcards.dataset} --root {params.root:q} --out {params.work:q}"
        " --batch-size {params.batch_size} --device {params.device}"
        " --precision {params.precision} --workers {threads} > {log:q} 2>&1"
        " && cp {params.work:q} {output.tsv:q} && cp {params.work:q}.json {output.meta:q}"


# The authors' own BLIP captions of a training split (captions.released_blip), imported and
# checked against the split's names and labels instead of running BLIP.
rule captions_released:
    input:
        ready=dataset_ready,
        file=released_caption_file,
    output:
        tsv=f"{RES}/captions/{{dataset}}/blip-released.tsv",
        meta=f"{RES}/captions/{{dataset}}/blip-released.tsv.json",
    log:
        "logs/captions/{dataset}_blip-released.log",
    params:
        d2s=D2S,
        root=dataset_root,
    shell:
        "{params.d2s} caption import {input.file:q} --root {params.root:q} --out {output.tsv:q}"
        " > {log:q} 2>&1"


rule text_features:
    input:
        tsv=f"{RES}/captions/{{dataset}}/{{captioner}}.tsv",
        meta=f"{RES}/captions/{{dataset}}/{{captioner}}.tsv.json",
    output:
        features=f"{RES}/text_features/{{dataset}}/{{captioner}}.pt",
    log:
        "logs/text_features/{dataset}_{captioner}.log",
    benchmark:
        "benchmarks/text_features/{dataset}_{captioner}.tsv"
    wildcard_constraints:
        captioner="|".join([*CAPTIONERS, RELEASED_BLIP]),
    resources:
        mem_mb=8000,
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
