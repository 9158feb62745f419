"""What a 7 x 7 thumbnail of an engine person keeps: 04_lowres's LFW-style test, changed one cue at a time.

Plain ArcFace loses about 23 points between 112 and 7 px on LFW (the thesis' Table 4) and about 5 on the
engine's 300 held-out benchmark persons (04_lowres). If one coarse cue (something that survives a 7 x 7
thumbnail) told the engine's persons apart, taking it away from the test images would lower the 7 px accuracy
and leave 112 px alone. Each variant keeps the pairs, persons and photometric draws of the protocol and changes
one thing:

- ``hair recoloured``: every test image's hair pixels get their own colour (``EngineProtocol.hair``, the
  strands' light and shade kept): the engine gives a person one hair colour, photos do not;
- ``hair as background``: hair pixels painted with the image's background colour: the head's outline
  becomes the face's;
- ``hair recoloured, trained so``: the test of ``hair recoloured`` on a model whose pretraining and
  fine-tune recolour the hair of every training image (``TrainConfig.wild_hair``), so the test is inside
  its training conditions.

:func:`cue_table` returns each variant's accuracy at 112 and 7 px with McNemar's test against the
protocol as it is, on the same pairs (lib.lowres.evaluate.paired_accuracy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pandas as pd

RESOLUTIONS = (7, 112)
AS_TESTED = "as tested"


def hair_training(fr_train: Mapping) -> dict:
    """``fr_train`` with the hair recoloured per training image, in the fine-tune and in its pretraining (if any)."""
    out = {**dict(fr_train), "wild_hair": True}
    if out.get("pretrain"):
        out["pretrain"] = {**dict(out["pretrain"]), "wild_hair": True}
    return out


def _hair_as_background(fs, protocol) -> dict:
    """The protocol's LFW-style suite with every test image's hair painted as its background (same draws), the
    images kept in the run cache like the protocol's own (runs/lowres/wild; ~10 s for synth_bench's 300 persons)."""
    from lib.lowres.evaluate import engine_lfw, wild_images

    suite = engine_lfw(fs, replace(protocol, photometric="none"))
    return {**suite, "images": wild_images(fs, suite["rows"], protocol.seed, hair="background", cache=True)}


def cue_table(fs, protocol, model, model_key: Mapping, hair_model=None, hair_model_key: Mapping | None = None,
              ) -> pd.DataFrame:
    """One row per variant (module docstring): ``variant``, ``acc_112``, ``acc_7``, ``drop`` (points), and per
    resolution the difference to the protocol as it is (``diff_<t>``, points) with McNemar's ``p_<t>``.

    ``fs``: the engine FaceSet with parsing maps whose test persons 04 evaluates (synth_bench); ``protocol``: its
    :class:`lib.lowres.evaluate.EngineProtocol` (``photometric="wild"``); ``model``: the ArcFace backbone; the
    ``*_key`` identify the models for the evaluation cache (lib.lowres.methods.model_key)."""
    from lib.lowres import evaluate as lr_eval

    if protocol.photometric != "wild" or protocol.hair:
        raise ValueError("cue_table varies the protocol's 'wild' test images: give an EngineProtocol with "
                         f"photometric='wild' and hair=False (got photometric={protocol.photometric!r}, "
                         f"hair={protocol.hair})")
    engine = fs.card["arrays"]["images.npy"]["sha256"]
    hair_protocol = replace(protocol, hair=True)
    suites = {AS_TESTED: (lr_eval.engine_lfw(fs, protocol, cache=True), protocol.key()),
              "hair recoloured": (lr_eval.engine_lfw(fs, hair_protocol, cache=True), hair_protocol.key()),
              "hair as background": (_hair_as_background(fs, protocol), {**protocol.key(), "hair": "background"})}
    runs = {name: (model, model_key, *suites[name]) for name in suites}
    if hair_model is not None:
        runs["hair recoloured, trained so"] = (hair_model, hair_model_key, *suites["hair recoloured"])
    results = {name: lr_eval.evaluate_cached(m, {**suite, "resolutions": RESOLUTIONS}, model_key=key,
                                             suite_key={"engine": engine, "protocol": pkey, "only": "lfw",
                                                        "resolutions": list(RESOLUTIONS)})
               for name, (m, key, suite, pkey) in runs.items()}
    paired = lr_eval.paired_accuracy(results, baseline=AS_TESTED, resolutions=RESOLUTIONS)
    rows = []
    for name, r in results.items():
        row = {"variant": name, "acc_112": r["lfw.112"], "acc_7": r["lfw.7"], "drop": 100 * (r["lfw.112"] - r["lfw.7"])}
        for t in RESOLUTIONS:
            hit = paired[(paired["method"] == name) & (paired["resolution"] == t)]
            row[f"diff_{t}"] = 100 * float(hit["diff"].iloc[0]) if len(hit) else 0.0
            row[f"p_{t}"] = float(hit["p"].iloc[0]) if len(hit) else 1.0
        rows.append(row)
    return pd.DataFrame(rows)
