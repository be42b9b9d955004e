# Helpers for workflow/rules/captions.smk (kept apart from rules, as snakemake --lint asks).
CAPTIONS = config.get("captions") or {}
CAPTIONERS = ["blip", "florence-cap1", "florence-cap2", "florence-cap3"]
RELEASED_BLIP = "blip-released"


def released_caption_file(wildcards):
    return CAPTIONS.get("released_blip", {})[wildcards.dataset]


def caption_model(wildcards):
    if wildcards.captioner == "blip":
        return CAPTIONS.get("blip_model", "Salesforce/blip-image-captioning-large")
    return CAPTIONS.get("florence_model", "florence-community/Florence-2-large")


def clip_weights(wildcards):
    if wildcards.dataset.startswith("demo"):
        return "random"
    return CAPTIONS.get("clip_weights", "laion2b_s34b_b79k")


def all_text_features():
    wanted = [("demo", "blip")]
    wanted += [(d, "blip") for d in CAPTIONS.get("datasets", [])]
    wanted += [(d, c) for d in CAPTIONS.get("florence_datasets", []) for c in CAPTIONERS[1:]]
    return [f"{RES}/text_features/{d}/{c}.pt" for d, c in wanted]
