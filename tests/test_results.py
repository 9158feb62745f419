"""figures/RESULTS.md sections: each notebook replaces only its own."""

from __future__ import annotations

import pytest

from lib import results


def test_sections_are_replaced_and_ordered(isolated_dirs):
    results.update_section("02_inpainting", "## Inpainting\nold")
    results.update_section("01_fra", "## FRA\n| a |\n|---|")
    results.update_section("02_inpainting", "## Inpainting\nnew")
    text = results.results_file().read_text()
    assert text.startswith("# Results") and "old" not in text and text.count("<!-- 02_inpainting:start -->") == 1
    assert text.index("## FRA") < text.index("## Inpainting")
    with pytest.raises(ValueError, match="section name"):
        results.update_section("../x", "no")
