"""Each paper package's published.py: the numbers the notebooks quote, in the shape they use them."""

import numpy as np

from lib.fra import published as fra
from lib.fserasing import published as fse
from lib.inpaint import published as inpaint
from lib.lowres import published as lowres
from lib.lowres.plots import TESTS


def test_fra_gains_and_notebook_table():
    assert fra.IDENTITY_GAINS == {"magface": 9.52, "arcface": 10.04, "cosface": 16.60}
    assert set(fra.NOTEBOOK_2022) == {"baseline", "augmented", "generated"}
    assert all(set(v) == {"pose", "identity", "emotion"} for v in fra.NOTEBOOK_2022.values())


def test_fserasing_gain_text_is_what_03_prints():
    assert fse.gain_text("softmax") == ("+0.354 (CelebA), +0.442 (WebFace)", "-0.312, -0.452")
    assert fse.gain_text("arcface") == ("+0.752 (CelebA), +0.228 (WebFace)", "-0.802, -0.500")
    assert fse.gain_text("cosface") == ("", "")  # no published number: empty, not invented


def test_inpainting_numbers():
    assert inpaint.MASK_COVERAGE == {"mean": 0.071, "sd": 0.010, "min": 0.034, "max": 0.096}
    assert (inpaint.GENERATOR_PARAMS_M, inpaint.DISCRIMINATOR_PARAMS_M) == (26.06, 7.38)


def test_lowres_table4_has_every_method_and_test():
    t = lowres.TABLE4
    assert t.shape == (8, 9) and list(t.columns) == list(TESTS)
    assert t.loc["arcface", "LFW 112"] == 0.9773 and t.loc["approach2", "QMUL acc"] == 0.7125
    assert np.all((t.values > 0) & (t.values < 1))
