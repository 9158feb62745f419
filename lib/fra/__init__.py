"""FRA: face representation augmentation (Expert Systems with Applications 2023), reproduced."""
