"""Charts drawn on the server as SVG with matplotlib, text left as text so the browser
renders Chinese with its own fonts (no font files to ship)."""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

_LOCK = threading.Lock()  # pyplot's figure registry is shared by the process
PALETTE = ["#1f7a4d", "#2e6fbf", "#c2571a", "#8e44ad", "#b8860b", "#16a2a2", "#b3261e",
           "#5b6775", "#6b8e23"]


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float]
    dashed: bool = False
    colour_index: int = 0


@contextmanager
def _figure(height: float) -> Iterator[tuple[Figure, Axes]]:
    """A figure to draw on, under the pyplot lock, closed afterwards."""
    with _LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no CJK glyphs here: the browser draws text
        plt.rcParams["svg.fonttype"] = "none"
        plt.rcParams["svg.hashsalt"] = "carbon-planet"  # the same figure, the same SVG
        fig, ax = plt.subplots(figsize=(9, height), dpi=100)
        try:
            yield fig, ax
        finally:
            plt.close(fig)


def _svg(fig: Figure, element_id: str) -> str:
    """The figure as an inline <svg> element (no XML prologue) with an id and a role."""
    fig.tight_layout()
    out = io.StringIO()
    fig.savefig(out, format="svg")
    svg = out.getvalue()
    return svg[svg.find("<svg"):].replace("<svg ", f'<svg id="{element_id}" role="img" ', 1)


def line_chart(x: Sequence, series: Sequence[Series], *, title: str, y_label: str,
               percent: bool = False, element_id: str = "chart") -> str:
    """An SVG line chart; each series' line carries the id `series-<label>`."""
    with _figure(4.6) as (fig, ax):
        for s in series:
            (line,) = ax.plot(x, s.values, label=s.label, linewidth=1.6,
                              marker="o" if len(x) < 15 else None, markersize=3,
                              linestyle="--" if s.dashed else "-",
                              color=PALETTE[s.colour_index % len(PALETTE)])
            line.set_gid(f"series-{s.label}")
        ax.set_title(title)
        ax.set_ylabel(y_label)
        if len(x) > 12:  # a month of days: labels side by side would overlap
            ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        if percent:
            ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        else:  # counts and grams: no tick at half a record
            ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if series:
            ax.legend(fontsize=8, ncol=2, loc="upper left", framealpha=0.9)
        return _svg(fig, element_id)


def bar_chart(categories: Sequence[str], series: Sequence[Series], *, title: str,
              y_label: str, element_id: str = "chart") -> str:
    """Stacked bars per category (a day), one colour per series (a reason, a scene); each
    bar carries the id `series-<label>-<category>`."""
    with _figure(4.2) as (fig, ax):
        bottom = [0.0] * len(categories)
        for s in series:
            bars = ax.bar(categories, s.values, bottom=bottom, label=s.label,
                          color=PALETTE[s.colour_index % len(PALETTE)])
            for category, bar in zip(categories, bars):
                bar.set_gid(f"series-{s.label}-{category}")
            bottom = [b + v for b, v in zip(bottom, s.values)]
        ax.set_title(title)
        ax.set_ylabel(y_label)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # counts, grams
        ax.grid(alpha=0.3, axis="y")
        if series:
            ax.legend(fontsize=8, framealpha=0.9)
        return _svg(fig, element_id)
