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
  dates (Politis & Romano 1994; mean block length by Politis & White 2004, both from
  ``arch``) giving the same label; ``stability_spec``: the share of 9 reasonable rules
  (window 10/14/21, threshold 1.25/1.5/2, short window 2/3/5, baseline 21/28/42) giving
  the same label. ``borderline`` when either is under 0.8 (0.67 for choices).
- ``series_scope`` (``case``: only this case uses the series; ``shared``: a movement
  series) and ``preferred``: the row that answers for the event — a case's own series
  first, then one no other case confounds, then the most observed.

A label is timing, not proof of cause.

:func:`onsets` — per (case, series), the campaign onset: the first sustained rise above
the baseline found by exact change-point detection (PELT from ruptures, ``jump=1`` so
every day is a candidate, L2 cost on ``log1p`` counts), with a bootstrap band, and the
peak. See :func:`detect_onset` for the penalty rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd
import ruptures as rpt
from ruptures.base import BaseCost
from tqdm import tqdm

from ._numeric import quiet
from .align import INCIDENT, SeriesBank, day_events
from .rules import TimingRule
from .study import Study

__all__ = [
    "ALPHA_SHARES",
    "LABELS",
    "RATIOS",
    "ROW_KEYS",
    "SPEC_CHANGES",
    "TAIL_DF",
    "CostL2Cumsum",
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


def _block_indices(rng: np.random.Generator, length: int, block: int, n_boot: int) -> np.ndarray:
    """Moving-block bootstrap day indices, shape ``(n_boot, length)``."""
    block = min(block, length)
    n_blocks = math.ceil(length / block)
    starts = rng.integers(0, length - block + 1, size=(n_boot, n_blocks))
    idx = (starts[..., None] + np.arange(block)).reshape(n_boot, n_blocks * block)
    return idx[:, :length]


def label_rows(rose_before: np.ndarray, rose_after: np.ndarray, enough: np.ndarray) -> np.ndarray:
    """Combine the two 'rose' answers into labels (``enough``: the windows were observed)."""
    label = np.where(
        rose_before & rose_after,
        "both",
        np.where(rose_before, "preceded", np.where(rose_after, "followed", "neither")),
    )
    return np.where(enough, label, "insufficient data").astype(object)


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class Geometry:
    """Where the windows of one event lie, as day offsets from the event day (τ).

    ``base`` and ``runup`` are inclusive ``(first, last)`` τ ranges; the late run-up is
    its last ``late`` days, the short and long aftermaths τ = 0 … ``short`` − 1 and
    0 … ``long`` − 1.
    """

    base: tuple[int, int]
    runup: tuple[int, int]
    late: int
    short: int
    long: int
    runup_since: str
    baseline_kind: str

    @property
    def first(self) -> int:
        """Earliest τ any window uses."""
        return self.base[0]


def geometry(day: pd.Timestamp, case_days: Sequence[pd.Timestamp], rule: TimingRule) -> Geometry:
    """The windows of an event on ``day`` of a case whose other dates are ``case_days``.

    ``case_days`` are the case's incident and legal-event days (any order; the event's
    own day and later days are ignored for the run-up, earlier ones move the baseline).
    """
    k, b = rule.window, rule.baseline_days
    earlier = sorted({(pd.Timestamp(d) - day).days for d in case_days if pd.Timestamp(d) < day})
    runup_start, since = -k, "fixed window"
    if earlier and -earlier[-1] <= rule.max_runup:
        runup_start = min(earlier[-1], -rule.min_runup)
        since = "previous date of the case"
    base_end = runup_start - 1
    kind = "before the run-up"
    while True:
        inside = [d for d in earlier if base_end - b + 1 <= d <= base_end]
        if not inside:
            break
        base_end = min(inside) - 1
        kind = "before the case's earlier dates"
        if runup_start - 1 - base_end > rule.max_baseline_gap:
            base_end, kind = runup_start - 1, "before the run-up (holds the case's earlier dates)"
            break
    return Geometry(
        base=(base_end - b + 1, base_end),
        runup=(runup_start, -1),
        late=rule.late_window,
        short=rule.short_window,
        long=k,
        runup_since=since,
        baseline_kind=kind,
    )


def _window_stats(
    csum: np.ndarray, ccount: np.ndarray, n: int, pos: np.ndarray, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and observed-day count of days ``pos + lo … pos + hi`` (NaN mean outside)."""
    a, z = pos + lo, pos + hi + 1
    inside = (a >= 0) & (z <= n)
    a, z = np.clip(a, 0, n), np.clip(z, 0, n)
    count = np.where(inside, ccount[z] - ccount[a], 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(inside & (count > 0), (csum[z] - csum[a]) / count, np.nan)
    return mean, count


RATIOS: tuple[str, ...] = ("lr_pre_base", "lr_late_base", "lr_short_pre", "lr_post_pre")
#: Each ratio's share of α: a date with no event gets any label but neither at most α.
ALPHA_SHARES = np.array([0.25, 0.25, 0.25, 0.25])


def _windows(g: Geometry) -> list[tuple[int, int]]:
    """τ ranges of baseline, run-up, late run-up, short and long aftermath."""
    return [g.base, g.runup, (max(g.runup[0], -g.late), -1), (0, g.short - 1), (0, g.long - 1)]


def _ratios(
    csum: np.ndarray, ccount: np.ndarray, n: int, pos: np.ndarray, g: Geometry, rule: TimingRule
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log ratios (n×4, see :data:`RATIOS`), window means and counts (n×5) at ``pos``."""
    stats = [_window_stats(csum, ccount, n, pos, lo, hi) for lo, hi in _windows(g)]
    means = np.column_stack([m for m, _ in stats]) if len(pos) else np.empty((0, 5))
    counts = np.column_stack([c for _, c in stats]) if len(pos) else np.empty((0, 5))
    with np.errstate(invalid="ignore", divide="ignore"):
        logm = np.log(means + rule.offset)
    # run-up and late run-up over the baseline; short and long aftermath over the late run-up
    return logm[:, [1, 2, 3, 4]] - logm[:, [0, 0, 2, 2]], means, counts


def _enough(counts: np.ndarray, g: Geometry, rule: TimingRule) -> np.ndarray:
    lengths = np.array([hi - lo + 1 for lo, hi in _windows(g)], dtype=float)
    return np.asarray(np.all(counts >= rule.min_observed * lengths - 1e-9, axis=1))


TAIL_DF = 2


def _decide(lr: np.ndarray, null: np.ndarray, rule: TimingRule) -> tuple[np.ndarray, ...]:
    """p-values, cuts and 'rose' answers of event ratios ``lr`` (…×4) against ``null``.

    With enough comparison dates (:func:`placebo_needed`) the p-value is the empirical
    share of comparison dates at least as high. With fewer (a short series), the tail is
    a Student t with 2 degrees of freedom centred on their median and scaled by their
    median absolute deviation: heavier-tailed than normal, so it errs towards 'neither'.
    """
    n = null.shape[0]
    alphas = rule.alpha * ALPHA_SHARES
    if n >= placebo_needed(rule):
        p = (1 + (null[None, :, :] >= lr[:, None, :]).sum(axis=1)) / (1 + n)
        cut = np.array([np.quantile(null[:, j], 1 - alphas[j]) for j in range(len(alphas))])
    else:
        from scipy import stats

        loc = np.median(null, axis=0)
        scale = 1.4826 * np.median(np.abs(null - loc), axis=0)
        scale = np.where(scale > 0, scale, np.maximum(null.std(axis=0), 1e-9))
        p = stats.t.sf((lr - loc) / scale, TAIL_DF)
        cut = loc + scale * stats.t.isf(alphas, TAIL_DF)
    rose = (lr > math.log(rule.threshold)) & (p <= alphas)
    return p, cut, rose


def _label(rose: np.ndarray, incident: bool) -> str:
    before, after = bool(rose[0] or rose[1]), bool(rose[2] or rose[3])
    if incident:
        return "followed" if after else "neither"
    return str(label_rows(np.array([before]), np.array([after]), np.array([True]))[0])


# --------------------------------------------------------------------------- the table


def _series_arrays(bank: SeriesBank, campaign_id: str) -> tuple[Any, ...] | None:
    i = int(bank.index_of([campaign_id])[0])
    if i < 0:
        return None
    vals = bank.values[bank.offset[i] : bank.offset[i] + bank.length[i]]
    obs = ~np.isnan(vals)
    csum = np.concatenate([[0.0], np.cumsum(np.where(obs, vals, 0.0))])
    ccount = np.concatenate([[0], np.cumsum(obs)])
    return pd.Timestamp(bank.start[i]), len(vals), csum, ccount


def _bank_arrays(bank: SeriesBank, campaign_id: str) -> tuple[Any, ...]:
    """:func:`_series_arrays` of a series the bank holds."""
    arrays = _series_arrays(bank, campaign_id)
    if arrays is None:
        raise KeyError(f"series {campaign_id!r} is not in the bank")
    return arrays


def _busy(n: int, start: pd.Timestamp, days: Sequence[pd.Timestamp]) -> np.ndarray:
    """Cumulative count of dates (events of any case on a series) per series position."""
    marks = np.zeros(n + 1)
    for d in days:
        pos = (pd.Timestamp(d) - start).days
        if 0 <= pos < n:
            marks[pos + 1] += 1
    return np.cumsum(marks)


def placebo_needed(rule: TimingRule) -> int:
    """Fewest comparison dates a label needs: ``min_placebo``, and enough for the
    smallest test size to be reachable (a randomisation p-value is at least 1/(n + 1))."""
    return int(max(rule.min_placebo, math.ceil(1 / (rule.alpha * ALPHA_SHARES.min()))))


def _null(
    csum: np.ndarray,
    ccount: np.ndarray,
    n: int,
    t: int,
    g: Geometry,
    busy: np.ndarray,
    rule: TimingRule,
) -> tuple[np.ndarray, str]:
    """The ratios at comparison dates for an event at position ``t`` with windows ``g``.

    Clean dates (no event of any case on the series in their windows, spill included)
    near the event first, then clean dates anywhere in the series, then any date whose
    windows miss the event's (conservative: other events make the null wider).
    """
    pos = np.arange(max(0, -g.first), max(0, n - g.long + 1))
    lo, hi = np.clip(pos + g.first - rule.spill_days, 0, n), np.clip(pos + g.long, 0, n)
    clean = busy[hi] - busy[lo] == 0
    local = np.abs(pos - t) <= rule.local_days
    away = (pos + g.long <= t + g.first) | (pos + g.first >= t + g.long)
    masks = (
        (clean & local, "clean, local"),
        (clean, "clean, whole series"),
        (away, "any date away from the event (conservative)"),
    )
    null = np.empty((0, len(RATIOS)))
    for need, tail in ((placebo_needed(rule), ""), (rule.min_placebo, " (t tail)")):
        for mask, kind in masks:
            if mask.sum() < need:
                continue
            plr, _, counts = _ratios(csum, ccount, n, pos[mask], g, rule)
            null = plr[_enough(counts, g, rule) & np.all(np.isfinite(plr), axis=1)]
            if len(null) >= need:
                return null, kind + tail
    return null, "too few"


def _core(
    rows: pd.DataFrame,
    series: dict[str, tuple[Any, ...]],
    busy: dict[str, np.ndarray],
    case_days: dict[str, list[pd.Timestamp]],
    rule: TimingRule,
    *,
    boot: bool,
) -> pd.DataFrame:
    """Label every row under one rule (the numbers and, if ``boot``, their stability)."""
    out = []
    rng_seed = np.random.SeedSequence(rule.seed)
    seeds = rng_seed.spawn(len(rows)) if boot else [None] * len(rows)
    for rec, seed in zip(rows.to_dict("records"), seeds, strict=True):
        day = pd.Timestamp(rec["date"])
        g = geometry(day, case_days.get(rec["case_id"], []), rule)
        start, n, csum, ccount = series[rec["campaign_id"]]
        t = (day - start).days
        lr, means, counts = _ratios(csum, ccount, n, np.array([t]), g, rule)
        row = {
            "runup_since": g.runup_since,
            "runup_days": g.runup[1] - g.runup[0] + 1,
            "baseline_start": day + pd.Timedelta(days=g.base[0]),
            "baseline_end": day + pd.Timedelta(days=g.base[1]),
            "baseline_kind": g.baseline_kind,
            "n_base": int(counts[0, 0]),
            "n_pre": int(counts[0, 1]),
            "n_late": int(counts[0, 2]),
            "n_short": int(counts[0, 3]),
            "n_post": int(counts[0, 4]),
            "base_mean": means[0, 0],
            "pre_mean": means[0, 1],
            "late_mean": means[0, 2],
            "short_mean": means[0, 3],
            "post_mean": means[0, 4],
            **{name: lr[0, j] for j, name in enumerate(RATIOS)},
        }
        null, kind = _null(csum, ccount, n, t, g, busy[rec["campaign_id"]], rule)
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
        p, cut, rose = _decide(lr, null, rule)
        label = _label(rose[0], incident)
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
        columns = [
            *("runup_since", "runup_days", "baseline_start", "baseline_end", "baseline_kind"),
            *(f"n_{w}" for w in ("base", "pre", "late", "short", "post")),
            *(f"{w}_mean" for w in ("base", "pre", "late", "short", "post")),
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
                    index=rows.index,
                    dtype="datetime64[ns]" if c in dates else object if c in text else float,
                )
                for c in columns
            }
        )
    return pd.DataFrame(out, index=rows.index)


