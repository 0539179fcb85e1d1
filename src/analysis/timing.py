"""Did online pressure rise before each legal event, only after it, both, or neither?

Two studies, each a function from a :class:`~analysis.study.Study`-like study to a tidy
result:

:func:`timing_table` — one row per (event, linked series) with every number behind its
label (**rule v2**). For an event on day τ = 0 of a case, on one daily series:

=============  =====================================================================
window         days
=============  =====================================================================
run-up ``R``   since the case's incident or previous legal event, whichever is later,
               when that lies ``min_runup`` … ``max_runup`` days before (at least
               ``min_runup`` days); else the fixed τ = −k … −1
baseline ``B`` the ``b`` days before the run-up, moved back before any earlier date of
               the same case that falls in it (so for an early event it is the case's
               own *pre-incident* level); if that would end more than
               ``max_baseline_gap`` days before the run-up it stays put, flagged
short ``S``    τ = 0 … s − 1: the event day and the next days (a verdict's spike)
long ``L``     τ = 0 … k − 1
=============  =====================================================================

Three log ratios of window means (each mean plus ``offset``): ``lr_pre_base`` (R over
B: did activity rise before?), ``lr_short_pre`` and ``lr_post_pre`` (S and L over R: did
it rise on or after the event?).

**Calibration on the series itself.** Each ratio is also computed, with the same window
geometry, at every *comparison date* of the same series: days whose windows hold no
event or incident of any case on that series and are observed enough, within
``local_days`` of the event (or anywhere in the series when there are fewer than
``min_placebo`` such days nearby). This is the series' own variation — weekly cycles,
autocorrelation, news that no case records — with no model assumed. ``*_p`` is the
share of comparison dates with a ratio at least as large (a one-sided randomisation
p-value) and ``*_cut`` the quantile the event must beat. A short series with too few
comparison dates for the smallest test size uses a heavy-tailed (t₂) fit to them
instead (t₂), marked in ``placebo_kind``.

**The rule.** Activity *rose before* ⇔ ``lr_pre_base`` > log ``threshold`` and its
``p`` ≤ α/2 (α = 1 − ``level``); *rose after* ⇔ the same for the short or the long
aftermath, each at α/4, so a date with no event is given any label but ``neither`` at
most α of the time. ``preceded`` = rose before only, ``followed`` = rose after only,
``both``, ``neither``; an incident (a killing, the arrest that began a campaign) is
labelled from its aftermath alone and is never ``preceded``. ``insufficient data`` when
under ``min_observed`` of a window's days were observed or too few comparison dates
exist. ``benchmarks/calibration.md`` measures the false-label rate out of sample, on
random dates of the real series (:func:`placebo_labels`).

**What else each row says.**

- ``confounded_by``: other cases with an event or incident on the same series from
  ``spill_days`` before the run-up to the end of the long aftermath. Their waves may be
  what the ratios see; ``verdict`` says so (``preceded (shared series: george_floyd)``).
- ``stability_boot``: the share of stationary-bootstrap replicates of the comparison
  dates (Politis & Romano 1994; mean block length by Politis & White 2004 from
  ``arch``, indices drawn by arch's stationary-bootstrap rule for all replicates at
  once) giving the same label; ``stability_spec``: the share of 9 reasonable rules
  (window 10/14/21, threshold 1.25/1.5/2, short window 2/3/5, baseline 21/28/42) giving
  the same label. ``borderline`` when either is under 0.8 (0.67 for choices).
- ``series_scope`` (``case``: only this case uses the series; ``shared``: a movement
  series) and ``preferred``: the row that answers for the event — a case's own series
  first, then one no other case confounds, then the most observed.

A label is timing, not proof of cause.

:func:`onsets` — per (case, series), the campaign onset: the first sustained rise above
the baseline found by exact change-point detection (the penalised optimum PELT finds,
every day a candidate, L2 cost on ``log1p`` counts: :func:`analysis.onset.segment_many`),
with a bootstrap band, and the peak. See :func:`detect_onset` for the penalty rule.

Layout: the arithmetic of one label (windows, ratios, the calibrated decision) is in
:mod:`analysis.timing_math`, onsets in :mod:`analysis.onset`; this module builds the
table. It runs past the house's ~450 lines because a fifth of it is this description of
the rule, which belongs beside the code that applies it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from ._numeric import quiet
from .align import INCIDENT, SeriesBank, day_events
from .onset import (
    Onset,
    detect_onset,
    onsets,
    robust_noise,
)
from .rules import TimingRule
from .study import Study
from .timing_math import (
    ALPHA_SHARES,
    RATIOS,
    TAIL_DF,
    Geometry,
    _bank_arrays,
    _boot_rose,
    _busy,
    _decide,
    _enough,
    _event_and_null,
    _label,
    _labels_many,
    _series_arrays,
    geometry,
    label_rows,
    placebo_needed,
)

__all__ = [
    "ALPHA_SHARES",
    "LABELS",
    "RATIOS",
    "ROW_KEYS",
    "SPEC_CHANGES",
    "TAIL_DF",
    "Geometry",
    "Onset",
    "TimingResult",
    "detect_onset",
    "geometry",
    "label_rows",
    "onsets",
    "placebo_labels",
    "placebo_needed",
    "robust_noise",
    "timing_table",
]

LABELS: tuple[str, ...] = ("preceded", "followed", "both", "neither", "insufficient data")
#: Reasonable alternative rules for the specification stability (one change each).
SPEC_CHANGES: tuple[dict[str, Any], ...] = (
    {"window": 10},
    {"window": 21},
    {"threshold": 1.25},
    {"threshold": 2.0},
    {"short_window": 2},
    {"short_window": 5},
    {"baseline_days": 21},
    {"baseline_days": 42},
)
BOOT_BORDER, SPEC_BORDER = 0.8, 0.67
ROW_KEYS = ["event_id", "case_id", "event_type", "direction", "date", "campaign_id", "stance"]
ROW_KEYS += ["series_scope"]


@dataclass(frozen=True)
class TimingResult:
    """Per-event timing labels with every number behind them.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (event, series); see :func:`timing_table`.
    excluded : pandas.DataFrame
        Events not in ``table`` and why (month/year precision, no series).
    rule : TimingRule
    assumptions : dict
    """

    table: pd.DataFrame
    excluded: pd.DataFrame
    rule: TimingRule
    assumptions: dict[str, Any] = field(default_factory=dict[str, Any])

    def counts(self) -> pd.DataFrame:
        """Number of (event, series) rows per label, with all labels listed."""
        counts = self.table["label"].value_counts().reindex(LABELS, fill_value=0)
        return counts.rename_axis("label").reset_index(name="n")


# --------------------------------------------------------------------------- geometry


# --------------------------------------------------------------------------- the table


def _core(
    rows: pd.DataFrame,
    series: dict[str, tuple[Any, ...]],
    busy: dict[str, np.ndarray],
    case_days: dict[str, list[pd.Timestamp]],
    rule: TimingRule,
    *,
    boot: bool,
    labels_only: bool = False,
) -> pd.DataFrame:
    """Label every row under one rule (the numbers and, if ``boot``, their stability;
    with ``labels_only``, the ``label`` column alone, as the stability's other rules
    need)."""
    out = []
    rng_seed = np.random.SeedSequence(rule.seed)
    seeds = rng_seed.spawn(len(rows)) if boot else [None] * len(rows)
    for rec, seed in zip(rows.to_dict("records"), seeds, strict=True):
        day = pd.Timestamp(rec["date"])
        g = geometry(day, case_days.get(rec["case_id"], []), rule)
        start, n, csum, ccount = series[rec["campaign_id"]]
        t = (day - start).days
        lr, means, counts, null, kind = _event_and_null(
            csum, ccount, n, t, g, busy[rec["campaign_id"]], rule
        )
        row = {} if labels_only else _window_numbers(day, g, lr, means, counts)
        row.update(n_placebo=len(null), placebo_kind=kind)
        observed = bool(_enough(counts, g, rule)[0]) and bool(np.all(np.isfinite(lr)))
        incident = rec["event_type"] == INCIDENT
        if not observed or len(null) < rule.min_placebo:
            row.update(
                {f"{c}_{x}": np.nan for c in RATIOS for x in ("p", "cut")},
                rose_before=False,
                rose_after=False,
                label="insufficient data",
                why="windows not observed enough" if not observed else "too few comparison dates",
            )
            if boot:
                row.update(stability_boot=np.nan)
            out.append(row)
            continue
        p, cut, rose = _decide(lr, null, rule, cuts=not labels_only)
        label = _label(rose[0], incident)
        if labels_only:
            out.append({"label": label})
            continue
        for j, name in enumerate(RATIOS):
            row[f"{name}_p"], row[f"{name}_cut"] = p[0, j], cut[j]
        row.update(
            rose_before=bool(rose[0, 0] or rose[0, 1]),
            rose_after=bool(rose[0, 2] or rose[0, 3]),
            label=label,
            why="",
        )
        if boot:
            row["stability_boot"] = _boot_stability(lr, null, label, incident, rule, seed)
        out.append(row)
    if not out:  # no event has a series with observed days: the columns, no rows
        return _no_rows(rows.index, boot)
    return pd.DataFrame(out, index=rows.index)


_WINDOWS = ("base", "pre", "late", "short", "post")


def _window_numbers(
    day: pd.Timestamp, g: Geometry, lr: np.ndarray, means: np.ndarray, counts: np.ndarray
) -> dict[str, Any]:
    """One event's windows, their observed days and means, and the log ratios."""
    return {
        "runup_since": g.runup_since,
        "runup_days": g.runup[1] - g.runup[0] + 1,
        "baseline_start": day + pd.Timedelta(days=g.base[0]),
        "baseline_end": day + pd.Timedelta(days=g.base[1]),
        "baseline_kind": g.baseline_kind,
        **{f"n_{w}": int(counts[0, i]) for i, w in enumerate(_WINDOWS)},
        **{f"{w}_mean": means[0, i] for i, w in enumerate(_WINDOWS)},
        **{name: lr[0, j] for j, name in enumerate(RATIOS)},
    }


