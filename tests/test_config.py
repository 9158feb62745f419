"""lib.config and each paper package's config.py: one place for the settings that change with the profile."""

import pytest

from lib.config import PROFILES, Variants
from lib.fra import config as fra
from lib.fserasing import config as fse
from lib.inpaint import config as inpaint
from lib.lowres import config as lowres
from lib.recognition import config as fr


def test_resolve_merges_dicts_keeps_none_and_replaces_the_rest():
    v = Variants(smoke={"train": {"epochs": 1, "lr": 0.1}, "pairs": 96}, default={"train": {}, "pairs": 1000})
    assert v.resolve("smoke", train={"lr": 0.5}, pairs=None) == {"train": {"epochs": 1, "lr": 0.5}, "pairs": 96}
    assert v.resolve("default", train={}, pairs=7) == {"train": {}, "pairs": 7}
    assert v.resolve("full", train={"lr": 1}) == {"train": {"lr": 1}}  # no variant value: the change alone
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        v.resolve("fast", train={})


@pytest.mark.parametrize("package", [fra, inpaint, fse, lowres])
def test_every_profile_sets_the_same_names_and_full_is_the_paper(package):
    names = {p: set(package.VARIANTS.of(p)) for p in PROFILES}
    assert all(n == names["default"] for n in names.values()), names
    assert all(package.VARIANTS.full[k] == v for k, v in package.PUBLISHED.items())
    assert package.VARIANTS.smoke["fr_train"] == fr.VARIANTS.smoke["fr_train"]  # one FR budget for the smoke run


def test_fra_config_defaults_are_the_published_ones():
    from lib.fra.train import FRAConfig

    cfg = FRAConfig()
    assert (cfg.epochs, cfg.batch_size) == (fra.PUBLISHED["fra"]["epochs"], fra.PUBLISHED["fra"]["batch_size"])


# What the rehearsal may shrink; every other published setting (heads, schedules, optimiser, decoder) it keeps.
SIZES = {"epochs", "batch_size", "max_images", "items_per_epoch", "images_per_epoch", "milestones", "size", "width",
         "backbone", "num_pairs"}


def _kept(published, rehearsal, where):
    if not isinstance(published, dict):
        assert where.rsplit(".", 1)[-1] in SIZES or published == rehearsal, (where, published, rehearsal)
        return
    assert isinstance(rehearsal, dict) and set(published) <= set(rehearsal), (where, published, rehearsal)
    for k, v in published.items():
        _kept(v, rehearsal[k], f"{where}.{k}")


@pytest.mark.parametrize("package", [fra, inpaint, fse, lowres])
def test_the_rehearsal_keeps_the_papers_code_paths_at_smoke_sizes(package):
    for name, value in package.PUBLISHED.items():
        _kept(value, package.VARIANTS.rehearsal[name], name)
    fr_train = package.VARIANTS.rehearsal["fr_train"]
    assert fr_train["epochs"] == 1 and fr_train.get("backbone") in (None, fr.REHEARSAL_BACKBONE)
