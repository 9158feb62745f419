"""The FR training budget per profile (lib.config): ``fr_train``, the TrainConfig changes every
notebook's recognisers share. TrainConfig's own defaults are the CPU budget of the default profile
(iresnet_tiny at 64 px, 1 epoch, SGD with a cosine schedule); the packages whose full profile trains
the paper's model (fserasing, lowres) override ``full`` in their own config.

``rehearsal`` (every package): the full profile's architectures, heads and schedules at the smoke
profile's sizes (one epoch, a few dozen images), so that the full profile's code runs in ``make test``;
its deep backbones become iresnet_small (the same IResNet blocks and 112 px input as iresnet50, fewer
and narrower layers: a 2-core CPU trains and evaluates the rehearsal's twenty models in about two minutes)."""

from lib.config import Variants

REHEARSAL_BACKBONE = "iresnet_small"

VARIANTS = Variants(
    smoke={"fr_train": {"epochs": 1, "batch_size": 32}},
    default={"fr_train": {}},
    full={"fr_train": {}},  # a package whose full profile trains the paper's model overrides it
    rehearsal={"fr_train": {"epochs": 1, "batch_size": 32}},
)