def _no_rows(index: pd.Index, boot: bool) -> pd.DataFrame:
    """The labels' columns, typed, for a table with no labelled event."""
    columns = [
        *("runup_since", "runup_days", "baseline_start", "baseline_end", "baseline_kind"),
        *(f"n_{w}" for w in _WINDOWS),
        *(f"{w}_mean" for w in _WINDOWS),
        *RATIOS,
        *("n_placebo", "placebo_kind"),
        *(f"{c}_{x}" for c in RATIOS for x in ("p", "cut")),
        *("rose_before", "rose_after", "label", "why"),
        *(("stability_boot",) if boot else ()),
    ]
    dates = {"runup_since", "baseline_start", "baseline_end"}
    text = {"baseline_kind", "placebo_kind", "label", "why"}
    return pd.DataFrame(
        {
            c: pd.Series(
                index=index,
                dtype="datetime64[ns]" if c in dates else object if c in text else float,
            )
            for c in columns
        }
    )


def _relabel(table: pd.DataFrame, rule: TimingRule) -> np.ndarray:
    """The labels of ``table`` under ``rule`` when only its threshold differs: the
    windows, comparison dates and p-values do not depend on the threshold, so a ratio
    rose when it is above the new threshold and its p-value within its share of α."""
    lr = table[list(RATIOS)].to_numpy(dtype=float)
    p = table[[f"{c}_p" for c in RATIOS]].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        rose = (lr > math.log(rule.threshold)) & (p <= rule.alpha * ALPHA_SHARES)
    label = _labels_many(rose, (table["event_type"] == INCIDENT).to_numpy())
    sure = (table["label"] != "insufficient data").to_numpy()
    return np.where(sure, label, "insufficient data").astype(object)


