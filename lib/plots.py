"""Figure builders shared by the notebooks (matplotlib + seaborn). Each returns a Figure;
notebooks save it with ``run.save_figure(fig, name)``.
"""

from __future__ import annotations

import numpy as np

STYLE = {"figure.dpi": 100, "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9,
         "legend.fontsize": 8, "svg.hashsalt": "faceaug"}


def pyplot():
    """matplotlib.pyplot with the companion's style (every figure builder starts here)."""
    import matplotlib.pyplot as plt

    plt.rcParams.update(STYLE)
    return plt


def image_grid(images, ncols: int = 8, titles=None, boxes=None, points=None, ok=None,
               cell: float = 1.3, suptitle: str | None = None):
    """A grid of images with optional boxes (x, y, w, h), point sets and a red frame where
    ``ok`` is False (e.g. no face found)."""
    plt = pyplot()
    n = len(images)
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell * ncols, cell * nrows + (0.3 if suptitle else 0)),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([]), ax.set_yticks([])
        if k >= n:
            ax.axis("off")
            continue
        ax.imshow(images[k], cmap="gray" if images[k].ndim == 2 else None)
        if boxes is not None and boxes[k] is not None:
            x, y, w, h = boxes[k]
            ax.add_patch(plt.Rectangle((x, y), w, h, fill=False, color="lime", lw=1))
        if points is not None and points[k] is not None and np.isfinite(points[k]).all():
            ax.scatter(points[k][:, 0], points[k][:, 1], s=3, c="yellow", linewidths=0)
        if ok is not None and not ok[k]:
            for side in ax.spines.values():
                side.set_color("red"), side.set_linewidth(2)
        if titles is not None:
            ax.set_title(titles[k], fontsize=7)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def landmark_panels(image, panels: dict, size: float = 2.6):
    """One image shown once per entry of ``panels`` = {title: dict(boxes=[...], points=[...])}."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels), size), squeeze=False)
    for ax, (title, spec) in zip(axes[0], panels.items()):
        img = spec.get("image", image)
        ax.imshow(img)
        for (x, y, w, h) in spec.get("boxes", []):
            ax.add_patch(plt.Rectangle((x, y), w, h, fill=False, color="lime", lw=1.2))
        for pts, color, s in spec.get("points", []):
            ax.scatter(pts[:, 0], pts[:, 1], s=s, c=color, linewidths=0)
        if "crop" in spec:
            x0, y0, x1, y1 = spec["crop"]
            ax.set_xlim(x0, x1), ax.set_ylim(y1, y0)
        ax.set_title(title)
        ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig


def score_histograms(scores: dict, thresholds: dict | None = None, xlabel: str = "cosine similarity"):
    """One panel per model: overlaid histograms of score groups, e.g.
    ``{"sface": {"same photo, edited": s1, "different LFW crops": s2}}``, with the model's
    threshold as a dashed line."""
    import pandas as pd
    import seaborn as sns

    plt = pyplot()
    fig, axes = plt.subplots(1, len(scores), figsize=(3.6 * len(scores), 2.8), squeeze=False)
    for ax, (model, groups) in zip(axes[0], scores.items()):
        df = pd.concat([pd.DataFrame({"score": np.asarray(v, float), "pairs": k}) for k, v in groups.items()],
                       ignore_index=True)
        sns.histplot(df, x="score", hue="pairs", stat="density", common_norm=False, bins=30,
                     element="step", ax=ax, binrange=(-0.5, 1.0))
        if thresholds and model in thresholds:
            ax.axvline(thresholds[model], ls="--", c="k", lw=1)
        ax.set_title(model), ax.set_xlabel(xlabel)
    fig.tight_layout()
    return fig


def parsing_overlays(images, parsings, palette, landmarks=None, visible=None, titles=None, ncols: int = 6,
                     alpha: float = 0.55, cell: float = 1.6):
    """Images with their class maps blended in, and landmarks (visible: green, hidden: red)."""
    plt = pyplot()
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell * ncols, cell * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([]), ax.set_yticks([])
        if k >= n:
            ax.axis("off")
            continue
        col = palette[parsings[k]].astype(np.float32)
        mask = (parsings[k] > 0)[..., None]
        ax.imshow(np.where(mask, (1 - alpha) * images[k] + alpha * col, images[k]).astype(np.uint8))
        if landmarks is not None:
            v = visible[k] if visible is not None else np.ones(len(landmarks[k]), bool)
            ax.scatter(*landmarks[k][v].T, s=3, c="lime", linewidths=0)
            ax.scatter(*landmarks[k][~v].T, s=3, c="red", linewidths=0)
            h, w = parsings[k].shape
            ax.set_xlim(-0.5, w - 0.5), ax.set_ylim(h - 0.5, -0.5)  # points may lie outside the image
        if titles is not None:
            ax.set_title(titles[k], fontsize=7)
    fig.tight_layout()
    return fig


def class_legend_bars(fractions: dict, palette, xlabel: str = "share of pixels"):
    """Horizontal bars of per-class shares, coloured with the class palette."""
    plt = pyplot()
    names = list(fractions)
    fig, ax = plt.subplots(figsize=(5.5, 0.22 * len(names) + 0.8))
    ax.barh(names, [fractions[n] for n in names], color=[palette[i] / 255 for i in range(len(names))],
            edgecolor="k", linewidth=0.3)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    fig.tight_layout()
    return fig


def quality_curves(identity: dict, landmarks: "pd.DataFrame"):
    """Engine quality per yaw: rank-1 per recogniser (left), landmark NME and detection (right).

    ``identity`` maps a recogniser name to its lib.data.engine.quality.identity_check table."""
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 2.8))
    for (name, table), marker in zip(identity.items(), "os^v"):
        a.plot(table.index, table["rank1"], marker + "-", label=f"rank-1 {name} (B probes vs A gallery)")
    a.set_xlabel("yaw (deg)"), a.set_ylim(0, 1.05), a.legend(fontsize=7)
    b.plot(landmarks.index, landmarks["nme68"], "o-", label="NME dlib vs engine 68")
    b.plot(landmarks.index, landmarks["detected"], "s--", label="dlib HOG detection rate")
    b.axhline(0.04, color="grey", lw=0.8, ls=":")
    b.set_xlabel("yaw (deg)"), b.set_ylim(0, 1.05), b.legend(fontsize=7)
    fig.tight_layout()
    return fig


def capacity_curves(curve: "pd.DataFrame", target: float = 0.8, far: float = 1e-3, recogniser: str = "dlib"):
    """Identity capacity of the engine (lib.data.engine.capacity): rank-1 and TAR at ``far`` of an
    independent recogniser against the number of persons (log axis), with the target TAR."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 3.0))
    n = curve["persons"].to_numpy()
    ax.plot(n, curve["rank1"], "o-", label=f"rank-1 among n ({recogniser})")
    ax.plot(n, curve[f"tar@far={far:g}"], "s-", label=f"TAR at FAR {far:g} ({recogniser})")
    ax.axhline(target, color="grey", lw=0.8, ls=":", label=f"target TAR {target:g}")
    ax.set_xscale("log"), ax.set_xticks(n), ax.set_xticklabels([str(v) for v in n]), ax.minorticks_off()
    ax.set_xlabel("persons n (session A gallery vs session B probe, frontal)"), ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def corpus_labels(metas: dict, emotions, max_abs_yaw: float = 60.0):
    """What the engine's corpora hold (lib.data.engine.corpora): per corpus ({name: meta}), the
    distribution of yaw (left) and the share of each emotion (right)."""
    plt = pyplot()
    fig, (ax_y, ax_e) = plt.subplots(1, 2, figsize=(8.6, 2.9), gridspec_kw={"width_ratios": [1, 1.3]})
    bins = np.linspace(-max_abs_yaw, max_abs_yaw, 25)
    width = 0.8 / max(len(metas), 1)
    for k, (name, meta) in enumerate(metas.items()):
        colour = f"C{k}"
        ax_y.hist(meta["yaw"], bins=bins, histtype="step", density=True, color=colour, lw=1.4, label=name)
        share = meta["emotion"].value_counts(normalize=True).reindex(list(emotions)).fillna(0.0)
        ax_e.bar(np.arange(len(emotions)) + (k - (len(metas) - 1) / 2) * width, share.to_numpy(), width, color=colour)
    ax_y.set_xlabel("yaw (degrees)"), ax_y.set_ylabel("density")
    ax_e.set_xticks(np.arange(len(emotions)), [e[:4] for e in emotions]), ax_e.set_ylabel("share of images")
    fig.legend(*ax_y.get_legend_handles_labels(), loc="lower center", ncol=len(metas), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


# ------------------------------------------------------------------ evaluation (lib.evaluation)
def _curve_xy(curve, x: str, y: str, score: str):
    """(x, y, score or None) from a tuple ``(x, y)`` or a mapping with named keys, e.g. an
    entry of ``svm_evaluate(...)["roc"]`` = {"fpr", "tpr", "auc"}."""
    if isinstance(curve, dict):
        return np.asarray(curve[x], float), np.asarray(curve[y], float), curve.get(score)
    cx, cy = curve[:2]
    return np.asarray(cx, float), np.asarray(cy, float), None


def _label(name, value, what):
    return f"{name} ({what} {value:.3f})" if value is not None and np.isfinite(value) else str(name)


def roc_curves(curves: dict, log_x: bool = True, mark_fars=(1e-3, 1e-2, 1e-1), title: str | None = None,
               size=(3.6, 3.0)):
    """ROC curves, one line per entry of ``curves`` = {name: (fpr, tpr)} (or {name: {"fpr",
    "tpr", "auc"}}); the legend gives the AUC. With ``log_x`` the FAR axis is logarithmic
    (points at FAR 0 are not drawn) and ``mark_fars`` get dotted vertical lines."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=size)
    lowest = 1.0
    for name, curve in curves.items():
        fpr, tpr, area = _curve_xy(curve, "fpr", "tpr", "auc")
        if area is None and fpr.size > 1:
            area = float((getattr(np, "trapezoid", None) or np.trapz)(tpr, fpr))  # numpy < 2: trapz
        if log_x:
            keep = fpr > 0
            if keep.any():
                lowest = min(lowest, fpr[keep].min())
        ax.plot(fpr, tpr, lw=1.2, label=_label(name, area, "AUC"))
    if log_x:
        ax.set_xscale("log")
        ax.set_xlim(max(min(lowest, min(mark_fars or (1,))) / 2, 1e-6), 1)
    else:
        ax.plot([0, 1], [0, 1], ls=":", c="grey", lw=0.8)
        ax.set_xlim(0, 1)
    for far in mark_fars or ():
        ax.axvline(far, ls=":", c="grey", lw=0.8)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("false accept rate (FPR)"), ax.set_ylabel("true accept rate (TPR)")
    ax.legend(loc="lower right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def pr_curves(curves: dict, title: str | None = None, size=(3.6, 3.0)):
    """Precision-recall curves: {name: (recall, precision)} or {name: {"recall",
    "precision", "ap"}} (e.g. ``svm_evaluate(...)["pr"]``); the legend gives the AP."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=size)
    for name, curve in curves.items():
        recall, precision, ap = _curve_xy(curve, "recall", "precision", "ap")
        ax.step(recall, precision, where="post", lw=1.2, label=_label(name, ap, "AP"))
    ax.set_xlim(0, 1), ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall"), ax.set_ylabel("precision")
    ax.legend(loc="lower left")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def cmc_curves(curves: dict, max_rank: int | None = 20, title: str | None = None, size=(3.6, 3.0)):
    """Cumulative match characteristic: {name: cmc} with cmc[r - 1] = share of probes
    identified within rank r (``closed_set(...)["cmc"]``); the legend gives rank-1."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=size)
    top = 1
    for (name, cmc), marker in zip(curves.items(), "os^vDP<>" * 8):
        cmc = np.asarray(cmc, float)
        cmc = cmc[:max_rank] if max_rank else cmc
        ranks = np.arange(1, cmc.size + 1)
        top = max(top, cmc.size)
        ax.plot(ranks, cmc, marker + "-", ms=3, lw=1.2, label=_label(name, cmc[0] if cmc.size else None, "rank-1"))
    ax.set_xlim(0.5, top + 0.5), ax.set_ylim(0, 1.02)
    ax.set_xlabel("rank"), ax.set_ylabel("identification rate")
    ax.legend(loc="lower right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def confusion_matrix(matrix, labels, normalise: bool = True, title: str | None = None, cmap: str = "Blues",
                     annotate: bool | None = None):
    """Heatmap of a confusion matrix (rows = true label, columns = predicted). With
    ``normalise`` each row is divided by its total (rows with no sample stay 0); cells
    are annotated when there are at most 20 labels (or as ``annotate`` says)."""
    import seaborn as sns

    plt = pyplot()
    m = np.asarray(matrix, float)
    labels = [str(x) for x in labels]
    if m.shape != (len(labels), len(labels)):
        raise ValueError(f"matrix {m.shape} does not match {len(labels)} labels")
    if normalise:
        totals = m.sum(axis=1, keepdims=True)
        m = np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)
    annotate = len(labels) <= 20 if annotate is None else annotate
    side = 1.2 + 0.32 * len(labels)
    fig, ax = plt.subplots(figsize=(side + 0.8, side))
    sns.heatmap(m, ax=ax, cmap=cmap, vmin=0, vmax=1 if normalise else None, square=True,
                annot=annotate, fmt=".2f" if normalise else ".0f", annot_kws={"fontsize": 6},
                xticklabels=labels, yticklabels=labels, cbar_kws={"shrink": 0.8},
                linewidths=0.3, linecolor="white")
    ax.set_xlabel("predicted"), ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def training_curves(df, x: str = "epoch", panels: dict | None = None, logy=(), ncols: int = 3,
                    size=(3.0, 2.4), hue: str | None = None):
    """Training history: one panel per metric column of ``df`` (every numeric column but
    ``x``), or per entry of ``panels`` = {title: [columns]} to overlay e.g. train and
    validation loss; titles in ``logy`` get a log scale. ``hue`` names a column (e.g. the
    model) that splits the rows into one line per value."""
    import pandas as pd

    plt = pyplot()
    if x not in df.columns or (hue is not None and hue not in df.columns):
        raise ValueError(f"no {x!r} or {hue!r} column in {list(df.columns)}")
    if panels is None:
        panels = {c: [c] for c in df.columns if c not in (x, hue) and pd.api.types.is_numeric_dtype(df[c])}
    if not panels:
        raise ValueError("no metric column to plot")
    missing = [c for cols in panels.values() for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"columns not in the table: {missing}")
    ncols = min(ncols, len(panels))
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    groups = [(None, df)] if hue is None else list(df.groupby(hue, sort=True))
    # one line per group: more than 10 groups would repeat the default colours
    colours = plt.get_cmap("tab20").colors if len(groups) > 10 else [None] * len(groups)
    shared = hue is not None and all(len(cols) == 1 for cols in panels.values())  # same lines in every panel
    for ax, (title, cols) in zip(axes.flat, panels.items()):
        for (name, part), colour in zip(groups, colours):
            for c in cols:
                label = c if name is None else (str(name) if len(cols) == 1 else f"{name}: {c}")
                ax.plot(part[x], part[c], "-", marker="o" if len(part) <= 30 else None, ms=2.5, lw=1.2, label=label,
                        color=colour)
        if title in logy:
            ax.set_yscale("log")
        ax.set_title(title), ax.set_xlabel(x)
        if not shared and (len(cols) > 1 or len(groups) > 1):
            ax.legend(fontsize="x-small")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    if shared and len(groups) > 1:  # one legend under the panels, never over the curves
        handles, labels = axes.flat[0].get_legend_handles_labels()
        n_col = min(len(labels), 5)
        legend_h = 0.16 * int(np.ceil(len(labels) / n_col)) + 0.1  # inches
        w, h = fig.get_size_inches()
        fig.set_size_inches(w, h + legend_h)
        fig.legend(handles, labels, loc="lower center", ncol=n_col, fontsize="x-small", frameon=False)
        fig.tight_layout(rect=(0, legend_h / (h + legend_h), 1, 1))
    else:
        fig.tight_layout()
    return fig
