"""Figures. Each helper draws on ``ax`` (a new figure when ``None``) and returns the Axes.

Every figure has a title, labelled axes with units, legal events marked on time series,
and its uncertainty drawn (bands or error bars). Plots never fit models: they draw
results computed elsewhere.
"""

from __future__ import annotations

from typing import Any, cast

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullFormatter

from .figure_axes import (
    DIRECTION_COLOURS,
    _date_axes,
    _fit_scale,
    describe,
    mark_events,
    plain,
)

__all__ = [
    "DIRECTION_COLOURS",
    "LABEL_COLOURS",
    "coefficients",
    "counterfactual",
    "cross_correlation",
    "describe",
    "event_time_curves",
    "label_counts",
    "mark_events",
    "plain",
    "ratios",
    "report_style",
    "series_panels",
    "series_with_events",
    "show",
    "timeline",
]

LABEL_COLOURS = {
    "preceded": "#2166ac",
    "followed": "#d6604d",
    "both": "#762a83",
    "neither": "#878787",
    "insufficient data": "#d9d9d9",
}


def report_style() -> None:
    """Figures as the reports show them: SVG (sharp at any zoom, text stays text) in
    notebooks and their HTML, the whole constrained-layout canvas (not re-cropped), and
    fonts a little smaller than matplotlib's default."""
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        # Every figure here is laid out by matplotlib's constrained layout, which already
        # fits titles, labels and outside legends into the canvas: the inline backend's
        # default bbox_inches="tight" would lay the figure out and draw it once more
        # only to crop a few pixels of margin (0.1 s a figure).
        set_matplotlib_formats("svg", bbox_inches=None)
    except ImportError:  # outside Jupyter: nothing to set
        pass
    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "figure.dpi": 100})


def show() -> None:
    """Display every open figure in the notebook with its description, then close it.

    Use it where ``plt.show()`` would go. Each image carries :func:`describe`'s words as
    metadata (``{"image/svg+xml": {"alt": ...}}``), which the reports turn into the
    image's ``alt`` text for readers who cannot see it. Outside Jupyter it shows the
    figures as ``plt.show()`` would.
    """
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with the notebooks' tools
        plt.show()
        return
    if get_ipython() is None:
        plt.show()
        return
    for number in plt.get_fignums():
        fig = plt.figure(number)
        alt = describe(fig)
        display(fig, metadata={"image/svg+xml": {"alt": alt}, "image/png": {"alt": alt}})  # type: ignore[no-untyped-call]
        plt.close(fig)


def _ax(ax: Axes | None, size: tuple[float, float] = (10, 4)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def series_with_events(
    series: pd.Series,
    events: pd.DataFrame,
    *,
    unit: str = "posts per day",
    title: str = "",
    onset: tuple[Any, ...] | None = None,
    log: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """A daily series with every legal event marked and labelled.

    Parameters
    ----------
    series : pandas.Series
        Daily values (NaN = unobserved: drawn as a break, never as zero).
    events : pandas.DataFrame
        ``date``, ``event_type`` and ``direction`` of the events to mark.
    unit : str
        Unit of the y axis.
    onset : tuple, optional
        ``(onset, low, high)`` dates: a dashed line and a shaded bootstrap band.
    log : bool
        Log y scale (activity spans orders of magnitude).
    """
    ax = _ax(ax, (11, 4.2))
    values = series.to_numpy(dtype=float)
    ax.plot(series.index, values, color="#08519c", lw=1.2, label="activity")
    if onset is not None and onset[0] is not None and not pd.isna(onset[0]):
        ax.axvline(onset[0], color="black", ls="--", lw=1, label="onset of the series")
        if onset[1] is not None and not pd.isna(onset[1]):
            ax.axvspan(
                onset[1],
                onset[2] + pd.Timedelta(days=1),
                color="grey",
                alpha=0.25,
                label="onset 95% band",
            )
    _date_axes(ax, unit, title or f"{series.name}: daily activity with legal events", log, values)
    ax.set_xlim(series.index.min(), series.index.max())
    key = mark_events(ax, events)
    handles, labels = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color=c, lw=1) for c in DIRECTION_COLOURS.values()]
    labels += [f"{d} event" for d in DIRECTION_COLOURS]
    if key:  # the numbered events, in the legend beside the plot (never over the data)
        handles += [Line2D([], [], lw=0)] * (len(key) + 1)
        labels += ["legal events:", *key]
    ax.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=7.5,
        frameon=False,
        handlelength=1.5,
    )
    return ax


