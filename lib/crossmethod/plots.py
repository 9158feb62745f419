"""Figures of 05_cross_method: methods x conditions heatmap, per-axis curves, ranking table, gain intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.plots import pyplot


def _columns(table: pd.DataFrame) -> list:
    """(axis, level) in benchmark order (the order of first appearance)."""
    return list(dict.fromkeys(zip(table["axis"], table["level"])))


def heatmap(table: pd.DataFrame, metric: str = "tar@far=1e-3", methods=None, title: str | None = None,
            cell=(0.42, 0.36)):
    """Methods (rows) x conditions (columns grouped by axis), annotated with ``metric``."""
    import seaborn as sns

    plt = pyplot()
    cols = _columns(table)
    methods = list(methods or dict.fromkeys(table["method"]))
    grid = table.pivot_table(index="method", columns=["axis", "level"], values=metric, aggfunc="first")
    grid = grid.reindex(index=methods, columns=pd.MultiIndex.from_tuples(cols))
    fig, ax = plt.subplots(figsize=(1.6 + cell[0] * len(cols), 0.8 + cell[1] * len(methods)))
    sns.heatmap(grid.to_numpy(dtype=float), ax=ax, vmin=0, vmax=1, cmap="viridis", annot=True, fmt=".2f",
                annot_kws={"size": 6}, cbar_kws={"label": metric, "shrink": 0.8},
                xticklabels=[lv for _, lv in cols], yticklabels=methods)
    edges = [i for i in range(1, len(cols)) if cols[i][0] != cols[i - 1][0]]
    for x in edges:
        ax.axvline(x, color="white", lw=2)
    starts = [0] + edges
    for s, e in zip(starts, edges + [len(cols)]):
        ax.text((s + e) / 2, -0.25, cols[s][0], ha="center", va="bottom", fontsize=8, transform=ax.transData)
    ax.set_xlabel("difficulty level (grouped by axis)")
    ax.set_ylabel("")
    ax.tick_params(axis="x", labelsize=7, rotation=90)
    ax.tick_params(axis="y", labelsize=7)
    if title:
        ax.set_title(title, pad=24)  # above the axis names written at the top of the column groups
    fig.tight_layout()
    return fig


def axis_curves(table: pd.DataFrame, metric: str = "tar@far=1e-3", axes=("pose", "occlusion", "resolution",
                "expression"), methods=None, size=(2.6, 2.4)):
    """One panel per axis: ``metric`` per level (clean first where it is level 0 of the axis), a line per method."""
    plt = pyplot()
    methods = list(methods or dict.fromkeys(table["method"]))
    fig, axs = plt.subplots(1, len(axes), figsize=(size[0] * len(axes), size[1]), sharey=True, squeeze=False)
    clean = table[table["axis"] == "clean"].set_index("method")[metric]
    palette = plt.get_cmap("tab20")(np.linspace(0, 1, 20))
    for ax, axis in zip(axs[0], axes):
        sub = table[table["axis"] == axis]
        levels = list(dict.fromkeys(sub["level"]))
        with_clean = axis in ("pose", "occlusion", "resolution")
        ticks = (["clean"] if with_clean else []) + levels
        for i, method in enumerate(methods):
            vals = sub[sub["method"] == method].set_index("level")[metric].reindex(levels).to_numpy(float)
            if with_clean:
                vals = np.r_[clean.get(method, np.nan), vals]
            ax.plot(range(len(ticks)), vals, marker="o", ms=3, lw=1.2, color=palette[(2 * i) % 20 + (i >= 10)],
                    label=method)
        ax.set_xticks(range(len(ticks)), ticks, rotation=45, ha="right", fontsize=7)
        ax.set_title(axis)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axs[0, 0].set_ylabel(metric)
    handles, labels = axs[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.12 + 0.04 * (len(labels) > 6), 1, 1))
    return fig


def ranking_table(rank: pd.DataFrame, digits: int = 3, size=None):
    """The ranking (lib.crossmethod.evaluate.ranking) drawn as a table figure."""
    plt = pyplot()
    shown = rank.copy()
    for c in shown.columns:
        if c != "rank":
            shown[c] = shown[c].map(lambda v: v if isinstance(v, str) else "n/a" if pd.isna(v)
                                    else f"{v:+.{digits}f}" if c.startswith("gain") else f"{v:.{digits}f}")
    w = size or (1.2 + 0.95 * len(shown.columns), 0.45 + 0.24 * len(shown))
    fig, ax = plt.subplots(figsize=w)
    ax.axis("off")
    labels = [str(c).replace(" (", "\n(") for c in shown.columns]  # long headers on two lines
    t = ax.table(cellText=shown.to_numpy(), rowLabels=list(shown.index), colLabels=labels,
                 loc="center", cellLoc="center")
    t.auto_set_font_size(False)
    t.set_fontsize(7)
    t.scale(1, 1.2)
    if any("\n" in c for c in labels):
        for (row, _), cell in t.get_celld().items():
            if row == 0:
                cell.set_height(cell.get_height() * 1.8)
    fig.tight_layout()
    return fig


def gain_intervals(ci: pd.DataFrame, metric: str = "tar@far=1e-3", baseline: str = "baseline", size=None):
    """Each method's gain over ``baseline`` (mean ``metric`` over the difficulty conditions) with its
    bootstrap interval over persons (lib.crossmethod.evaluate.bootstrap_ranking), best first."""
    plt = pyplot()
    shown = ci.drop(index=baseline, errors="ignore").sort_values("gain")
    y = np.arange(len(shown))
    fig, ax = plt.subplots(figsize=size or (5.2, 0.6 + 0.32 * len(shown)))
    err = np.vstack([shown["gain"] - shown["gain_low"], shown["gain_high"] - shown["gain"]])
    ax.errorbar(shown["gain"], y, xerr=err, fmt="o", color="C0", ecolor="0.4", capsize=3, ms=4)
    ax.axvline(0, color="0.2", lw=0.8, ls="--")
    ax.set_yticks(y, list(shown.index), fontsize=8)
    ax.set_xlabel(f"gain over {baseline} in mean {metric} (95 % interval, persons resampled)", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return fig
