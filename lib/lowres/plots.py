"""Figure builders of 04_lowres (could move to lib/plots.py once another notebook needs them).

- ``accuracy_vs_resolution``: LFW-protocol accuracy against the probe side, one line per method;
- ``table4_heatmaps``: the thesis' Table 4 layout (methods x tests), ours beside the published;
- ``margin_distributions``: Approach2 margins of HR and LR training images;
- resolution examples use ``lib.plots.image_grid``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.lowres.published import TABLE4
from lib.plots import pyplot

TESTS = {"LFW 112": "lfw.112", "LFW 56": "lfw.56", "LFW 28": "lfw.28", "LFW 14": "lfw.14", "LFW 7": "lfw.7",
         "QMUL acc": "qmul.acc", "SCface d1": "scface.d1", "SCface d2": "scface.d2", "SCface d3": "scface.d3"}


def accuracy_vs_resolution(results: dict, labels: dict | None = None, resolutions=(7, 14, 28, 56, 112),
                           title: str | None = None, size=(5.2, 3.6)):
    """``results`` = {method: flat metrics with lfw.<t> and lfw_se.<t>}; error bars = the standard error."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=size)
    cmap = plt.get_cmap("tab20")
    for k, (method, r) in enumerate(results.items()):
        acc = [r[f"lfw.{t}"] for t in resolutions]
        se = [r.get(f"lfw_se.{t}", 0.0) for t in resolutions]
        style = "--" if method.endswith("_crb") else ":" if method in ("octuplet", "derivenet") else "-"
        ax.errorbar(resolutions, acc, yerr=se, label=(labels or {}).get(method, method), marker="o", ms=3,
                    lw=1.2, ls=style, color=cmap(k % 20), capsize=2)
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(resolutions), [str(t) for t in resolutions])
    ax.axhline(0.5, color="grey", lw=0.6, ls=":")
    ax.set_xlabel("probe side t (px; both images 112 -> t -> 112)")
    ax.set_ylabel("verification accuracy (10-fold)")
    ax.set_title(title or "accuracy vs resolution", fontsize=9)
    ax.legend(fontsize=6, ncol=2, loc="lower right")
    fig.tight_layout()
    return fig


def ours_table(results: dict) -> pd.DataFrame:
    """methods x Table 4 tests from the flat metrics of each method."""
    return pd.DataFrame({test: {m: r.get(key, np.nan) for m, r in results.items()} for test, key in TESTS.items()})


def table4_heatmaps(ours: pd.DataFrame, thesis: pd.DataFrame = TABLE4, title: str | None = None):
    """Two heatmaps with one colour scale: ours (all methods) and the thesis (its eight methods)."""
    import seaborn as sns

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.32 * len(ours) + 1.6),
                             gridspec_kw={"width_ratios": [1, 1]})
    for ax, (name, table) in zip(axes, [("ours", ours), ("thesis (Table 4)", thesis)]):
        sns.heatmap(table.astype(float), ax=ax, vmin=0, vmax=1, cmap="viridis", annot=True, fmt=".2f",
                    annot_kws={"fontsize": 6}, cbar=ax is axes[1])
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xticklabels(ax.get_xticklabels(), rotation=45, ha="right")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def margin_distributions(margins: dict, bounds=None, title: str | None = None, size=(4.4, 3.0)):
    """Histograms of Approach2 margins per group (e.g. {"HR (112)": m, "LR (16)": m}); dashed lines at ``bounds``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=size)
    allv = np.concatenate([np.asarray(v) for v in margins.values()])
    bins = np.linspace(0, float(np.percentile(allv, 99.5)) * 1.05, 50)
    for name, v in margins.items():
        ax.hist(np.asarray(v), bins=bins, alpha=0.6, label=f"{name}: median {np.median(v):.3f}")
    for b in bounds or ():
        ax.axvline(b, color="k", ls="--", lw=0.8)
    ax.set_xlabel("Approach2 margin 1 / mean|Laplacian|")
    ax.set_ylabel("training images")
    ax.set_title(title or "Approach2 margins", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