def event_time_curves(
    curves: pd.DataFrame, *, title: str = "", unit: str = "", ax: Axes | None = None
) -> Axes:
    """Mean activity in event time with its bootstrap band, one line per group."""
    ax = _ax(ax, (8, 4))
    for group, g in curves.groupby("group", sort=False):
        line = ax.plot(
            g["tau"],
            g["mean"],
            lw=1.5,
            label=f"{plain(group)} (n={int(g['n_cases'].iloc[0])} cases)",
        )[0]
        ax.fill_between(g["tau"], g["conf_low"], g["conf_high"], color=line.get_color(), alpha=0.2)
    ax.axvline(0, color="black", lw=1)
    ax.axhline(0, color="grey", lw=0.8, ls=":")
    norm = curves["normalisation"].iloc[0] if len(curves) else ""
    ax.set_xlabel("days relative to the legal event (τ; 0 = event day)")
    ax.set_ylabel(
        plain(unit)
        or ("activity (baseline standard deviations)" if norm == "zscore" else f"activity ({norm})")
    )
    ax.set_title(plain(title) or "Activity around legal events (mean, 95% case-bootstrap band)")
    ax.legend(fontsize=8)
    return ax


def coefficients(
    tidy: pd.DataFrame, *, x: str = "tau", title: str = "", ylabel: str = "", ax: Axes | None = None
) -> Axes:
    """Point estimates with confidence intervals (e.g. leads-and-lags coefficients)."""
    ax = _ax(ax, (8, 4))
    err = np.vstack([tidy["estimate"] - tidy["conf_low"], tidy["conf_high"] - tidy["estimate"]])
    colours = np.where(tidy[x] < 0, "#2166ac", "#d6604d")
    for xi, yi, e0, e1, c in zip(tidy[x], tidy["estimate"], err[0], err[1], colours, strict=True):
        ax.errorbar(xi, yi, yerr=[[e0], [e1]], fmt="o", color=c, ms=4, capsize=2)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(-0.5, color="black", lw=1, ls="--")
    ax.set_xlabel("days relative to the legal event (τ)")
    ax.set_ylabel(plain(ylabel) or "difference from baseline (baseline SD), 95% CI")
    ax.set_title(plain(title) or "Leads and lags: activity before (blue) and after (red) the event")
    return ax


def cross_correlation(ccf: pd.DataFrame, *, title: str = "", ax: Axes | None = None) -> Axes:
    """Cross-correlation by lag with the band for no correlation (valid for the
    prewhitened series :func:`analysis.causality.cross_correlation` returns)."""
    ax = _ax(ax, (8, 3.5))
    ax.vlines(ccf["lag"], 0, ccf["ccf"], color="#08519c")
    ax.plot(ccf["lag"], ccf["ccf"], "o", color="#08519c", ms=3)
    band = float(ccf["band"].iloc[0])
    ax.axhspan(-band, band, color="grey", alpha=0.25, label="95% band for no correlation")
    ax.set_xlim(float(ccf["lag"].min()) - 1, float(ccf["lag"].max()) + 1)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("lag in days (negative: activity moves first)")
    ax.set_ylabel("correlation (prewhitened series)")
    ax.set_title(plain(title) or "Cross-correlation")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return ax


