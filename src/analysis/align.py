"""Align legal events with activity series: daily series, event-time windows, panels.

Everything here works on whole studies at once (vectorised over series and events):

- :class:`SeriesBank` holds every series on a continuous daily grid from its first to
  its last observed day; unobserved days are NaN, never zero.
- :func:`event_windows` cuts the window τ = −before … +after days around each
  day-precision legal event, for every series linked to the event's case. Events known
  only to the month or year, and events whose case has no series, are left out and
  listed in ``excluded`` with the reason — never dropped silently.
- :func:`normalise_activity` and :func:`normalise_windows` put series on a comparable
  scale (log1p, share of the series maximum, z-score on a baseline).
- :func:`case_panel` is the case × day panel: each case's linked series with the daily
  count of that case's legal events.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from ._numeric import quiet
from .study import Study

__all__ = [
    "INCIDENT",
    "NORMALISATIONS",
    "EventWindows",
    "SeriesBank",
    "case_panel",
    "day_events",
    "event_windows",
    "normalise_activity",
    "normalise_windows",
]

Normalisation = Literal["none", "log1p", "share_of_max", "zscore"]
NORMALISATIONS: tuple[str, ...] = ("none", "log1p", "share_of_max", "zscore")
#: ``event_type`` given to a case's triggering incident (``cases.start_date``).
INCIDENT = "incident"


@dataclass(frozen=True)
class SeriesBank:
    """Every activity series on a continuous daily grid, concatenated in one array.

    Attributes
    ----------
    ids : numpy.ndarray
        Campaign ids, in bank order.
    start : numpy.ndarray
        First observed day of each series (``datetime64[D]``).
    length : numpy.ndarray
        Days from first to last observed day, inclusive.
    offset : numpy.ndarray
        Position of each series' first day in ``values``.
    values : numpy.ndarray
        All series one after the other; NaN marks an unobserved day.
    """

    ids: np.ndarray
    start: np.ndarray
    length: np.ndarray
    offset: np.ndarray
    values: np.ndarray

    @classmethod
    def from_activity(cls, activity: pd.DataFrame) -> SeriesBank:
        """Build the bank from ``campaign_activity`` rows (any order)."""
        obs = activity.loc[activity["value"].notna(), ["campaign_id", "date", "value"]]
        obs = obs.sort_values(["campaign_id", "date"], kind="stable")
        if obs.empty:
            empty = np.array([], dtype=np.int64)
            return cls(
                np.array([], dtype=object),
                np.array([], dtype="datetime64[D]"),
                empty,
                empty,
                np.array([]),
            )
        codes, ids = pd.factorize(obs["campaign_id"], sort=True)
        day = obs["date"].to_numpy().astype("datetime64[D]")
        first = pd.Series(day).groupby(codes).min().to_numpy().astype("datetime64[D]")
        last = pd.Series(day).groupby(codes).max().to_numpy().astype("datetime64[D]")
        length = (last - first).astype(np.int64) + 1
        offset = np.concatenate([[0], np.cumsum(length)[:-1]])
        values = np.full(int(length.sum()), np.nan)
        pos = offset[codes] + (day - first[codes]).astype(np.int64)
        values[pos] = obs["value"].to_numpy(dtype="float64")
        return cls(np.asarray(ids, dtype=object), first, length, offset, values)

    @functools.cached_property
    def _positions(self) -> dict[str, int]:
        return {cid: i for i, cid in enumerate(self.ids)}

    def index_of(self, campaign_ids: Sequence[str] | np.ndarray) -> np.ndarray:
        """Bank positions of the given campaign ids (−1 for a series with no observed day)."""
        lookup = self._positions  # built once per bank (a lookup per series is common)
        return np.array([lookup.get(c, -1) for c in campaign_ids], dtype=np.int64)

    def series(self, campaign_id: str) -> pd.Series:
        """One series as a daily ``pandas.Series`` (NaN = unobserved day)."""
        i = int(self.index_of([campaign_id])[0])
        if i < 0:
            return pd.Series(dtype="float64", name=campaign_id)
        days = pd.date_range(pd.Timestamp(self.start[i]), periods=int(self.length[i]), freq="D")
        vals = self.values[self.offset[i] : self.offset[i] + self.length[i]]
        return pd.Series(vals, index=days, name=campaign_id)

    def gather(self, series_idx: np.ndarray, dates: np.ndarray, taus: np.ndarray) -> np.ndarray:
        """Values of series ``series_idx[r]`` on day ``dates[r] + taus[j]`` (NaN outside).

        Returns an array of shape ``(len(series_idx), len(taus))``.
        """
        series_idx = np.asarray(series_idx, dtype=np.int64)
        rel = (np.asarray(dates).astype("datetime64[D]") - self.start[series_idx]).astype(np.int64)
        pos = rel[:, None] + np.asarray(taus, dtype=np.int64)[None, :]
        inside = (pos >= 0) & (pos < self.length[series_idx][:, None]) & (series_idx[:, None] >= 0)
        flat = np.where(inside, self.offset[series_idx][:, None] + pos, 0)
        out = self.values[flat] if len(self.values) else np.full(pos.shape, np.nan)
        return np.where(inside, out, np.nan)

    def to_frame(self) -> pd.DataFrame:
        """Long frame ``campaign_id``, ``date``, ``value`` on the full daily grid."""
        codes = np.repeat(np.arange(len(self.ids)), self.length)
        within = np.arange(len(self.values)) - np.repeat(self.offset, self.length)
        dates = np.repeat(self.start, self.length) + within.astype("timedelta64[D]")
        return pd.DataFrame(
            {
                "campaign_id": pd.Series(self.ids[codes], dtype="str"),
                "date": dates.astype("datetime64[ns]"),
                "value": self.values,
            }
        )


@dataclass(frozen=True)
class EventWindows:
    """Activity around each (event, series) pair in event time.

    Attributes
    ----------
    rows : pandas.DataFrame
        One row per (event, linked series): ``event_id``, ``case_id``, ``campaign_id``,
        ``event_type``, ``direction``, ``date``, ``stance``.
    tau : numpy.ndarray
        Event-time offsets in days (τ = 0 is the event day).
    values : numpy.ndarray
        Shape ``(len(rows), len(tau))``; NaN where the day was not observed or lies
        outside the series.
    excluded : pandas.DataFrame
        Events left out, with ``event_id``, ``case_id``, ``date_precision`` and ``reason``.
    normalisation : str
        How ``values`` were scaled.
    """

    rows: pd.DataFrame
    tau: np.ndarray
    values: np.ndarray
    excluded: pd.DataFrame
    normalisation: str = "none"
    assumptions: dict[str, Any] = field(default_factory=dict[str, Any])

    def long(self) -> pd.DataFrame:
        """Tidy long frame: one row per (event, series, τ) with ``day`` and ``value``."""
        n, m = self.values.shape
        out = self.rows.loc[self.rows.index.repeat(m)].reset_index(drop=True)
        out["tau"] = np.tile(self.tau, n)
        out["day"] = out["date"] + pd.to_timedelta(out["tau"], unit="D")
        out["value"] = self.values.ravel()
        return out

    def columns(self, lo: int, hi: int) -> np.ndarray:
        """Boolean mask of the τ columns in ``[lo, hi]``."""
        return (self.tau >= lo) & (self.tau <= hi)


#: The contract's required columns of ``legal_events`` (``schema.REQUIRED``; a test keeps
#: the two equal): named here so the studies never import the validation code.
EVENT_COLUMNS: tuple[str, ...] = (
    "case_id",
    "date",
    "date_precision",
    "event_type",
    "direction",
    "source_url",
)


def day_events(
    study: Study, *, include_incidents: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split legal events into day-precision ones and those excluded from day-level studies.

    Parameters
    ----------
    study : Study
    include_incidents : bool
        Also return each case's triggering incident (the optional ``start_date``
        column of ``cases``, when it is a ``YYYY-MM-DD`` day) as an event of type
        ``incident`` with direction ``neutral``. Incidents are context, not legal
        events: every result marks them in its ``event_type`` column. An incident on
        the day of a listed event of the same case is not added (it is that event).

    Returns
    -------
    (events, excluded) : tuple of pandas.DataFrame
        ``excluded`` lists ``event_id``, ``case_id``, ``date_precision`` and ``reason``.
    """
    ev = study.legal_events
    is_day = ev["date_precision"] == "day"
    excluded = ev.loc[~is_day, ["event_id", "case_id", "date_precision"]].copy()
    excluded["reason"] = "date known only to the " + excluded["date_precision"]
    # the contract's columns only: a user's extra column never meets a join below
    events = ev.loc[is_day, ["event_id", *EVENT_COLUMNS]]
    if include_incidents and "start_date" in study.cases:
        start = pd.to_datetime(study.cases["start_date"], errors="coerce")
        inc = pd.DataFrame(
            {
                "case_id": study.cases["case_id"],
                "date": start.astype("datetime64[ns]"),
                "date_precision": "day",
                "event_type": INCIDENT,
                "direction": "neutral",
                "source_url": None,
            }
        )[start.notna()]
        # an incident on the day of a listed event of the same case is that event
        same_day = pd.MultiIndex.from_frame(inc[["case_id", "date"]]).isin(
            pd.MultiIndex.from_frame(events[["case_id", "date"]])
        )
        inc = inc[~same_day]
        inc.insert(
            0,
            "event_id",
            inc["case_id"] + ":" + inc["date"].dt.strftime("%Y-%m-%d") + ":" + INCIDENT,
        )
        events = pd.concat([inc, events], ignore_index=True).sort_values(
            ["case_id", "date"], kind="stable"
        )
    return events.reset_index(drop=True), excluded.reset_index(drop=True)


