"""FSErasing's published numbers, with their source (docs/fserasing.md).

H. Kawai et al., IET Biometrics 2024, article 6663315, abstract: the mean gains of adding FSErasing
to the baseline training, over the paper's verification benchmarks, in points.
"""

# (backbone, training set, head) -> (mean accuracy gain, mean EER reduction), points.
GAINS = {
    ("resnet34", "celeba", "softmax"): (0.354, 0.312),
    ("resnet34", "celeba", "arcface"): (0.752, 0.802),
    ("resnet50", "casia_webface", "softmax"): (0.442, 0.452),
    ("resnet50", "casia_webface", "arcface"): (0.228, 0.500),
}
ATTRIBUTE_GAIN = 0.54  # face attribute estimation on CelebA, points
TRAINING_SETS = {"celeba": "CelebA", "casia_webface": "WebFace"}  # as 03_fserasing names them


def gain_text(head: str) -> tuple[str, str]:
    """(accuracy gains, EER changes) of ``head`` over the training sets, as 03_fserasing's table prints them:
    ("+0.354 (CelebA), +0.442 (WebFace)", "-0.312, -0.452")."""
    rows = [(name, v) for (_, data, h), v in GAINS.items() if h == head for name in [TRAINING_SETS[data]]]
    return (", ".join(f"{acc:+.3f} ({name})" for name, (acc, _) in rows),
            ", ".join(f"{-eer:+.3f}" for _, (_, eer) in rows))
