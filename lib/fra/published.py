"""FRA's published numbers, with their source (docs/fra.md).

Only the paper's abstract gives the gains it claims; the repository holds one table of absolute
numbers (a 2022 notebook). 01_fra quotes both beside its own results.
"""

# Identity-accuracy gains on KDEF over the base face-representation model, in points
# (S. Hashemifar et al., arXiv 2301.11986, abstract).
IDENTITY_GAINS = {"magface": 9.52, "arcface": 10.04, "cosface": 16.60}

# The repository's only absolute numbers: its 2022 notebook (MagFace, an identity split, 28 evaluation
# identities); objective -> target -> SVM accuracy.
NOTEBOOK_2022 = {
    "baseline": {"pose": 0.9262, "identity": 0.8430, "emotion": 0.7890},
    "augmented": {"pose": 0.9630, "identity": 0.8516, "emotion": 0.8992},
    "generated": {"pose": 0.9868, "identity": 0.8647, "emotion": 0.8307},
}