def stationary_block_length(x: np.ndarray) -> float:
    """Politis & White's (2004, corrected 2009) expected block length for the stationary
    bootstrap of the series ``x``, from arch (``optimal_block_length``'s "stationary"
    column). arch's single-series routine is called directly where it exists: the public
    function wraps each result in a DataFrame, most of its cost on a short series."""
    with quiet():
        try:
            from arch.bootstrap.base import _single_optimal_block

            return float(_single_optimal_block(np.asarray(x, dtype=float))[0])
        except ImportError:  # another arch release: its public function
            from arch.bootstrap import optimal_block_length

            return float(optimal_block_length(x)["stationary"].iloc[0])


def _boot_stability(
    lr: np.ndarray,
    null: np.ndarray,
    label: str,
    incident: bool,
    rule: TimingRule,
    seed: np.random.SeedSequence | None,
) -> float:
    """Share of stationary-bootstrap replicates of the comparison dates giving ``label``."""
    block = stationary_block_length(null[:, 0])
    block = min(max(block, 1.0), len(null) / 2) if np.isfinite(block) else 1.0
    # arch's stationary-bootstrap resampling, every replicate drawn at once (arch draws
    # one replicate per Python call, the slow part of this function)
    rose = _boot_rose(np.asarray(lr).reshape(-1), null, block, rule, np.random.default_rng(seed))
    return float(np.mean(_labels_many(rose, incident) == label))


