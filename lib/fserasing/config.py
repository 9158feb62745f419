"""FSErasing's settings per profile (lib.config): ``parser_train`` (ParserConfig changes) and
``fr_train``. The defaults are the CPU budget (96 px parser, decoder half smp's width, 5 epochs of the
6,000 synth_facesynthetics training images; iresnet_tiny); the full profile trains the paper's models (docs/fserasing.md): the U-Net/ResNet-18
parser at 128 px on every FaceSynthetics image (its schedule is not published: ours) and iresnet50 at
112 px with SGD 0.1 as arcface_torch (the paper's schedule is not published either)."""

from lib.config import Variants
from lib.recognition.config import REHEARSAL_BACKBONE, VARIANTS as FR

PUBLISHED = {
    "parser_train": {"input_size": 128, "decoder_channels": [256, 128, 64, 32, 16], "epochs": 20, "batch_size": 64,
                     "max_images": None},
    "fr_train": {"backbone": "iresnet50", "epochs": 20, "batch_size": 128, "lr": 0.1, "warmup_epochs": 1},
}

VARIANTS = Variants(
    smoke={**FR.smoke, "parser_train": {"epochs": 1, "max_images": 32, "batch_size": 16}},
    default={**FR.default, "parser_train": {}},
    full={**FR.full, **PUBLISHED},
    rehearsal={**FR.rehearsal,
               "parser_train": {**PUBLISHED["parser_train"], "epochs": 1, "max_images": 32, "batch_size": 16},
               "fr_train": {**PUBLISHED["fr_train"], "backbone": REHEARSAL_BACKBONE, "epochs": 1, "batch_size": 32}},
)
