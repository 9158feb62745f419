"""The inpainting GAN's settings per profile (lib.config): ``gan``, the InpaintConfig changes.
InpaintConfig's own defaults are the CPU budget (64 px, width 0.125, 4 epochs of synth_celeba, batch 32,
generator lr 1e-3: 02_inpainting's diagnosis); the full profile trains the published model (docs/inpainting.md)."""

from lib.config import Variants
from lib.recognition.config import VARIANTS as FR

PUBLISHED = {"gan": {"size": 256, "width": 1.0, "epochs": 20, "lr_g": 1e-4}}

VARIANTS = Variants(
    smoke={**FR.smoke, "gan": {"size": 32, "epochs": 1, "batch_size": 16}},
    default={**FR.default, "gan": {}},
    full={**FR.full, **PUBLISHED},
    rehearsal={**FR.rehearsal, "gan": {**PUBLISHED["gan"], "size": 32, "width": 0.125, "epochs": 1, "batch_size": 16}},
)
