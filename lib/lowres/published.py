"""The low-resolution thesis' published numbers, with their source (docs/lowres.md).

A. Lozhkina, EPFL semester project (January 2023), Table 4: accuracy of each method on each test;
QMUL-SurvFace is accuracy there (its official protocol reports TAR at FAR).
"""

import pandas as pd

# methods x tests (the thesis prints tests x methods).
TABLE4 = pd.DataFrame(
    {"cosface": [.979, .9801, .9721, .9266, .7543, .6411, .6873, .9336, .9229],
     "sphereface": [.9641, .9625, .9025, .7155, .5926, .5953, .1253, .3487, .5654],
     "arcface": [.9773, .97399, .96933, .9189, .74666, .6303, .7349, .95679, .9322],
     "octuplet": [.9208, .9211, .9135, .8616, .7375, .6602, .5095, .6296, .4175],
     "derivenet": [.9878, .9873, .9471, .7103, .5708, .5618, .346, .8302, .9583],
     "adaface": [.9906, .9869, .9685, .6321, .5653, .5324, .50634, .96913, .99691],
     "approach1": [.977, .974, .969, .9236, .7685, .6281, .7539, .9506, .9491],
     "approach2": [.9623, .9645, .9584, .9138, .7905, .7125, .7492, .9182, .8104]},
    index=["LFW 112", "LFW 56", "LFW 28", "LFW 14", "LFW 7", "QMUL acc", "SCface d1", "SCface d2", "SCface d3"]).T
