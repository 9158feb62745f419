"""Figure builders of notebooks/03_fserasing.ipynb (the shared ones live in lib/plots.py:
image_grid, parsing_overlays). Each returns a Figure; the notebook saves it with run.save_figure.
Candidates for lib/plots.py once another notebook needs them: ``per_class_bars``, ``saliency_grid``.
"""

from __future__ import annotations

import numpy as np

from lib.plots import pyplot


def per_class_bars(values: dict, palette, xlabel: str, title: str | None = None, nan_label: str = "absent",
                   target: float | None = None):
    """Horizontal bars per class name ({name: value or {series: value}}), coloured with the palette
    (one series) or grouped (several series); NaN classes are labelled ``nan_label``; ``target`` draws a
    dashed line at that value (a goal the bars are read against). The legend sits below the axes."""
    plt = pyplot()
    names = list(values)
    series = isinstance(next(iter(values.values()), None), dict)
    keys = list(next(iter(values.values()))) if series else [None]
    fig, ax = plt.subplots(figsize=(5.2, 0.2 * len(names) * max(1, len(keys) / 1.5) + 0.9))
    h = 0.8 / len(keys)
    y = np.arange(len(names))
    for k, key in enumerate(keys):
        vals = np.array([values[n][key] if series else values[n] for n in names], float)
        colour = [palette[i] / 255 for i in range(len(names))] if not series else None
        ax.barh(y + (k - (len(keys) - 1) / 2) * h, np.nan_to_num(vals), h, color=colour, edgecolor="k",
                linewidth=0.3, label=key)
        if k == 0:
            for yi, v in zip(y, vals):
                if not np.isfinite(v):
                    ax.text(0.005, yi, nan_label, va="center", fontsize=6, color="0.4")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    if target is not None:
        ax.axvline(target, color="0.2", linestyle="--", linewidth=0.8, label=f"target {target:g}")
    if series or target is not None:
        handles = ax.get_legend_handles_labels()[0]
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.45 / fig.get_figheight() - 0.04), ncols=min(3, len(handles)),
                  fontsize="small", frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def augmentation_bars(table, title: str | None = None):
    """Accuracy and EER per augmentation (bars), one row of panels per head, clean vs each occlusion.
    ``table``: lib.fserasing.evaluate.results_table."""
    import seaborn as sns

    plt = pyplot()
    heads = list(dict.fromkeys(table["head"]))
    fig, axes = plt.subplots(len(heads), 2, figsize=(8.4, 2.6 * len(heads)), squeeze=False)
    for r, head in enumerate(heads):
        sub = table[table["head"] == head]
        for c, metric in enumerate(("acc", "eer")):
            ax = axes[r][c]
            sns.barplot(data=sub, x="condition", y=metric, hue="augmentation", ax=ax, palette="Set2",
                        edgecolor="k", linewidth=0.3)
            ax.set_title(f"{head}: {'verification accuracy' if metric == 'acc' else 'EER'}")
            ax.set_xlabel("")
            if metric == "acc":
                lo = float(sub["acc"].min())
                ax.set_ylim(max(0.0, lo - 0.1), 1.0)
            if r == 0 and c == 0:
                handles, labels = ax.get_legend_handles_labels()
            leg = ax.get_legend()
            if leg is not None:
                leg.remove()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=7, frameon=False)  # under the bars
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.35 / fig.get_size_inches()[1], 1, 1))
    return fig


def saliency_grid(images, maps: dict, titles=None, cell: float = 1.35, alpha: float = 0.5):
    """Rows: the images, then each saliency method (overlaid in jet); ``maps`` {row name: (N, H, W)}."""
    plt = pyplot()
    n = len(images)
    rows = ["image", *maps]
    fig, axes = plt.subplots(len(rows), n, figsize=(cell * n + 0.8, cell * len(rows)), squeeze=False)
    for r, name in enumerate(rows):
        for k in range(n):
            ax = axes[r][k]
            ax.set_xticks([]), ax.set_yticks([])
            ax.imshow(images[k])
            if name != "image":
                ax.imshow(maps[name][k], cmap="jet", alpha=alpha, vmin=0, vmax=1)
            if r == 0 and titles is not None:
                ax.set_title(titles[k], fontsize=7)
        axes[r][0].set_ylabel(name, fontsize=7)
    fig.tight_layout()
    return fig
