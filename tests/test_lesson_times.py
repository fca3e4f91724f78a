"""Each lesson's first cell says how long its full mode takes, and that is what its last cell printed.

Issue 17: lesson 04 said "a few minutes" and took 12.7; lesson 02's budget said 30 and it took
45. The time a learner is promised is now the time the committed run measured, in one sentence
per lesson ("**How long:** full mode N min ..."), checked here against the notebook's own output.
"""

import pathlib
import re

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
PROMISE = re.compile(r"\*\*How long:\*\* full mode ([0-9.]+) min")
# What the last cells print: "this lesson ran in 12.7 min in full mode ...", "this lesson ran in 9.1 min
# (full mode, ...)", lesson 00's "this run (full mode) took 1.3 min ...".
MEASURED = re.compile(r"ran in ([0-9.]+) min[^\n]*full mode|\(full mode\) took ([0-9.]+) min")


@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_the_promised_time_is_the_measured_one(path):
    nb = nbformat.read(path, as_version=4)
    promised = PROMISE.findall(nb.cells[0].source)
    assert len(promised) == 1, f"{path.name}: the first cell needs one '**How long:** full mode N min' sentence"
    last = [cell for cell in nb.cells if cell.cell_type == "code"][-1]
    printed = "".join(output.get("text", "") for output in last.outputs)
    measured = MEASURED.search(printed)
    assert measured, f"{path.name}: the last cell's output does not say how long the full-mode run took: {printed!r}"
    took = measured.group(1) or measured.group(2)
    assert promised[0] == took, f"{path.name}: the first cell promises {promised[0]} min, the run took {took}"


def test_the_check_catches_a_wrong_promise():
    assert PROMISE.findall("**How long:** full mode 3.0 min on 2 CPU cores") == ["3.0"]
    assert MEASURED.search("this lesson ran in 12.7 min in full mode on cpu").group(1) == "12.7"
    assert MEASURED.search("this lesson ran in 1.3 min (fast mode, 2 threads, cpu)") is None
