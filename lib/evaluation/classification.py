"""FRA's evaluation (step3_FRA_evaluation.py, docs/fra.md): an RBF SVM trained on
embeddings predicts pose, identity or emotion of held-out embeddings.

One call = one target x one objective: accuracy, balanced accuracy, the confusion
matrix and one-vs-rest ROC and precision-recall curves per class, the figures FRA shows.
The features are standardised inside a ``Pipeline(StandardScaler, SVC)``, so the scaling
is learnt from the training embeddings only.

Predictions come from ``SVC.predict``; the curves from ``predict_proba`` (Platt scaling,
fitted by libsvm with an internal 5-fold cross-validation, hence ``seed``) when
``probability=True``, else from ``decision_function``. With probabilities the argmax of
``predict_proba`` may disagree with ``predict`` on a few borderline samples (libsvm).
sklearn 1.9 deprecates ``SVC(probability=True)`` (removal announced for 1.11, suggested
replacement ``CalibratedClassifierCV(SVC(), ensemble=False)``, a different calibration);
it is kept here because it is what FRA ran, and the FutureWarning is silenced.
"""

from __future__ import annotations

import warnings

import numpy as np


def _features(X, what: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{what} features must be (n_samples, n_features), got shape {X.shape}")
    if len(X) == 0:
        raise ValueError(f"{what} set is empty")
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).any(axis=1).sum())
        raise ValueError(f"{what} features contain NaN or inf ({bad} rows)")
    return X


def svm_evaluate(train_X, train_y, test_X, test_y, *, C: float = 1.0, gamma="scale",
                 probability: bool = True, seed: int = 0) -> dict:
    """Fit ``StandardScaler + SVC(kernel="rbf")`` on the training set, score the test set.

    Args:
        train_X, test_X: (n, d) features (embeddings); train_y, test_y: (n,) labels.
        C, gamma: SVC hyper-parameters (FRA: sklearn defaults).
        probability: curves from Platt probabilities (FRA: True) or the decision function.
        seed: ``random_state`` of the SVC (Platt scaling's internal folds).

    Returns:
        dict with ``accuracy``, ``balanced_accuracy``, ``labels`` (the training classes,
        sorted), ``confusion`` ((n_labels, n_labels) counts, rows = true label),
        ``roc`` = {label: {"fpr", "tpr", "auc"}}, ``pr`` = {label: {"precision",
        "recall", "ap"}} (one-vs-rest; NaN AUC/AP and empty curves for a label absent
        from the test set), ``macro_auc`` (mean over labels with a defined AUC),
        ``predicted``, ``scores`` ((n_test, n_labels)), ``score_source`` and ``model``.

    Raises:
        ValueError: shape mismatch, NaN/inf features, a single training class, or a test
            label that never occurs in training.
    """
    from sklearn.metrics import (accuracy_score, average_precision_score, balanced_accuracy_score,
                                 confusion_matrix, precision_recall_curve, roc_auc_score, roc_curve)
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    Xtr, Xte = _features(train_X, "train"), _features(test_X, "test")
    ytr, yte = np.asarray(train_y).ravel(), np.asarray(test_y).ravel()
    if len(ytr) != len(Xtr) or len(yte) != len(Xte):
        raise ValueError(f"labels and features differ in length: train {len(ytr)} vs {len(Xtr)}, "
                         f"test {len(yte)} vs {len(Xte)}")
    if Xtr.shape[1] != Xte.shape[1]:
        raise ValueError(f"train has {Xtr.shape[1]} features, test {Xte.shape[1]}")
    labels = np.unique(ytr)
    if labels.size < 2:
        raise ValueError(f"the training set has a single class ({labels[0]!r}); an SVM needs two or more")
    unseen = np.setdiff1d(yte, labels)
    if unseen.size:
        raise ValueError(f"test labels never seen in training: {', '.join(map(str, unseen[:10]))}")

    model = make_pipeline(StandardScaler(), SVC(kernel="rbf", C=C, gamma=gamma, probability=probability,
                                                random_state=seed))
    with warnings.catch_warnings():  # FRA's SVC(probability=True): deprecated in sklearn 1.9, kept while it exists
        warnings.filterwarnings("ignore", message=".*`probability` parameter was deprecated", category=FutureWarning)
        model.fit(Xtr, ytr)
    predicted = model.predict(Xte)
    if probability:
        scores, source = model.predict_proba(Xte), "predict_proba"
    else:
        scores, source = model.decision_function(Xte), "decision_function"
        if scores.ndim == 1:  # binary: positive = labels[1]
            scores = np.stack([-scores, scores], axis=1)
    # model.classes_ equals labels (both np.unique of train_y): columns line up.
    roc, pr = {}, {}
    for j, label in enumerate(labels):
        truth = yte == label
        key = label.item() if hasattr(label, "item") else label
        if truth.all() or not truth.any():
            roc[key] = {"fpr": np.empty(0), "tpr": np.empty(0), "auc": np.nan}
            pr[key] = {"precision": np.empty(0), "recall": np.empty(0), "ap": np.nan}
            continue
        fpr, tpr, _ = roc_curve(truth, scores[:, j])
        precision, recall, _ = precision_recall_curve(truth, scores[:, j])
        roc[key] = {"fpr": fpr, "tpr": tpr, "auc": float(roc_auc_score(truth, scores[:, j]))}
        pr[key] = {"precision": precision, "recall": recall,
                   "ap": float(average_precision_score(truth, scores[:, j]))}
    aucs = [r["auc"] for r in roc.values() if np.isfinite(r["auc"])]
    with warnings.catch_warnings():  # test sets with one class or missing classes are fine here
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        warnings.filterwarnings("ignore", message="A single label was found")
        balanced = float(balanced_accuracy_score(yte, predicted))
    return {"accuracy": float(accuracy_score(yte, predicted)), "balanced_accuracy": balanced,
            "labels": labels, "confusion": confusion_matrix(yte, predicted, labels=labels),
            "roc": roc, "pr": pr, "macro_auc": float(np.mean(aucs)) if aucs else np.nan,
            "predicted": predicted, "scores": scores, "score_source": source, "model": model}
