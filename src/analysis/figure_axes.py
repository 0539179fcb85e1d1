"""What every time-series figure shares: a y scale fitted to the data, calendar-date axes,
and numbered legal-event tags that never overlap, in the colours of the events'
directions.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator

__all__ = [
    "DIRECTION_COLOURS",
    "describe",
    "mark_events",
    "plain",
    "plain_number",
]


DIRECTION_COLOURS = {"favourable": "#1b7837", "unfavourable": "#b2182b", "neutral": "#4d4d4d"}


def plain(text: object) -> str:
    """``text`` as literal characters: a ``$`` in a title or label from the data (a case
    name such as "Cost $5 and $\\frac{x") is drawn as is, never parsed as mathtext."""
    return str(text).replace("$", r"\$")


def _fit_scale(ax: Axes, values: np.ndarray | None, log: bool) -> None:
    """A y scale fitted to the data: log from just under the smallest positive value;
    symlog (linear near zero) only when some days are 0, so the data fill the axis."""
    v = np.asarray(values if values is not None else [], dtype=float)
    v = v[np.isfinite(v)]
    positive = v[v > 0]
    if not log or len(positive) == 0:
        ax.set_ylim(bottom=0)
        return
    low = float(np.quantile(positive, 0.01))
    if (v == 0).any():
        ax.set_yscale("symlog", linthresh=max(low, 1e-9), linscale=0.3)
        ax.set_ylim(bottom=0)
    else:
        ax.set_yscale("log")
        ax.set_ylim(bottom=low / 1.5, top=float(positive.max()) * 1.5)
        # minor ticks at 2 and 5 of each decade (not all eight: every tick is laid out
        # again in each of a saved figure's passes), labelled when decades are few
        ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda x, _: _minor_label(ax, x)))
    # numbers as a reader writes them (1,000, not 10³ set as mathtext)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _: plain_number(x)))


def plain_number(x: float) -> str:
    """A tick value as a reader writes it: ``0``, ``0.5``, ``20``, ``1,000``, ``250,000``."""
    if x == 0:
        return "0"
    if abs(x) >= 1:
        return f"{x:,.0f}"
    return f"{x:g}"


def _minor_label(ax: Axes, x: float) -> str:
    """Minor ticks are labelled on an axis spanning under two decades (few major ticks)."""
    lo, hi = ax.get_ylim()
    return plain_number(x) if lo > 0 and hi / lo < 100 else ""


def _date_axes(
    ax: Axes, unit: str, title: str, log: bool = True, values: np.ndarray | None = None
) -> None:
    """Counts (a log scale fitted to ``values`` by default) against calendar days."""
    _fit_scale(ax, values, log)
    ax.set_xlabel("date (UTC day)")
    ax.set_ylabel(plain(unit) + (" (log scale)" if log else ""))
    ax.set_title(plain(title), pad=8)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))


def _lanes(positions: list[float], gap: float) -> list[int]:
    """A lane for each marker (positions sorted, as axes fractions) so that markers in one
    lane are at least ``gap`` apart: labels never overlap."""
    last: list[float] = []
    lanes = []
    for x in positions:
        for lane, previous in enumerate(last):
            if x - previous >= gap:
                last[lane] = x
                lanes.append(lane)
                break
        else:
            last.append(x)
            lanes.append(len(last) - 1)
    return lanes


def mark_events(ax: Axes, events: pd.DataFrame) -> list[str]:
    """Mark each legal event with a line and a numbered tag above the plot; return the key.

    Tags are stacked in lanes so that none overlaps another, however close the events;
    the key (``"1  25 May 2020  charge"``) says which event each number is. Line and tag
    colours are the event's direction (:data:`DIRECTION_COLOURS`).
    """
    rows = events.sort_values("date").to_dict("records")
    if not rows:
        return []
    lo, hi = ax.get_xlim()
    span = (hi - lo) or 1.0
    xs = [(mdates.date2num(pd.Timestamp(r["date"])) - lo) / span for r in rows]
    lanes = _lanes(xs, gap=0.028)
    key = []
    for i, (rec, x, lane) in enumerate(zip(rows, xs, lanes, strict=True), start=1):
        colour = DIRECTION_COLOURS.get(rec.get("direction", "neutral"), "#4d4d4d")
        ax.axvline(rec["date"], color=colour, lw=0.9, alpha=0.8)
        ax.annotate(
            str(i),
            (x, 1.0),
            xycoords="axes fraction",
            xytext=(0, 3 + 11 * lane),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
            color="white",
            bbox={"boxstyle": "circle,pad=0.2", "fc": colour, "ec": "none"},
            annotation_clip=False,
        )
        when = pd.Timestamp(rec["date"]).strftime("%-d %b %Y")
        key.append(f"{i}  {when}  {plain(str(rec['event_type']).replace('_', ' '))}")
    ax.set_title(ax.get_title(), pad=8 + 11 * (max(lanes) + 1))  # the title clears the tags
    return key


def _unescaped(text: str) -> str:
    return text.replace(r"\$", "$").strip()


def _axis_words(ax: Axes) -> str:
    """``"<y label> against <x label> (<first day> to <last day>)"`` for one panel."""
    y, x = _unescaped(ax.get_ylabel()), _unescaped(ax.get_xlabel())
    if isinstance(
        ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter | mdates.DateFormatter
    ):
        lo, hi = (mdates.num2date(v) for v in ax.get_xlim())
        x = f"{x or 'date'}, {lo:%-d %b %Y} to {hi:%-d %b %Y}"
    if y and x:
        return f"{y} against {x}"
    return y or x


def _peak_words(ax: Axes) -> str:
    """``"; highest 1,878,889 on 8 Jun 2020"`` for a panel whose first line is a daily
    series on a calendar axis (what a reader sees first in such a figure), else ``""``."""
    if not isinstance(
        ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter | mdates.DateFormatter
    ):
        return ""
    lines = ax.get_lines()
    if not lines:
        return ""
    x = np.asarray(lines[0].get_xdata())
    y = np.asarray(lines[0].get_ydata(), dtype=float)
    if len(y) < 2 or not np.isfinite(y).any():
        return ""
    i = int(np.nanargmax(y))
    when = pd.Timestamp(mdates.num2date(x[i]) if isinstance(x[i], float | int) else x[i])
    value = f"{y[i]:,.0f}" if abs(y[i]) >= 100 else f"{y[i]:.3g}"
    return f"; highest {value} on {when:%-d %b %Y}"


def describe(fig: Figure) -> str:
    """The figure in words, for the ``alt`` text of its image in a report.

    Built from what the figure shows: its title (or its first panel's), then for each
    panel its title, what is plotted against what (with the date range on calendar
    axes), and its legend entries, which for a time series include the numbered key of
    the legal events. Assumes the conventions of :mod:`analysis.plots` (every figure
    titled, axes labelled with units).
    """
    suptitle = getattr(fig, "_suptitle", None)
    main = _unescaped(suptitle.get_text()) if suptitle is not None else ""
    parts = []
    for ax in fig.get_axes():
        if not ax.get_visible() or not (ax.has_data() or ax.get_title()):
            continue
        title = _unescaped(ax.get_title()) or _unescaped(ax.get_title("left"))
        if not main:
            main, title = title, ""
        words = _axis_words(ax) + _peak_words(ax)
        legend = ax.get_legend()
        shown = (
            [" ".join(_unescaped(t.get_text()).split()) for t in legend.get_texts()]
            if legend
            else []
        )
        text = f"{title}: {words}" if title else words
        if shown:
            text += "; shows " + ", ".join(s for s in shown if s).replace(":, ", ": ")
        if text:
            parts.append(text)
    head = f"Figure: {main}." if main else "Figure."
    return " ".join([head, *(p.rstrip(".") + "." for p in parts)])
