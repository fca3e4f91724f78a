"""minisora.core.progress: a text bar everywhere; in a notebook one output, kept as its last state."""

import IPython.display
import pytest

from minisora.core import progress
from minisora.core.progress import progress_bar


class FakeHandle:
    def __init__(self, shown):
        self.shown = shown

    def update(self, bundle, raw):
        assert raw
        self.shown[-1] = bundle["text/plain"]


@pytest.fixture
def notebook(monkeypatch):
    """Pretend to run in a kernel: record what the bar displays, one entry per output."""
    shown = []

    def display(bundle, raw, display_id):
        assert raw and display_id
        shown.append(bundle["text/plain"])
        return FakeHandle(shown)

    monkeypatch.setattr(progress, "_in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", display)
    return shown


def test_in_a_notebook_one_output_ends_at_its_final_state(notebook):
    for _ in progress_bar(range(50), desc="training", mininterval=0):
        pass
    assert len(notebook) == 1, notebook  # updated in place, not one output per refresh
    assert notebook[0].startswith("training: 100%") and "50/50" in notebook[0], notebook[0]
    assert "\r" not in notebook[0] and "█" in notebook[0]


def test_a_manual_bar_with_total_ends_full(notebook):
    bar = progress_bar(total=7, desc="sampling")
    for _ in range(7):
        bar.update(1)
    bar.close()
    assert len(notebook) == 1 and "7/7" in notebook[0] and "100%" in notebook[0]


def test_outside_a_notebook_it_writes_text_to_stderr(capsys):
    assert not progress._in_notebook()  # pytest is not a kernel
    for _ in progress_bar(range(3), desc="plain"):
        pass
    err = capsys.readouterr().err
    assert "plain: 100%" in err and "3/3" in err


def test_disabled_writes_nothing(notebook, capsys):
    for _ in progress_bar(range(3), disable=True):
        pass
    assert notebook == [] and capsys.readouterr().err == ""
