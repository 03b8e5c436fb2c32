"""The profile's memory over time as an SVG chart, drawn by matplotlib for the HTML report.

matplotlib draws with its SVG backend only (no pyplot, no display). It never reads or writes the
user's configuration or home folder: unless MPLCONFIGDIR is already set, it gets a temporary folder
for its font cache, removed when the process exits, and the chart is drawn with matplotlib's own
defaults whatever matplotlibrc is around.
"""

from __future__ import annotations

import atexit
import io
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slugprof.model import MemoryMeasure, ProfileReport

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MAX_POINTS = 500  # per series: a long run is downsampled, keeping each stretch's peak
NAMED_PROCESSES = 8  # the largest processes get their own colour and legend entry; the rest are grey
MIB = 1024 * 1024
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")

# What the inline page must not carry from matplotlib's SVG file: the XML prolog and doctype (they name
# a DTD on another host), the metadata block, and its stylesheet (a `*` rule that would reach the page).
_STRIP = (
    re.compile(r"<\?xml[^>]*\?>\s*"),
    re.compile(r"<!DOCTYPE[^>]*>\s*", re.DOTALL),
    re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL),
    re.compile(r"<style[^>]*>.*?</style>\s*", re.DOTALL),
)


@dataclass(frozen=True)
class Threshold:
    label: str
    bytes: int
    colour: str


@dataclass(frozen=True)
class Series:
    label: str
    seconds: tuple[float, ...]
    values: tuple[int, ...]


def downsample(seconds: Sequence[float], values: Sequence[int], limit: int = MAX_POINTS) -> Series:
    """At most `limit` points: the series cut into even stretches, each kept as its highest point."""
    if len(values) <= limit:
        return Series("", tuple(seconds), tuple(values))
    kept_seconds: list[float] = []
    kept_values: list[int] = []
    for bucket in range(limit):
        start = bucket * len(values) // limit
        end = (bucket + 1) * len(values) // limit
        peak = max(range(start, end), key=lambda index: values[index])
        kept_seconds.append(seconds[peak])
        kept_values.append(values[peak])
    return Series("", tuple(kept_seconds), tuple(kept_values))


def memory_series(report: ProfileReport) -> tuple[Series, list[Series]]:
    """The dyno total (the headline's figure) and each process's PSS, largest first, each downsampled."""
    samples = report.memory.samples
    anonymous = report.memory.measure == MemoryMeasure.ANONYMOUS
    values = [s.headline_bytes if anonymous else s.total_pss_bytes for s in samples]
    total = downsample([s.seconds for s in samples], values)
    roles = {process.pid: process.role for process in report.processes}
    points: dict[int, tuple[list[float], list[int]]] = {}
    for sample in samples:
        for snapshot in sample.processes:
            times, values = points.setdefault(snapshot.pid, ([], []))
            times.append(sample.seconds)
            values.append(snapshot.pss)
    processes = [
        Series(f"{roles.get(pid, 'other')} {pid}", *_fields(downsample(times, values)))
        for pid, (times, values) in points.items()
    ]
    processes.sort(key=lambda series: -max(series.values, default=0))
    label = "dyno total (anonymous)" if anonymous else "dyno total (PSS)"
    return Series(label, total.seconds, total.values), processes


def _fields(series: Series) -> tuple[tuple[float, ...], tuple[int, ...]]:
    return series.seconds, series.values


def memory_chart_svg(report: ProfileReport, thresholds: Sequence[Threshold]) -> str:
    """The SVG element (no prolog) of the dyno total and each process over time, with `thresholds`."""
    total, processes = memory_series(report)
    matplotlib = _matplotlib()
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_rc(matplotlib)):
        figure = Figure(figsize=(9.6, 3.8), layout="constrained")
        axes = figure.subplots()
        _plot(axes, total, processes, thresholds)
        buffer = io.StringIO()
        figure.savefig(
            buffer, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None}
        )
    text = buffer.getvalue()
    for pattern in _STRIP:
        text = pattern.sub("", text)
    return text.strip()


def _plot(axes: Axes, total: Series, processes: list[Series], thresholds: Sequence[Threshold]) -> None:
    for index, series in enumerate(processes):
        named = index < NAMED_PROCESSES
        axes.plot(
            series.seconds,
            [value / MIB for value in series.values],
            linewidth=1.0 if named else 0.6,
            color=_COLOURS[index] if named else "#b0b0b0",
            label=series.label if named else ("other processes" if index == NAMED_PROCESSES else None),
        )
    axes.plot(
        total.seconds,
        [value / MIB for value in total.values],
        color="#111111",
        linewidth=2.0,
        label=total.label,
    )
    for threshold in thresholds:
        axes.axhline(
            threshold.bytes / MIB,
            color=threshold.colour,
            linestyle="--",
            linewidth=1.2,
            label=threshold.label,
        )
    axes.set_xlabel("seconds since the start")
    axes.set_ylabel("MiB")
    axes.set_ylim(bottom=0)
    axes.grid(True, linewidth=0.4, alpha=0.5)
    axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)


def _rc(matplotlib: Any) -> dict[str, Any]:
    """matplotlib's own defaults (never a matplotlibrc lying around), text kept as text, stable ids, and
    the downsampled points drawn as they are."""
    defaults = {key: value for key, value in matplotlib.rcParamsDefault.items() if key != "backend"}
    return {**defaults, "svg.fonttype": "none", "svg.hashsalt": "slugprof", "path.simplify": False}


def _matplotlib() -> Any:
    """matplotlib, its configuration folder outside the home folder. The chart is a bare Figure saved
    as SVG: no pyplot, and the process's backend is left as it is."""
    if "matplotlib" not in sys.modules and not os.environ.get("MPLCONFIGDIR"):
        folder = tempfile.mkdtemp(prefix="slugprof-matplotlib-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ["MPLCONFIGDIR"] = folder
    import matplotlib

    return matplotlib
