"""Boxes and arrows on one matplotlib axes, with every text remembered so tests can read the picture."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

FONT = 8  # the course's smallest readable size
COLORS = {"data": "#dbe9f6", "layer": "#fde9c9", "attention": "#f6d6d6", "cond": "#dff0d8", "op": "#eeeeee"}


class Canvas:
    """Boxes and arrows on one axes in data coordinates (x right, y up), with the texts remembered."""

    def __init__(self, width: float, height: float, size: tuple[float, float]) -> None:
        self.figure, self.ax = plt.subplots(figsize=size)
        self.ax.set_xlim(0, width)
        self.ax.set_ylim(0, height)
        self.ax.axis("off")
        self.labels: list[str] = []

    def box(self, x: float, y: float, w: float, h: float, text: str, kind: str = "layer") -> tuple[float, float]:
        """A rounded box centred at (x, y); returns its centre."""
        patch = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                               facecolor=COLORS[kind], edgecolor="#555555", linewidth=0.8)
        self.ax.add_patch(patch)
        self.ax.text(x, y, text, ha="center", va="center", fontsize=FONT)
        self.labels.append(text)
        return x, y

    def arrow(self, start: tuple[float, float], end: tuple[float, float], text: str = "") -> None:
        self.ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, linewidth=0.8,
                                          color="#333333", shrinkA=0, shrinkB=0))
        if text:
            middle = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
            if abs(end[1] - start[1]) < abs(end[0] - start[0]):  # a flat arrow: the text above it
                self.ax.text(middle[0], middle[1] + 0.1, text, ha="center", va="bottom", fontsize=FONT, color="#333333")
            else:  # a steep one: the text to its right
                self.ax.text(middle[0] + 0.12, middle[1], text, ha="left", va="center", fontsize=FONT, color="#333333")
            self.labels.append(text)

    def note(self, x: float, y: float, text: str, **options) -> None:
        self.ax.text(x, y, text, fontsize=FONT, **options)
        self.labels.append(text)

    def done(self, title: str):
        self.ax.set_title(title, fontsize=FONT + 1)
        self.labels.append(title)
        self.figure.tight_layout()
        self.figure.diagram_labels = self.labels
        return self.figure