def _ratio_panel(ax: Axes, pointwise: pd.DataFrame, prefix: str) -> None:
    """Observed ÷ forecast and its 95 % band on a log axis, with the line of no change."""
    mid, low, high = (pointwise[f"{prefix}{c}"] for c in ("", "_low", "_high"))
    ax.plot(pointwise["date"], mid, color="#2d004b", lw=1.2)
    ax.fill_between(pointwise["date"], low, high, color="#2d004b", alpha=0.15)
    ax.axhline(1, color="grey", lw=0.8, ls=":")
    values = np.concatenate([np.asarray(v, dtype=float) for v in (mid, low, high)])
    _fit_scale(ax, np.append(values, 1.0), log=True)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}×"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def counterfactual(
    series: pd.Series,
    pointwise: pd.DataFrame,
    event_date: pd.Timestamp,
    *,
    unit: str = "posts per day",
    title: str = "",
) -> list[Axes]:
    """CausalImpact's three panels on the ratio scale the model works on: observed against
    the forecast without the event, observed ÷ forecast on each day, and observed ÷
    forecast summed from the event day, each with its 95 % interval, on log axes.

    ``pointwise`` is :attr:`analysis.its.ImpactResult.pointwise`; its ``ratio`` and
    ``cum_ratio`` columns come from the same simulated paths as the interval the report
    quotes (the last day of the bottom panel is exactly the cumulative ratio). A log
    model's forecast band is wide upwards: on a linear axis it squeezed the data into a
    sliver, on log axes both stay readable.
    """
    fig, axes = plt.subplots(3, 1, figsize=(10, 7), sharex=True, layout="constrained")
    top, daily, total = axes
    observed = series.to_numpy(dtype=float)
    top.plot(series.index, observed, color="#08519c", lw=1.2, label="observed")
    top.plot(
        pointwise["date"],
        pointwise["predicted"],
        color="#d6604d",
        lw=1.2,
        ls="--",
        label="forecast without the event",
    )
    top.fill_between(
        pointwise["date"],
        pointwise["pred_low"],
        pointwise["pred_high"],
        color="#d6604d",
        alpha=0.2,
        label="95% forecast interval",
    )
    shown = np.concatenate(
        [observed, *(pointwise[c].to_numpy(dtype=float) for c in ("pred_low", "pred_high"))]
    )
    _fit_scale(top, shown, log=True)
    top.set_ylabel(plain(unit) + " (log scale)", fontsize=8)
    top.set_title("observed and forecast", fontsize=9, loc="left")
    _ratio_panel(daily, pointwise, "ratio")
    daily.set_ylabel("observed ÷ forecast", fontsize=8)
    daily.set_title("observed ÷ forecast on each day", fontsize=9, loc="left")
    if "cum_ratio" in pointwise:
        _ratio_panel(total, pointwise, "cum_ratio")
    total.set_ylabel("running ratio", fontsize=8)
    total.set_title("observed ÷ forecast, summed from the event day", fontsize=9, loc="left")
    total.set_xlabel("date (UTC day)")
    total.xaxis.set_major_formatter(mdates.ConciseDateFormatter(total.xaxis.get_major_locator()))
    for ax in axes:
        # matplotlib's date converter takes a Timestamp where its stub says float
        ax.axvline(cast(float, event_date), color="black", lw=1)
    top.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.suptitle(plain(title) or "Activity after the event against its forecast")
    return list(axes)


def series_panels(
    panels: dict[str, tuple[pd.Series, str]],
    events: pd.DataFrame,
    *,
    title: str = "",
    log: bool = True,
) -> list[Axes]:
    """Every series of a case, one panel each on a shared date axis, events marked.

    Parameters
    ----------
    panels : dict
        Label → ``(daily series, unit)``; NaN days are unobserved (drawn as breaks).
    events : pandas.DataFrame
        ``date`` and ``direction`` of the legal events to mark on every panel.
    title : str
        Title over the panels.
    log : bool
        Log y scales (symlog from 0; activity spans orders of magnitude).

    Returns
    -------
    list of matplotlib Axes
        One per series, in the order given.
    """
    n = max(len(panels), 1)
    fig, axes = plt.subplots(n, 1, figsize=(10, 2.2 * n + 0.8), sharex=True, layout="constrained")
    axes = list(np.atleast_1d(axes))
    for ax, (label, (series, unit)) in zip(axes, panels.items(), strict=False):
        ax.plot(series.index, series.to_numpy(dtype=float), color="#08519c", lw=1.1)
        for rec in events.to_dict("records"):
            colour = DIRECTION_COLOURS.get(rec.get("direction", "neutral"), "#4d4d4d")
            ax.axvline(rec["date"], color=colour, lw=0.8, alpha=0.7)
        _fit_scale(ax, series.to_numpy(dtype=float), log)
        ax.set_ylabel(plain(unit) + (" (log)" if log else ""), fontsize=8)
        ax.set_title(plain(label), fontsize=9, loc="left")
    axes[-1].set_xlabel("date (UTC day)")
    axes[-1].xaxis.set_major_formatter(
        mdates.ConciseDateFormatter(axes[-1].xaxis.get_major_locator())
    )
    handles = [Line2D([], [], color=c, lw=1) for c in DIRECTION_COLOURS.values()]
    fig.legend(
        handles,
        [f"{d} event" for d in DIRECTION_COLOURS],
        loc="outside lower center",
        ncols=3,
        fontsize=8,
    )
    fig.suptitle(plain(title) or "Every series of the case, with its legal events")
    return axes