def timing_table(
    study: Study,
    rule: TimingRule | None = None,
    *,
    include_incidents: bool = False,
    cases: Sequence[str] | None = None,
    stability: bool = True,
    bank: SeriesBank | None = None,
    progress: bool = False,
) -> TimingResult:
    """Label every (day-precision event, linked series) pair with rule v2.

    Parameters
    ----------
    study : Study
    rule : TimingRule, optional
        Default :class:`TimingRule()`.
    include_incidents : bool
        Also label each case's triggering incident (``cases.start_date``), marked
        ``event_type = "incident"`` (an incident on the day of a listed event is that
        event, not a second row). Incidents start run-ups either way.
    cases : sequence of str, optional
        Label only these cases' events (comparison dates still avoid every case's).
    stability : bool
        Compute ``stability_boot`` and ``stability_spec`` (9 rules; the slow part).
    bank : SeriesBank, optional
        Reuse a bank of the study's series.
    progress : bool
        Show a progress bar over the alternative rules.

    Returns
    -------
    TimingResult
        ``table``: the event and series (``event_id``, ``case_id``, ``event_type``,
        ``direction``, ``date``, ``campaign_id``, ``stance``, ``series_scope``), the
        windows (``runup_since``, ``runup_days``, ``baseline_start``, ``baseline_end``,
        ``baseline_kind``), observed days ``n_base``/``n_pre``/``n_short``/``n_post``,
        window means ``base_mean``/``pre_mean``/``short_mean``/``post_mean`` (series
        unit), the log ratios ``lr_pre_base``/``lr_short_pre``/``lr_post_pre`` with
        ``_p`` and ``_cut``, ``n_placebo``/``placebo_kind``, ``rose_before``,
        ``rose_after``, ``label``, ``why`` (for insufficient data), ``confounded_by``,
        ``verdict``, ``stability_boot``, ``stability_spec``, ``borderline``,
        ``preferred``.
    """
    rule = rule or TimingRule()
    bank = bank or SeriesBank.from_activity(study.activity)
    events, excluded = day_events(study, include_incidents=True)
    links = study.case_campaigns()
    all_dates = events[["case_id", "date"]].drop_duplicates()
    case_days = {str(c): list(g["date"]) for c, g in all_dates.groupby("case_id")}
    if not include_incidents:
        events = events[events["event_type"] != INCIDENT]
    if cases is not None:
        events = events[events["case_id"].isin(list(cases))]
        excluded = excluded[excluded["case_id"].isin(list(cases))]
    rows = events.merge(links, on="case_id", how="left")
    no_series = rows["campaign_id"].isna() | ~rows["campaign_id"].isin(list(bank.ids))
    if no_series.any():
        extra = rows.loc[no_series, ["event_id", "case_id"]].assign(
            date_precision="day", reason="the case has no activity series with observed days"
        )
        excluded = pd.concat([excluded, extra], ignore_index=True)
    rows = rows.loc[~no_series].reset_index(drop=True)
    stance = study.campaigns.set_index("campaign_id")["stance"]
    n_cases = links.groupby("campaign_id")["case_id"].nunique()
    rows = rows.assign(
        stance=rows["campaign_id"].map(stance),
        series_scope=np.where(rows["campaign_id"].map(n_cases).fillna(1) > 1, "shared", "case"),
    )[ROW_KEYS]
    series = {cid: _bank_arrays(bank, cid) for cid in rows["campaign_id"].unique()}
    dated = all_dates.merge(links, on="case_id")
    series_days = {c: list(g["date"]) for c, g in dated.groupby("campaign_id")}
    busy = {cid: _busy(arr[1], arr[0], series_days.get(cid, [])) for cid, arr in series.items()}
    table = pd.concat([rows, _core(rows, series, busy, case_days, rule, boot=stability)], axis=1)
    table["confounded_by"] = _confounders(table, dated, rule)
    if stability:
        same = np.zeros(len(table))
        for change in tqdm(SPEC_CHANGES, desc="timing choices", disable=not progress):
            other_rule = replace(rule, **change)
            if set(change) == {"threshold"}:  # same windows and p-values, another cut
                other = _relabel(table, other_rule)
            else:
                other = _core(
                    rows, series, busy, case_days, other_rule, boot=False, labels_only=True
                )["label"].to_numpy()
            same += other == table["label"].to_numpy()
        table["stability_spec"] = (1 + same) / (1 + len(SPEC_CHANGES))
        table["borderline"] = (table["label"] != "insufficient data") & (
            (table["stability_boot"] < BOOT_BORDER) | (table["stability_spec"] < SPEC_BORDER)
        )
    else:
        table["stability_boot"] = table["stability_spec"] = np.nan
        table["borderline"] = False
    table["verdict"] = [_verdict(r) for r in table.to_dict("records")]
    table["preferred"] = _preferred(table)
    assumptions = {
        **asdict(rule),
        "rule": rule.describe(),
        "include_incidents": include_incidents,
        "stability": stability,
        "n_rows": len(table),
        "n_events_excluded": int(excluded["event_id"].nunique()),
    }
    return TimingResult(
        table=table, excluded=excluded.reset_index(drop=True), rule=rule, assumptions=assumptions
    )


