"""No figure text smaller than 8 points, in the notebooks or in the package (issue 17, section 4).

A learner reads the committed figures on GitHub at their saved size; labels at 6 or 7 points
were unreadable there. The check reads every literal `fontsize=N` in the notebooks' code cells
and in minisora's sources (a computed size is the code's business, and its own test's).
"""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted([*ROOT.glob("lessons/*.ipynb"), *ROOT.glob("solutions/*.ipynb")])
SOURCES = sorted(ROOT.glob("minisora/**/*.py"))
LITERAL = re.compile(r"fontsize\s*=\s*(\d+(?:\.\d+)?)\b")
SMALLEST = 8


def too_small(text: str) -> list[str]:
    return [match.group(0) for match in LITERAL.finditer(text) if float(match.group(1)) < SMALLEST]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_figures_use_readable_fonts(path):
    cells = json.loads(path.read_text())["cells"]
    small = {i: too_small("".join(c["source"])) for i, c in enumerate(cells) if c["cell_type"] == "code"}
    small = {i: found for i, found in small.items() if found}
    assert not small, f"{path.name}: fonts under {SMALLEST} pt in cells {small}; use fontsize={SMALLEST} or more"


def test_package_figures_use_readable_fonts():
    small = {str(p.relative_to(ROOT)): too_small(p.read_text()) for p in SOURCES}
    small = {name: found for name, found in small.items() if found}
    assert not small, f"fonts under {SMALLEST} pt in {small}; use fontsize={SMALLEST} or more"


def test_the_check_catches_a_small_font():
    assert too_small('ax.set_title(name, fontsize=6.5); ax.legend(fontsize=7)') == ["fontsize=6.5", "fontsize=7"]
    assert too_small("ax.set_title(name, fontsize=8); ax.text(0, 0, s, fontsize=12)") == []
