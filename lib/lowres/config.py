"""The low-resolution methods' settings per profile (lib.config): ``fr_train`` and ``lowres_params``
(lib.lowres.methods). The defaults are the CPU budget; the full profile trains as the thesis
(docs/lowres.md): ResNet50-IR (iresnet50 here), SGD 0.1, momentum 0.9, weight decay 1e-4, learning
rate halved at epochs 5/10/15, 18 epochs (its batch size is not stated: 128), its head variants and
the original fine-tuning scripts' settings."""

from lib.config import Variants
from lib.recognition.config import REHEARSAL_BACKBONE, VARIANTS as FR

PUBLISHED = {
    "fr_train": {"backbone": "iresnet50", "epochs": 18, "batch_size": 128, "lr": 0.1, "momentum": 0.9,
                 "weight_decay": 1e-4, "schedule": "step", "milestones": [5, 10, 15], "gamma": 0.5,
                 "warmup_epochs": 0},
    "lowres_params": {
        "cosface": {"head": "cosface_lowres"}, "sphereface": {"head": "sphereface_lowres"},
        "arcface": {"head": "arcface_lowres"}, "cosface_crb": {"head": "cosface_lowres"},
        "sphereface_crb": {"head": "sphereface_lowres"}, "arcface_crb": {"head": "arcface_lowres"},
        "octuplet": {"epochs": 18, "batch_size": 16, "items_per_epoch": None, "lr": 0.1, "milestones": [5, 10, 15]},
        "derivenet": {"epochs": 18, "batch_size": 16, "images_per_epoch": None, "lr": 0.1, "milestones": [5, 10, 15],
                      "recon_size": 112, "hidden": [1024, 2048]},
    },
}

VARIANTS = Variants(
    smoke={**FR.smoke, "lowres_params": {"octuplet": {"items_per_epoch": 16, "batch_size": 8},
                                         "derivenet": {"images_per_epoch": 32, "batch_size": 16}}},
    default={**FR.default, "lowres_params": {}},
    full={**FR.full, **PUBLISHED},
    rehearsal={"fr_train": {**PUBLISHED["fr_train"], "backbone": REHEARSAL_BACKBONE, "epochs": 1, "batch_size": 32,
                            "milestones": [1]},
               "lowres_params": {**PUBLISHED["lowres_params"],
                                 "octuplet": {**PUBLISHED["lowres_params"]["octuplet"], "epochs": 1, "items_per_epoch": 16,
                                              "batch_size": 8, "milestones": [1]},
                                 "derivenet": {**PUBLISHED["lowres_params"]["derivenet"], "epochs": 1,
                                               "images_per_epoch": 32, "milestones": [1]}}},
)
