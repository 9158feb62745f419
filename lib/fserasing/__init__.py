"""FSErasing (Kawai et al., IET Biometrics 2024; gsisaoki/FSErasing): face parsing, erasing of
semantic regions as a face-recognition augmentation, and FS-CAM saliency.

Introduced by notebooks/03_fserasing.ipynb. Modules, one responsibility each:

- ``labels``: the 25 classes (the engine's definitions, re-exported) and labels derived from a
  478-point MediaPipe mesh of any aligned face (the paper's labelling method);
- ``parser``: the U-Net/ResNet-18 face parser, its training, mIoU and cached mask precomputation;
- ``transform``: the FSErasing transform as published (``FSErasing``) and its batch form
  (``FSErasingHook``, a ``lib.recognition.train`` batch_hook), plus the baselines' hooks;
- ``models``: the FR models per head and augmentation, cached through ``train_on_split``;
- ``evaluate``: clean/occluded verification on held-out identities;
- ``fscam``: FS-CAM and Grad-CAM saliency, per-class importance;
- ``plots``: figure builders of this notebook. Parser inference speed: ``python -m lib.speed.fserasing``.
"""
