"""Figure builders of 01_fra: real vs generated embeddings, the gain bars of both protocols, the
autoencoder's landmark-map reconstructions. Each returns a Figure (shared builders: lib.plots)."""

from __future__ import annotations

import numpy as np

from lib.fra.published import IDENTITY_GAINS
from lib.plots import pyplot


def pca_real_vs_generated(real, generated, real_ids, gen_ids, max_identities: int = 6, title: str | None = None,
                          size=(4.4, 3.4)):
    """2-D PCA of embeddings (fitted on ``real`` only), one colour per identity: real
    embeddings as circles, FRA-generated ones as crosses. The first ``max_identities``
    identities (sorted) that have generated embeddings are drawn (all real ones if none has)."""
    from matplotlib.lines import Line2D
    from sklearn.decomposition import PCA

    plt = pyplot()
    real, generated = np.asarray(real, float), np.asarray(generated, float)
    real_ids, gen_ids = np.asarray(real_ids), np.asarray(gen_ids)
    if real.ndim != 2 or len(real) != len(real_ids) or len(real) < 2:
        raise ValueError(f"real must be (n >= 2, d) with one id per row, got {real.shape} and {len(real_ids)} ids")
    if generated.ndim != 2 or len(generated) != len(gen_ids) or generated.shape[1] != real.shape[1]:
        raise ValueError(f"generated must be (m, {real.shape[1]}) with one id per row, got {generated.shape} "
                         f"and {len(gen_ids)} ids")
    pca = PCA(n_components=2, random_state=0).fit(real)
    shown = [i for i in np.unique(real_ids) if i in set(gen_ids.tolist())] or list(np.unique(real_ids))
    shown = shown[:max_identities]
    colours = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=size)
    handles = []
    for k, ident in enumerate(shown):
        c = colours(k % 10)
        r = pca.transform(real[real_ids == ident])
        ax.scatter(r[:, 0], r[:, 1], s=16, marker="o", color=c, alpha=0.75, linewidths=0)
        if (gen_ids == ident).any():
            g = pca.transform(generated[gen_ids == ident])
            ax.scatter(g[:, 0], g[:, 1], s=22, marker="x", color=c, linewidths=1.1)
        handles.append(Line2D([], [], ls="", marker="s", color=c, label=str(ident)))
    handles += [Line2D([], [], ls="", marker="o", color="grey", label="real"),
                Line2D([], [], ls="", marker="x", color="grey", label="generated")]
    ratio = pca.explained_variance_ratio_
    ax.set_xlabel(f"PC1 ({100 * ratio[0]:.0f}% of real variance)")
    ax.set_ylabel(f"PC2 ({100 * ratio[1]:.0f}%)")
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def gain_bars(table, published: dict | None = None, title: str | None = None, size=(3.4, 2.9)):
    """The FRA headline: identity accuracy, baseline vs augmented, per FRL source (bar
    groups, in table order) with one panel per protocol ("paper" / "held-out", table order).

    ``table`` has columns source, protocol, baseline, augmented (fractions), e.g.
    ``lib.fra.evaluate.gain_table``. ``published`` = {source: gain in points}, by default the
    paper's (+9.52 MagFace, +10.04 ArcFace, +16.60 CosFace); ``{}`` draws none. A published
    gain is drawn on the "paper" panel only (the protocol it was measured with), as a black
    tick at our baseline + the published gain, for sources whose name matches (any case).
    Our own gain (points) is written in each augmented bar; the legend sits below the panels."""
    from matplotlib import patheffects

    plt = pyplot()
    missing = [c for c in ("source", "protocol", "baseline", "augmented") if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks column(s) {missing}")
    if not len(table):
        raise ValueError("empty table")
    if published is None:
        published = IDENTITY_GAINS
    published = {str(k).lower(): float(v) for k, v in published.items()}
    protocols = list(dict.fromkeys(table["protocol"]))
    sources = list(dict.fromkeys(table["source"]))
    fig, axes = plt.subplots(1, len(protocols), figsize=(size[0] * len(protocols), size[1]), squeeze=False,
                             sharey=True)
    x, w = np.arange(len(sources)), 0.38
    colours = {"baseline": "#9ecae1", "augmented": "#3182bd"}
    for ax, proto in zip(axes[0], protocols):
        sub = table[table["protocol"] == proto].drop_duplicates("source", keep="last").set_index("source")
        sub = sub.reindex(sources)
        for shift, col in ((-w / 2, "baseline"), (w / 2, "augmented")):
            ax.bar(x + shift, sub[col].to_numpy(float), w, color=colours[col], edgecolor="k", linewidth=0.4,
                   label=col)
        for xi, (b, a) in enumerate(zip(sub["baseline"].to_numpy(float), sub["augmented"].to_numpy(float))):
            if np.isfinite(a) and np.isfinite(b):  # our gain in points, half-way up the augmented bar
                inside = a > 0.12
                ax.text(xi + w / 2, a / 2 if inside else a + 0.015, f"{100 * (a - b):+.1f}", ha="center",
                        va="center" if inside else "bottom", fontsize=6.5, color="white" if inside else "k",
                        rotation=90)
        marked = False
        if "paper" in str(proto).lower():
            for xi, source in enumerate(sources):
                gain, b = published.get(str(source).lower()), sub["baseline"].iloc[xi]
                if gain is None or not np.isfinite(b):
                    continue
                y = min(b + gain / 100, 1.0)  # accuracy caps at 1: a larger published gain is drawn at 1, labelled
                capped = b + gain / 100 > 1.0
                halo = [patheffects.withStroke(linewidth=3, foreground="white")]
                ax.plot([xi + 0.02, xi + w - 0.02], [y, y], c="k", lw=1.6, path_effects=halo,
                        label=None if marked else "baseline + published gain (paper)")
                ax.text(xi + w / 2, y + 0.012, f"+{gain:.2f}" + ("\n(caps at 1)" if capped else ""), va="bottom",
                        ha="center", fontsize=6.5 if not capped else 5.5, path_effects=halo)
                marked = True
        ax.set_xticks(x, [str(s) for s in sources])
        ax.set_ylim(0, 1.24)
        ax.set_title(str(proto))
    axes[0][0].set_ylabel("identity accuracy")
    handles, labels = [], []
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h), labels.append(lab)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(labels), frameon=False)
    return fig


