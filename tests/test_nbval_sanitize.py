"""lib.tools.nbval_sanitize: strict on the CPU type that recorded the baselines, trained metric values
left out elsewhere (engine numbers, keys and NaN still compared)."""

from __future__ import annotations

import re

from lib.tools import nbval_sanitize


def _rules(cfg: str) -> list[tuple[str, str]]:
    """(regex, replace) pairs of a sanitizer file, as nbval reads them."""
    return re.findall(r"^regex: (.*)\nreplace: (.*)$", cfg, flags=re.M)


def _apply(cfg: str, text: str) -> str:
    for regex, replace in _rules(cfg):
        text = re.sub(regex, replace.replace("\\1", r"\1").replace("\\2", r"\2"), text)
    return text


SUMMARY = ("engine.capacity.persons                       15\n"
           "fra.arcface.heldout.baseline                  0.833\n"
           "lowres.arcface.lfw.7                          0.5\n"
           "cross.baseline.clean.0                        nan\n")


def test_strict_on_the_recording_cpu_and_values_of_trained_metrics_left_out_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setattr(nbval_sanitize, "recorded_file", lambda: tmp_path / "CPU")
    (tmp_path / "CPU").write_text(nbval_sanitize.cpu_type() + "\n")
    assert nbval_sanitize.write(tmp_path / "strict.cfg")
    assert _apply((tmp_path / "strict.cfg").read_text(), SUMMARY) == SUMMARY
    (tmp_path / "CPU").write_text("Another CPU | AVX2\n")
    assert not nbval_sanitize.write(tmp_path / "lenient.cfg")
    out = _apply((tmp_path / "lenient.cfg").read_text(), SUMMARY)
    assert out.splitlines() == ["engine.capacity.persons                       15",
                                "fra.arcface.heldout.baseline                  NUM",
                                "lowres.arcface.lfw.7                          NUM",
                                "cross.baseline.clean.0                        nan"]  # a NaN still fails
