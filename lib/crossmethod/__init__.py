"""05_cross_method: one held-out benchmark with graded difficulty axes, one protocol, every method.

- ``benchmark``: the benchmark FaceSet (test persons only, never seen in any training) and its
  probe conditions per axis and level;
- ``protocol``: verification (TAR@FAR, EER) and closed-set rank-1 of one method on one condition;
- ``methods``: the methods, each made of the models the earlier notebooks trained (run cache);
- ``plots``: the heatmap, the per-axis curves and the ranking table.
"""