def event_windows(
    study: Study,
    before: int = 42,
    after: int = 14,
    *,
    event_types: Sequence[str] | None = None,
    include_incidents: bool = False,
    bank: SeriesBank | None = None,
) -> EventWindows:
    """Cut τ = −before … +after days of every linked series around every day-precision event.

    Parameters
    ----------
    study : Study
    before, after : int
        Days before and after the event day to keep.
    event_types : sequence of str, optional
        Keep only these event types (others are not listed as excluded).
    include_incidents : bool
        Add each case's triggering incident (see :func:`day_events`).
    bank : SeriesBank, optional
        Reuse a bank built from ``study.activity``.

    Returns
    -------
    EventWindows
        Raw values (use :func:`normalise_windows` to rescale). Events of month or year
        precision and events of cases without any linked series are in ``excluded``.
    """
    bank = bank or SeriesBank.from_activity(study.activity)
    events, excluded = day_events(study, include_incidents=include_incidents)
    if event_types is not None:
        events = events[events["event_type"].isin(list(event_types))]
        excluded = excluded[
            excluded["event_id"].isin(
                study.legal_events.loc[
                    study.legal_events["event_type"].isin(list(event_types)), "event_id"
                ]
            )
        ]
    links = study.case_campaigns()
    rows = events.merge(links, on="case_id", how="left")
    no_series = rows["campaign_id"].isna()
    if no_series.any():
        extra = rows.loc[no_series, ["event_id", "case_id"]].assign(
            date_precision="day", reason="the case has no activity series"
        )
        excluded = pd.concat([excluded, extra], ignore_index=True)
    rows = rows.loc[~no_series]
    stance = study.campaigns.set_index("campaign_id")["stance"]
    rows = rows.assign(stance=rows["campaign_id"].map(stance))
    keep = ["event_id", "case_id", "campaign_id", "event_type", "direction", "date", "stance"]
    rows = rows[keep].reset_index(drop=True)
    tau = np.arange(-before, after + 1)
    idx = bank.index_of(rows["campaign_id"].to_numpy())
    values = (
        bank.gather(idx, rows["date"].to_numpy(), tau) if len(rows) else np.empty((0, len(tau)))
    )
    return EventWindows(
        rows=rows,
        tau=tau,
        values=values,
        excluded=excluded.reset_index(drop=True),
        assumptions={
            "before": before,
            "after": after,
            "event_types": list(event_types or []),
            "include_incidents": include_incidents,
        },
    )