def _maps(a, what: str) -> np.ndarray:
    m = np.asarray(a, float)
    if m.ndim == 4 and m.shape[-1] == 1:
        m = m[..., 0]
    elif m.ndim == 4 and m.shape[1] == 1:
        m = m[:, 0]
    if m.ndim != 3:
        raise ValueError(f"{what} must be (n, h, w), (n, h, w, 1) or (n, 1, h, w), got {np.asarray(a).shape}")
    return m


def reconstructions(maps_true, maps_recon, n: int = 8, cell: float = 1.1, title: str | None = None):
    """FRA's autoencoder: landmark maps (top row) and their reconstructions (bottom row),
    the first ``n`` of each, white landmarks on black as in the FRA code's figure."""
    plt = pyplot()
    t, r = _maps(maps_true, "maps_true"), _maps(maps_recon, "maps_recon")
    if t.shape != r.shape:
        raise ValueError(f"maps_true {t.shape} and maps_recon {r.shape} differ")
    n = min(n, len(t))
    if n < 1:
        raise ValueError("no map to show")
    fig, axes = plt.subplots(2, n, figsize=(cell * n + 0.4, 2 * cell + (0.3 if title else 0)), squeeze=False)
    for k in range(n):
        for row, maps in enumerate((t, r)):
            ax = axes[row, k]
            ax.imshow(maps[k], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
    axes[0, 0].set_ylabel("true"), axes[1, 0].set_ylabel("reconstructed")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
