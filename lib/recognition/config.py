"""The FR training budget per profile (lib.config): ``fr_train``, the TrainConfig changes every
notebook's recognisers share. The packages whose full profile trains the paper's model (fserasing,
lowres) override ``full`` in their own config.

``default``: every recogniser learns from the engine's recognition corpus synth_webface (2,000 persons x
10 images; lib.recognition.split_models.training_faceset) in two parts, a departure from the papers,
which train each model from scratch: one ArcFace **pretraining** (iresnet_tiny at 64 px, 2 epochs, SGD
0.1 with a cosine schedule), shared by every model, then each method's **fine-tune** (0.5 epoch, SGD 0.05
on a cosine schedule, no warm-up) with its own head (starting from the pretraining's class weights) and
its own batch hook; the baseline is the fine-tune without a hook, so every method gets the same steps
from the same start. Measured on this budget (2026-12-06, 2-core AMD EPYC; the 300 held-out persons of
synth_bench, gallery session A frontal, probes session B; TAR at FAR 1e-3): from scratch, ArcFace reaches
clean TAR 0.978 / 0.984 / 0.985 after 1 / 2 / 3 epochs (10-fold verification accuracy over all poses
0.945 / 0.961 / 0.965), so a third epoch buys little; after the 2-epoch pretraining a fine-tune of 0.25
epoch at a constant lr 0.01 left every condition within 0.005 of the baseline, Cross-Resolution Batch
included (7 px: 0.601 vs 0.604), while 0.5 epoch at lr 0.05 moves it (7 px: 0.652 vs 0.632). A 2-core
CPU trains one such fine-tune in about 50 s, the pretraining in about 3 minutes.

``rehearsal`` (every package): the full profile's architectures, heads and schedules at the smoke
profile's sizes (one epoch, a few dozen images), so that the full profile's code runs in ``make test``;
its deep backbones become iresnet_small (the same IResNet blocks and 112 px input as iresnet50, fewer
and narrower layers: a 2-core CPU trains and evaluates the rehearsal's twenty models in about two minutes)."""

from lib.config import Variants

REHEARSAL_BACKBONE = "iresnet_small"
DEFAULT_FR_TRAIN = {"epochs": 0.5, "lr": 0.05, "warmup_epochs": 0.0, "pretrain": {"epochs": 2}}

VARIANTS = Variants(
    # smoke: the default's two parts at a few steps (synth_webface's smoke size: 8 persons x 3 images)
    smoke={"fr_train": {"epochs": 1, "batch_size": 16, "pretrain": {"epochs": 1, "batch_size": 16}}},
    default={"fr_train": DEFAULT_FR_TRAIN},
    full={"fr_train": {}},  # a package whose full profile trains the paper's model overrides it
    rehearsal={"fr_train": {"epochs": 1, "batch_size": 32}},
)


def fr_train_at(fr_train, seed: int, own_seed: int) -> dict:
    """``fr_train`` (TrainConfig changes) for the training at ``seed`` of a notebook replicated over seeds: as
    given at the notebook's ``own_seed`` (its models' cache keys hold no seed, and they are the models the
    other notebooks find), with ``"seed": seed`` added at any other seed (pretraining included: a fine-tune's
    pretraining inherits its seed)."""
    fr_train = dict(fr_train or {})
    return fr_train if seed == own_seed else {**fr_train, "seed": seed}
