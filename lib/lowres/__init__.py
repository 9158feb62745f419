"""Low-resolution face recognition (notebooks/04_lowres.ipynb; docs/lowres.md).

- ``crb``: the Cross-Resolution Batch and AdaFace's low-resolution augmentation (batch hooks);
- ``margins``: Approach1/Approach2 per-sample margins for the ``adaptive_arcface`` head;
- ``methods``: the twelve methods of the notebook -> training config, hook and cache name;
- ``octuplet``, ``derivenet``: fine-tuning from the ArcFace model (``finetune``: their shared cache);
- ``protocols``: LFW 10-fold, SCface-style rank-1 and QMUL-style TAR@FAR on degraded images;
- ``plots``: the notebook's figure builders;
- the cost of its pieces: ``python -m lib.speed.lowres``.

For the cross-method notebook: ``methods.trained_model(fs, method, fr_train, params, seed)``
returns a cached backbone and never trains.
"""
