"""Progress bars that read well live and in a committed notebook on GitHub.

tqdm.auto draws an ipywidgets bar in a notebook. A saved notebook keeps only the widget's
text fallback from the moment it was created, so on GitHub every finished bar reads
"0%| | 0/200". Here the bar is tqdm's text bar everywhere; in a notebook it is written into
one display output that is updated in place (`display(..., display_id=True)`), so Jupyter,
Colab and nbclient all keep its last state: "training: 100%|██████| 200/200 [00:12, 16 it/s]".
"""

from __future__ import annotations

from typing import Iterable

from tqdm.std import tqdm


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Colab, nbclient), False in a terminal or a script."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class _DisplayLine:
    """A file-like object for tqdm: each write replaces one notebook output's text."""

    encoding = "utf-8"  # tqdm draws its Unicode blocks only for a file that says it takes them

    def __init__(self) -> None:
        self.handle = None

    def write(self, text: str) -> None:
        from IPython.display import display

        line = text.replace("\r", "").rstrip("\n")
        if not line.strip():
            return
        # A plain-text mime bundle: the same on GitHub, in JupyterLab and in Colab.
        bundle = {"text/plain": line}
        if self.handle is None:
            self.handle = display(bundle, raw=True, display_id=True)
        else:
            self.handle.update(bundle, raw=True)

    def flush(self) -> None:
        pass


def progress_bar(iterable: Iterable | None = None, *, total: int | None = None, desc: str | None = None,
                 disable: bool = False, **options) -> tqdm:
    """`tqdm(iterable, total=..., desc=...)` that saves as its final state in a notebook (see the module)."""
    if disable:
        return tqdm(iterable, total=total, desc=desc, disable=True)
    file = _DisplayLine() if _in_notebook() else None  # None: tqdm's stderr
    return tqdm(iterable, total=total, desc=desc, file=file, ncols=None if file is None else 90, **options)