def _confounders(table: pd.DataFrame, dated: pd.DataFrame, rule: TimingRule) -> list[str]:
    """Other cases with a date on the same series inside each row's windows (spill included)."""
    by_series = {
        c: (g["case_id"].to_numpy(dtype=object), g["date"].to_numpy(dtype="datetime64[D]"))
        for c, g in dated.groupby("campaign_id")
    }
    none = (np.array([], dtype=object), np.array([], dtype="datetime64[D]"))
    out = []
    days = table["date"].to_numpy(dtype="datetime64[D]")
    runup = table["runup_days"].to_numpy(dtype=float)
    for day, before, case_id, series in zip(
        days, runup, table["case_id"], table["campaign_id"], strict=True
    ):
        lo = day - np.timedelta64(int(before) + rule.spill_days, "D")
        hi = day + np.timedelta64(rule.window - 1, "D")
        cases, dates = by_series.get(series, none)
        hit = cases[(cases != case_id) & (dates >= lo) & (dates <= hi)]
        out.append(";".join(sorted(set(hit))))
    return out


def _verdict(rec: dict[Any, Any]) -> str:
    label = rec["label"]
    if label == "insufficient data":
        return f"insufficient data ({rec.get('why') or 'see the numbers'})"
    notes = []
    if rec["confounded_by"] and label != "neither":
        notes.append("shared series: " + ", ".join(rec["confounded_by"].split(";")))
    if rec.get("borderline"):
        notes.append("borderline")
    return f"{label} ({'; '.join(notes)})" if notes else label


