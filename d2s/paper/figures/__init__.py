"""The paper's figures, regenerated from the suite's own result files (docs/design.md §5).

One module per figure family; each has plotting functions that take data frames / arrays (and are
tested on synthetic inputs) apart from the loaders that read result files (:mod:`.sources`):

- :mod:`.accuracy`: Fig. 2 (SRCC vs PLCC) and Fig. 3 (efficiency) from ``table1.csv``;
- :mod:`.errors`: Fig. 8 (binned MAE), Fig. 9 (per-category metrics), Fig. 15 (scatter);
- :mod:`.sweeps`: Figs. 10–11 (EAL / FAL coefficient sweeps) from ``fig10.csv`` / ``fig11.csv``;
- :mod:`.alignment`: Figs. 4(d)/14 (entropy KDEs) and 4(e)/12/13 (t-SNE) before/after alignment;
- :mod:`.probes`: Fig. 6 (low-level statistics), Fig. 7 (channel histogram), Fig. 16 (maps);
- :mod:`.captions`: Figs. 17–18 (one image–caption example per score decile);
- :mod:`.gallery`: the index page listing every figure.

``d2s figure NAME …`` (:mod:`d2s.cli.figure`) renders one figure; ``workflow/rules/figures.smk``
renders them all.
"""

from __future__ import annotations

#: Figure name → (short title, the paper's caption, what it is drawn from).
FIGURES: dict[str, tuple[str, str, str]] = {
    "fig2": (
        "Fig. 2: accuracy comparison",
        "Accuracy comparison with SOTA (higher is better; upper right is preferred).",
        "table1.csv: reproduced mean ± std over seeds; literature rows cited from the paper",
    ),
    "fig3": (
        "Fig. 3: efficiency comparison",
        "Efficiency comparison (lower is better; lower left is preferred). Bubble size: SRCC.",
        "table1.csv: params_m, latency_ms (latency benchmark), srcc",
    ),
    "fig4d": (
        "Fig. 4(d): entropy before/after alignment",
        "Entropy distribution before and after alignment (dotted line: before alignment; "
        "solid line: after alignment).",
        "figure features of a D2S-R18 run: initial vs trained model, test images",
    ),
    "fig4e": (
        "Fig. 4(e): feature space before/after alignment",
        "Feature space before (top) and after (bottom) feature alignment.",
        "figure features of a D2S-R18 run: t-SNE of projected visual and text features",
    ),
    "fig6": (
        "Fig. 6: predictions vs low-level statistics",
        "The correlation between the predicted scores of D2S and the low-level statistics, "
        "including texture variance, brightness, and contrast.",
        "predictions.csv of a D2S-R18 run + its test images",
    ),
    "fig7": (
        "Fig. 7: channel utilisation histogram",
        "Channel utilization histogram. Frequencies of the top-20 most correlated feature "
        "channels across the test set.",
        "best.pt of a D2S-R18 run: stage-4 channel activations on the test images",
    ),
    "fig8": (
        "Fig. 8: binned MAE",
        "Binned MAE comparison. Mean absolute error (MAE) across 10 uniformly spaced "
        "complexity bins.",
        "predictions.csv of D2S-R18 and vision-only (Table 5 (b)) runs",
    ),
    "fig9": (
        "Fig. 9: per-category performance",
        "Performance of semantic categories in IC9600.",
        "predictions.csv of D2S-R18, D2S-R50 and vision-only runs, IC9600 categories",
    ),
    "fig10": (
        "Fig. 10: EAL coefficient ablation",
        "EAL coefficient ablation. D2S-R18, FAL coefficient fixed at 0.01.",
        "fig10.csv (EAL coefficient sweep runs)",
    ),
    "fig11": (
        "Fig. 11: FAL coefficient ablation",
        "FAL coefficient ablation. D2S-R18 and D2S-R50, EAL coefficient fixed.",
        "fig11.csv (FAL coefficient sweep runs)",
    ),
    "fig12": (
        "Fig. 12: t-SNE before alignment",
        "t-SNE before alignment.",
        "figure features of a D2S-R18 run: initial model",
    ),
    "fig13": (
        "Fig. 13: t-SNE after alignment",
        "t-SNE after alignment.",
        "figure features of a D2S-R18 run: trained model",
    ),
    "fig14": (
        "Fig. 14: entropy distribution alignment",
        "Entropy distributions of visual and textual modalities before (dashed lines) and after "
        "alignment (solid lines).",
        "figure features of a D2S-R18 run: initial vs trained model",
    ),
    "fig15": (
        "Fig. 15: prediction scatter",
        "Prediction scatter plot. Scatter plots of predicted scores versus ground-truth labels.",
        "predictions.csv of D2S-R18 and vision-only runs",
    ),
    "fig16": (
        "Fig. 16: feature activation maps",
        "Feature activation maps. Channel activation maps (stage 4 in ResNet) using three "
        "approaches: maximum channel activation, mean channel activation, and Grad-CAM.",
        "best.pt of a D2S-R18 run + example test images",
    ),
    "fig17": (
        "Fig. 17: image–caption examples (part 1)",
        "Image-caption pair examples (part 1): score ranges [0, 0.1) … [0.4, 0.5).",
        "caption cache (blip.tsv) + dataset labels",
    ),
    "fig18": (
        "Fig. 18: image–caption examples (part 2)",
        "Image-caption pair examples (part 2): score ranges [0.5, 0.6) … [0.9, 1.0].",
        "caption cache (blip.tsv) + dataset labels",
    ),
}

#: The order of the gallery (the paper's order).
ORDER = [
    "fig2",
    "fig3",
    "fig4d",
    "fig4e",
    "fig6",
    "fig7",
    "fig8",
    "fig9",
    "fig10",
    "fig11",
    "fig12",
    "fig13",
    "fig14",
    "fig15",
    "fig16",
    "fig17",
    "fig18",
]

#: What each figure is drawn from, i.e. which `d2s figure` inputs (and which workflow rule) it
#: takes: ``table`` (a table CSV), ``runs`` (the runs of several methods), ``probe`` (one D2S-R18
#: run and its test images), ``alignment`` (the before/after-alignment features), ``captions``
#: (the caption cache).
INPUTS: dict[str, str] = {
    **dict.fromkeys(("fig2", "fig3", "fig10", "fig11"), "table"),
    **dict.fromkeys(("fig8", "fig9", "fig15"), "runs"),
    **dict.fromkeys(("fig6", "fig7", "fig16"), "probe"),
    **dict.fromkeys(("fig4d", "fig4e", "fig12", "fig13", "fig14"), "alignment"),
    **dict.fromkeys(("fig17", "fig18"), "captions"),
}
