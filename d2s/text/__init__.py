"""Describe (docs/design.md §1.2): cached captions of every image and the cached text features of them.

Modules (each small, single purpose)::

    prompts   captioner names, BLIP prefixes, Florence-2 task tokens, caption normalisation
    cache     the resumable caption cache: ``<out>.tsv`` + sidecar ``<out>.tsv.json``
    blip      BLIP conditional captioner (four prefixes, batched)
    florence  Florence-2 captioners (``<CAPTION>``, ``<DETAILED_CAPTION>``, ``<MORE_DETAILED_CAPTION>``)
    run       captioning a list of dataset items into a cache (batched, resumable, progress bar)
    features  the text-feature file (open_clip features + entropies) built from a caption cache

Torch and transformers are imported inside the functions that need them.
"""