def _preferred(table: pd.DataFrame) -> np.ndarray:
    """One row per event answers for it: own series, then unconfounded, then most observed."""
    if table.empty:
        return np.array([], dtype=bool)
    order = table.assign(
        _own=table["series_scope"] != "case",
        _conf=table["confounded_by"] != "",
        _usable=table["label"] == "insufficient data",
        _obs=-(table["n_pre"] + table["n_post"]),
    ).sort_values(["event_id", "_usable", "_own", "_conf", "_obs", "campaign_id"], kind="stable")
    first = order.groupby("event_id").head(1).index
    return table.index.isin(first)


# --------------------------------------------------------------------------- onsets


# --------------------------------------------------------------------------- calibration


def placebo_labels(
    study: Study,
    rule: TimingRule | None = None,
    *,
    campaign_ids: Sequence[str] | None = None,
    n_dates: int = 100,
    seed: int = 0,
) -> pd.DataFrame:
    """Labels the rule gives at random dates where no case has an event (false alarms).

    For each series, ``n_dates`` days are drawn whose windows (with the fixed run-up,
    as for an event with no earlier date of its case) hold no event or incident of any
    case on that series. Each is labelled as if it were an event, its comparison dates
    excluding its own windows, exactly as :func:`timing_table` does. Any label but
    ``neither`` (and ``insufficient data``) is a false alarm.

    Returns
    -------
    pandas.DataFrame
        ``campaign_id``, ``date``, ``label``, ``lr_pre_base``, ``lr_short_pre``,
        ``lr_post_pre``, ``n_placebo``, ``placebo_kind``.
    """
    rule = rule or TimingRule()
    rng = np.random.default_rng(seed)
    bank = SeriesBank.from_activity(study.activity)
    events, _ = day_events(study, include_incidents=True)
    dated = (
        events[["case_id", "date"]].drop_duplicates().merge(study.case_campaigns(), on="case_id")
    )
    ids = list(campaign_ids) if campaign_ids is not None else list(bank.ids)
    g = geometry(pd.Timestamp("2000-01-01"), [], rule)
    out = []
    for cid in ids:
        arr = _series_arrays(bank, cid)
        if arr is None:
            continue
        start, n = arr[0], arr[1]
        busy = _busy(n, start, list(dated.loc[dated["campaign_id"] == cid, "date"]))
        pos = np.arange(max(0, -g.first), max(0, n - g.long + 1))
        lo, hi = np.clip(pos + g.first - rule.spill_days, 0, n), np.clip(pos + g.long, 0, n)
        free = pos[busy[hi] - busy[lo] == 0]
        if len(free) == 0:
            continue
        for t in rng.choice(free, size=min(n_dates, len(free)), replace=False):
            day = start + pd.Timedelta(days=int(t))
            rows = pd.DataFrame(
                [
                    {
                        "event_id": f"placebo:{cid}:{t}",
                        "case_id": "_placebo",
                        "date": day,
                        "event_type": "other",
                        "campaign_id": cid,
                    }
                ]
            )
            marks = busy.copy()
            marks[t + 1 :] += 1  # the placebo itself is an event: its windows leave the null
            res = _core(rows, {cid: arr}, {cid: marks}, {}, rule, boot=False).iloc[0]
            out.append(
                {
                    "campaign_id": cid,
                    "date": day,
                    **res[["label", *RATIOS, "n_placebo", "placebo_kind"]].to_dict(),
                }
            )
    return pd.DataFrame(out)
