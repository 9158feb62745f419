"""Figure builders of notebook 02_inpainting (candidates for lib/plots.py once shared).

- ``quality_table``: the PSNR/SSIM table as a figure (a heat-coloured table per metric).
- ``tar_bars``: TAR at a fixed-threshold FAR per recogniser and condition, with the FAR obtained
  written on each bar.
- ``before_after``: rows of original / damaged / each reconstruction.
"""

from __future__ import annotations

import numpy as np

from lib.plots import pyplot


def quality_table(table, title: str | None = None, size=(6.4, 2.6)):
    """``table``: DataFrame indexed by condition with columns psnr, ssim, psnr_mask, ssim_mask."""
    plt = pyplot()
    cols = [c for c in ("psnr", "psnr_mask", "ssim", "ssim_mask") if c in table.columns]
    if not cols:
        raise ValueError(f"table needs psnr/ssim columns; got {list(table.columns)}")
    labels = {"psnr": "PSNR (dB)", "psnr_mask": "PSNR in mask", "ssim": "SSIM", "ssim_mask": "SSIM in mask"}
    fig, ax = plt.subplots(figsize=size)
    values = table[cols].to_numpy(float)
    norm = (values - np.nanmin(values, 0)) / np.maximum(np.nanmax(values, 0) - np.nanmin(values, 0), 1e-12)
    ax.imshow(norm, cmap="Greens", aspect="auto", vmin=-0.2, vmax=1.2)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            ax.text(j, i, f"{values[i, j]:.2f}" if cols[j].startswith("psnr") else f"{values[i, j]:.3f}",
                    ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(cols)), [labels[c] for c in cols])
    ax.set_yticks(range(len(table)), list(table.index))
    ax.tick_params(length=0)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def tar_bars(report, target_far: float = 1e-3, title: str | None = None, size=(6.4, 2.8)):
    """``report``: DataFrame with columns recogniser, condition, target_far, tar, far (obtained)."""
    import seaborn as sns

    plt = pyplot()
    need = {"recogniser", "condition", "target_far", "tar", "far"}
    if not need <= set(report.columns):
        raise ValueError(f"report needs columns {sorted(need)}; got {list(report.columns)}")
    part = report[np.isclose(report["target_far"], target_far)]
    if part.empty:
        raise ValueError(f"no rows at target FAR {target_far}")
    fig, ax = plt.subplots(figsize=size)
    order = list(dict.fromkeys(part["condition"]))
    sns.barplot(data=part, x="recogniser", y="tar", hue="condition", hue_order=order, ax=ax)
    # a bar's recogniser from its x position: seaborn draws no bar for a NaN TAR (too few impostor pairs
    # to reach the target FAR), so a container can hold fewer bars than there are recognisers
    names = {round(x): t.get_text() for x, t in zip(ax.get_xticks(), ax.get_xticklabels())}
    for bars, cond in zip(ax.containers, order):
        fars = part[part["condition"] == cond].set_index("recogniser")["far"]
        at = [names.get(round(b.get_x() + b.get_width() / 2)) for b in bars]
        ax.bar_label(bars, labels=[f"{fars.get(n, np.nan):.0e}".replace("e-0", "e-") for n in at],
                     fontsize=5, rotation=90, padding=1)
    ax.set_ylim(0, 1.15), ax.set_ylabel(f"TAR at FAR={target_far:g} (fixed on originals)")
    ax.legend(fontsize="x-small", ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    ax.set_title(title or "bar labels: FAR obtained on that condition")
    fig.tight_layout()
    return fig


def before_after(rows: dict, n: int = 6, cell: float = 1.1, index=None):
    """``rows`` = {name: uint8 (N, H, W, 3)}: one row per name, columns the images ``index`` (default: the
    first ``n``; pass one image per person to show different faces). Row names are wrapped to fit."""
    import textwrap

    plt = pyplot()
    names = list(rows)
    index = np.arange(min(n, *(len(v) for v in rows.values()))) if index is None else np.asarray(index)[:n]
    fig, axes = plt.subplots(len(names), len(index), figsize=(cell * len(index) + 0.8, cell * len(names)), squeeze=False)
    for r, name in enumerate(names):
        for c, i in enumerate(index):
            ax = axes[r, c]
            ax.imshow(rows[name][i]), ax.set_xticks([]), ax.set_yticks([])
        axes[r, 0].set_ylabel(textwrap.fill(name, 14), fontsize=7)
    fig.tight_layout()
    return fig