def timeline(
    cases: pd.DataFrame,
    events: pd.DataFrame,
    coverage: pd.DataFrame,
    links: pd.DataFrame,
    *,
    ax: Axes | None = None,
) -> Axes:
    """One row per case: observed spans of its series (bars) and its events (markers)."""
    order = list(cases.sort_values("case_id")["case_id"])
    ax = _ax(ax, (10, 0.28 * len(order) + 1.5))
    ypos = {c: i for i, c in enumerate(order)}
    spans = links.merge(coverage, on="campaign_id")
    for rec in spans.to_dict("records"):
        y = ypos[rec["case_id"]]
        ax.plot(
            [rec["first_day"], rec["last_day"]],
            [y, y],
            color="#c6dbef",
            lw=6,
            solid_capstyle="butt",
        )
    for direction, colour in DIRECTION_COLOURS.items():
        sel = events[events["direction"] == direction]
        marker = np.where(sel["date_precision"] == "day", "o", "s")
        for m in ("o", "s"):
            part = sel[marker == m]
            ax.scatter(
                part["date"],
                part["case_id"].map(ypos),
                color=colour,
                s=14,
                marker=m,
                zorder=3,
                label=f"{direction}{' (month/year only)' if m == 's' else ''}",
            )
    ax.set_yticks(range(len(order)), order, fontsize=7)
    ax.set_xlabel("date")
    ax.set_ylabel("case")
    ax.set_title("Every case: observed activity (bars) and legal events (markers)")
    ax.legend(fontsize=7, loc="lower left", ncols=3)
    return ax


def ratios(tidy: pd.DataFrame, ratio: str, *, title: str = "", ax: Axes | None = None) -> Axes:
    """Forest plot of odds or hazard ratios with 95% intervals (log axis)."""
    ax = _ax(ax, (7, 0.4 * len(tidy) + 1.5))
    y = np.arange(len(tidy))[::-1]
    ax.errorbar(
        tidy[ratio],
        y,
        xerr=[tidy[ratio] - tidy[f"{ratio}_low"], tidy[f"{ratio}_high"] - tidy[ratio]],
        fmt="o",
        color="#08519c",
        capsize=2,
    )
    ax.axvline(1, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(y, [plain(t) for t in tidy["term"]])
    ax.set_xlabel(f"{ratio.replace('_', ' ')} (log scale), 95% CI")
    ax.set_title(plain(title) or ratio.replace("_", " "))
    return ax


def label_counts(counts: pd.DataFrame, *, title: str = "", ax: Axes | None = None) -> Axes:
    """Bar chart of timing labels (number of event–series pairs)."""
    ax = _ax(ax, (7, 3))
    ax.bar(
        counts["label"],
        counts["n"],
        color=[LABEL_COLOURS.get(lbl, "grey") for lbl in counts["label"]],
    )
    ax.set_ylabel("event–series pairs (count)")
    ax.set_xlabel("timing label")
    ax.set_title(plain(title) or "Did activity rise before or after each legal event?")
    return ax