def _boot_stability(
    lr: np.ndarray,
    null: np.ndarray,
    label: str,
    incident: bool,
    rule: TimingRule,
    seed: np.random.SeedSequence | None,
) -> float:
    """Share of stationary-bootstrap replicates of the comparison dates giving ``label``."""
    from arch.bootstrap import StationaryBootstrap, optimal_block_length

    with quiet():
        block = float(optimal_block_length(null[:, 0])["stationary"].iloc[0])
    block = min(max(block, 1.0), len(null) / 2) if np.isfinite(block) else 1.0
    # arch takes the expected block length as a real number (its stub says int)
    bs = StationaryBootstrap(block, null, seed=np.random.default_rng(seed))  # type: ignore[arg-type]
    same = 0
    for (draw,), _ in bs.bootstrap(rule.n_boot):
        _, _, rose = _decide(lr, np.asarray(draw), rule)
        same += _label(rose[0], incident) == label
    return same / rule.n_boot


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
            other = _core(rows, series, busy, case_days, replace(rule, **change), boot=False)
            same += (other["label"] == table["label"]).to_numpy()
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
    by_series = {c: g for c, g in dated.groupby("campaign_id")}
    out = []
    for rec in table.to_dict("records"):
        day = pd.Timestamp(rec["date"])
        lo = day - pd.Timedelta(days=int(rec["runup_days"]) + rule.spill_days)
        hi = day + pd.Timedelta(days=rule.window - 1)
        others = by_series.get(rec["campaign_id"], dated.iloc[:0])
        hit = others[
            (others["case_id"] != rec["case_id"]) & (others["date"] >= lo) & (others["date"] <= hi)
        ]
        out.append(";".join(sorted(hit["case_id"].unique())))
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