def normalise_windows(
    windows: EventWindows, method: Normalisation = "zscore", baseline: tuple[int, int] = (-42, -15)
) -> EventWindows:
    """Rescale each window row on its own.

    ``zscore``: subtract the row's mean over the baseline τ range and divide by its
    standard deviation there (rows with fewer than 3 observed baseline days, or zero
    spread, become NaN). ``log1p``: ``log(1 + value)``. ``share_of_max``: value divided
    by the row's maximum. ``none``: unchanged.
    """
    v = windows.values
    if method == "none":
        out = v.copy()
    elif method == "log1p":
        out = np.log1p(v)
    elif method == "share_of_max":
        with np.errstate(invalid="ignore", divide="ignore"):
            top = np.nanmax(np.where(np.isnan(v), -np.inf, v), axis=1, keepdims=True)
            out = np.where(top > 0, v / top, np.nan)
    elif method == "zscore":
        mask = windows.columns(*baseline)
        base = v[:, mask]
        n = np.sum(~np.isnan(base), axis=1, keepdims=True)
        with quiet():  # rows with < 2 baseline days give NaN, as documented
            mu = np.nanmean(np.where(n >= 1, base, 0.0), axis=1, keepdims=True)
            sd = (
                np.nanstd(base, axis=1, ddof=1, keepdims=True)
                if base.shape[1] > 1
                else np.full_like(mu, np.nan)
            )
            out = np.where((n >= 3) & (sd > 0), (v - mu) / sd, np.nan)
    else:
        raise ValueError(f"unknown normalisation {method!r}; expected one of {NORMALISATIONS}")
    assumptions = {**windows.assumptions, "normalisation": method}
    if method == "zscore":
        assumptions["zscore_baseline_tau"] = list(baseline)
    return EventWindows(windows.rows, windows.tau, out, windows.excluded, method, assumptions)


