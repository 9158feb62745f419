"""Face recognition: backbones, margin heads, training and evaluation (paper-faithful names)."""