class CostL2Cumsum(BaseCost):  # type: ignore[misc]  # ruptures has no type hints
    """ruptures' L2 cost (squared deviations from the segment mean) in O(1) per segment.

    Same values as ``ruptures.costs.CostL2``, computed from cumulative sums, so the
    exact PELT search stays exact but runs several times faster.
    """

    model = "l2_cumsum"
    min_size = 1

    def fit(self, signal: np.ndarray) -> CostL2Cumsum:
        s = np.asarray(signal, dtype="float64").reshape(len(signal), -1)
        zero = np.zeros((1, s.shape[1]))
        self.signal = s
        self._c1 = np.vstack([zero, np.cumsum(s, axis=0)])
        self._c2 = np.vstack([zero, np.cumsum(s**2, axis=0)])
        return self

    def error(self, start: int, end: int) -> float:
        n = end - start
        a = self._c1[end] - self._c1[start]
        return float(np.sum(self._c2[end] - self._c2[start] - a * a / n))


def robust_noise(x: np.ndarray) -> float:
    """Noise SD from the median absolute first difference (robust to level shifts).

    ``σ̂ = 1.4826 · median|Δx − median Δx| / √2``: for white noise the SD of Δx is
    σ√2; the few large differences at change points barely move the median.
    """
    d = np.diff(x)
    if len(d) < 2:
        return float("nan")
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2))