def normalise_activity(
    activity: pd.DataFrame,
    method: Normalisation = "zscore",
    baseline_end: pd.Series | dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Rescale each series of ``campaign_activity`` on its own.

    Parameters
    ----------
    activity : pandas.DataFrame
    method : {"none", "log1p", "share_of_max", "zscore"}
        ``zscore`` uses the mean and standard deviation of the series' observed days
        before ``baseline_end[campaign_id]`` (all observed days when not given).
    baseline_end : mapping, optional
        Per campaign, the first day *not* in the baseline.

    Returns
    -------
    pandas.DataFrame
        A copy with ``value`` rescaled (NaN stays NaN).
    """
    out = activity.copy()
    v = out["value"]
    g = out["campaign_id"]
    if method == "none":
        return out
    if method == "log1p":
        out["value"] = np.log1p(v)
    elif method == "share_of_max":
        out["value"] = v / v.groupby(g).transform("max")
    elif method == "zscore":
        in_base = pd.Series(True, index=out.index)
        if baseline_end is not None:
            ends = g.map(pd.Series(baseline_end))
            in_base = ends.isna() | (out["date"] < ends)
        base = v.where(in_base)
        out["value"] = (v - base.groupby(g).transform("mean")) / base.groupby(g).transform("std")
    else:
        raise ValueError(f"unknown normalisation {method!r}; expected one of {NORMALISATIONS}")
    return out


def case_panel(study: Study, bank: SeriesBank | None = None) -> pd.DataFrame:
    """The case × day panel over each linked series' observed span.

    Returns
    -------
    pandas.DataFrame
        ``case_id``, ``campaign_id``, ``date``, ``value`` (NaN = unobserved),
        ``n_events`` (day-precision legal events of that case that day) and
        ``event_types`` (``;``-joined, empty when none).
    """
    bank = bank or SeriesBank.from_activity(study.activity)
    grid = bank.to_frame()
    links = study.case_campaigns()
    panel = links.merge(grid, on="campaign_id", how="inner")
    events, _ = day_events(study)
    per_day = events.groupby(["case_id", "date"]).agg(
        n_events=("event_id", "size"), event_types=("event_type", lambda s: ";".join(sorted(s)))
    )
    panel = panel.merge(per_day.reset_index(), on=["case_id", "date"], how="left")
    panel["n_events"] = panel["n_events"].fillna(0).astype(int)
    panel["event_types"] = panel["event_types"].fillna("")
    return panel.sort_values(["case_id", "campaign_id", "date"]).reset_index(drop=True)
