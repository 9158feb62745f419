"""Evaluation protocols as pure numpy functions on embeddings, scores and labels.

- :mod:`.verification`: pair scores, the 10-fold LFW protocol (FaceX-Zoo and insightface
  threshold criteria), ROC/AUC/EER, TAR@FAR, LFW-style pair lists;
- :mod:`.identification`: closed-set identification (rank-1, CMC), SCface style;
- :mod:`.classification`: FRA's SVM evaluation (accuracy, confusion, per-class ROC/PR);
- :mod:`.quality`: PSNR and SSIM, optionally over a mask;
- :mod:`.paired`: paired tests of two methods on the same items (McNemar, a bootstrap over persons) and
  one verdict from several seeds' tests;
- :mod:`.replication`: several seeds' results averaged;

No torch: every function takes numpy arrays (embeddings come from
``lib.recognition.embedders.embed``) and returns plain numbers, arrays and dicts that
notebooks tabulate and plot with ``lib.plots``.
"""