def _segments(x: np.ndarray, penalty: float, min_size: int) -> list[int]:
    algo = rpt.Pelt(custom_cost=CostL2Cumsum(), min_size=min_size, jump=1).fit(x)
    return list(algo.predict(pen=penalty))


def _onset_from_segments(
    x: np.ndarray, bkps: list[int], min_rise: float
) -> tuple[int, float, np.ndarray]:
    starts = [0, *bkps[:-1]]
    means = np.array([x[s:e].mean() for s, e in zip(starts, bkps, strict=True)])
    fitted = np.repeat(means, np.diff([0, *bkps]))
    rise = np.nonzero(means - means[0] >= min_rise)[0]
    return (starts[rise[0]] if len(rise) else -1), float(means[0]), fitted


@dataclass(frozen=True)
class Onset:
    """Onset of a campaign in one series (positions are days of the analysis window)."""

    onset: pd.Timestamp | None
    onset_low: pd.Timestamp | None
    onset_high: pd.Timestamp | None
    share_found: float
    baseline_level: float
    baseline_noise: float
    peak_date: pd.Timestamp | None
    peak_value: float
    n_changes: int
    penalty: float
    n_days: int


def detect_onset(
    series: pd.Series,
    *,
    min_size: int = 7,
    min_rise: float = math.log(2),
    penalty: float | None = None,
    n_boot: int = 199,
    block: int = 7,
    level: float = 0.95,
    seed: int = 0,
) -> Onset:
    """Find the first sustained rise above the baseline in one daily series.

    Parameters
    ----------
    series : pandas.Series
        Daily values indexed by date; NaN days are skipped (the search runs on
        observed days, so a gap never counts as a fall).
    min_size : int
        Shortest segment in days: a rise must last this long to count as sustained.
    min_rise : float
        A segment is a rise when its mean ``log1p`` level exceeds the first segment's
        (the baseline) by at least this much (default log 2: a doubling).
    penalty : float, optional
        PELT penalty per change. Default, the documented rule:
        ``2 · σ̂² · log(n)`` (a BIC-type penalty for a change in mean with noise σ̂,
        where σ̂ is :func:`robust_noise` of the ``log1p`` series and ``n`` the days).
    n_boot : int
        Bootstrap replicates for the onset band (0 = no band). Each replicate adds
        moving blocks of the fitted model's residuals to the fitted segment means and
        detects the onset again with the same penalty.
    block : int
        Block length in days for the residual bootstrap.
    level : float
        Coverage of the band (percentile interval of replicate onsets).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    Onset
        ``onset`` is ``None`` when no segment rises by ``min_rise``. ``share_found``
        is the share of replicates that found an onset at all.
    """
    obs = series.dropna()
    dates = obs.index
    x = np.log1p(obs.to_numpy(dtype="float64"))
    n = len(x)
    if n < 2 * min_size:
        return Onset(
            None,
            None,
            None,
            0.0,
            float("nan"),
            float("nan"),
            None,
            float("nan"),
            0,
            float("nan"),
            n,
        )
    sigma = robust_noise(x)
    pen = penalty if penalty is not None else 2 * max(sigma, 1e-6) ** 2 * math.log(n)
    bkps = _segments(x, pen, min_size)
    pos, base_mean, fitted = _onset_from_segments(x, bkps, min_rise)
    peak = int(np.argmax(x))
    low = high = None
    share = float("nan")
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        resid = x - fitted
        idx = _block_indices(rng, n, block, n_boot)
        found = []
        for r in range(n_boot):
            xb = fitted + resid[idx[r]]
            pb, _, _ = _onset_from_segments(xb, _segments(xb, pen, min_size), min_rise)
            if pb >= 0:
                found.append(pb)
        share = len(found) / n_boot
        if found:
            alpha = (1 - level) / 2
            lo_pos, hi_pos = np.quantile(found, [alpha, 1 - alpha], method="inverted_cdf")
            low, high = dates[int(lo_pos)], dates[int(hi_pos)]
    return Onset(
        onset=dates[pos] if pos >= 0 else None,
        onset_low=low,
        onset_high=high,
        share_found=share,
        baseline_level=float(np.expm1(base_mean)),
        baseline_noise=sigma,
        peak_date=dates[peak],
        peak_value=float(obs.iloc[peak]),
        n_changes=len(bkps) - 1,
        penalty=pen,
        n_days=n,
    )


