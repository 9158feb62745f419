"""The FR training budget per profile (lib.config): ``fr_train``, the TrainConfig changes every
notebook's recognisers share. TrainConfig's own defaults are the CPU budget of the default profile
(iresnet_tiny at 64 px, 1 epoch, SGD with a cosine schedule); the packages whose full profile trains
the paper's model (fserasing, lowres) override ``full`` in their own config."""

from lib.config import Variants

VARIANTS = Variants(
    smoke={"fr_train": {"epochs": 1, "batch_size": 32}},
    default={"fr_train": {}},
    full={"fr_train": {}},  # a package whose full profile trains the paper's model overrides it
)
