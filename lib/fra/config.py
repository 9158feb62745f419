"""FRA's settings per profile (lib.config). ``FRAConfig``'s own defaults are the paper's (3 epochs of
batch 256, docs/fra.md), and so is the full profile; the CPU profiles train more epochs of smaller
batches on fewer pairs (01_fra, section 3, says what this costs)."""

from lib.config import Variants
from lib.recognition.config import VARIANTS as FR

PUBLISHED = {"num_pairs": 10000, "fra": {"epochs": 3, "batch_size": 256}}  # --num-samples, --num-epochs, --batch-size

VARIANTS = Variants(
    smoke={**FR.smoke, "num_pairs": 96, "fra": {"epochs": 1, "batch_size": 32}},
    default={**FR.default, "num_pairs": 1000, "fra": {"epochs": 5, "batch_size": 32}},
    full={**FR.full, **PUBLISHED},
    rehearsal={**FR.rehearsal, "num_pairs": 96, "fra": {"epochs": 1, "batch_size": 32}},
)