def onsets(
    study: Study,
    *,
    before: int = 90,
    after: int = 30,
    n_boot: int = 199,
    seed: int = 0,
    cases: Sequence[str] | None = None,
    progress: bool = False,
    **kwargs: Any,
) -> pd.DataFrame:
    """Campaign onset, baseline and peak for each (case, linked series).

    The analysis window runs from ``before`` days before the case's first
    day-precision legal event to ``after`` days after it. ``cases`` limits the work to
    those case ids.

    Returns
    -------
    pandas.DataFrame
        ``case_id``, ``campaign_id``, ``first_event``, ``window_start``, ``window_end``,
        then the fields of :class:`Onset` (``onset``, ``onset_low``, ``onset_high``, …)
        and ``onset_vs_first_event_days`` (negative: the campaign rose first).
        Pairs with too few observed days are kept with empty onsets.
    """

    bank = SeriesBank.from_activity(study.activity)
    ev = study.legal_events[study.legal_events["date_precision"] == "day"]
    first = ev.groupby("case_id")["date"].min()
    links = study.case_campaigns()
    links = links[links["case_id"].isin(first.index)]
    if cases is not None:
        links = links[links["case_id"].isin(list(cases))]
    rows = []
    for rec in tqdm(links.to_dict("records"), desc="onsets", disable=not progress):
        f = first[rec["case_id"]]
        lo, hi = f - pd.Timedelta(days=before), f + pd.Timedelta(days=after)
        s = bank.series(rec["campaign_id"])
        s = s[(s.index >= lo) & (s.index <= hi)]
        res = detect_onset(s, n_boot=n_boot, seed=seed, **kwargs)
        row = {**rec, "first_event": f, "window_start": lo, "window_end": hi, **asdict(res)}
        row["onset_vs_first_event_days"] = (res.onset - f).days if res.onset is not None else np.nan
        rows.append(row)
    columns = [
        *("case_id", "campaign_id", "first_event", "window_start", "window_end"),
        *(f.name for f in fields(Onset)),
        "onset_vs_first_event_days",
    ]
    out = pd.DataFrame(rows, columns=columns)  # the columns even when no pair has a series
    for col in ("onset", "onset_low", "onset_high", "peak_date"):
        if col in out:
            out[col] = pd.to_datetime(out[col])
    return out


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
