"""The arithmetic of one timing label: the windows around an event, their log ratios, and
the calibrated decision whether activity rose.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .align import SeriesBank
from .rules import TimingRule

__all__ = [
    "ALPHA_SHARES",
    "RATIOS",
    "TAIL_DF",
    "Geometry",
    "geometry",
    "label_rows",
    "placebo_needed",
]


def label_rows(rose_before: np.ndarray, rose_after: np.ndarray, enough: np.ndarray) -> np.ndarray:
    """Combine the two 'rose' answers into labels (``enough``: the windows were observed)."""
    label = np.where(
        rose_before & rose_after,
        "both",
        np.where(rose_before, "preceded", np.where(rose_after, "followed", "neither")),
    )
    return np.where(enough, label, "insufficient data").astype(object)


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
    csum: np.ndarray,
    ccount: np.ndarray,
    n: int,
    pos: np.ndarray,
    lo: int | np.ndarray,
    hi: int | np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and observed-day count of days ``pos + lo … pos + hi`` (NaN mean outside);
    arrays broadcast (positions × windows)."""
    a, z = pos + lo, pos + hi + 1
    inside = (a >= 0) & (z <= n)
    a, z = np.where(inside, a, 0), np.where(inside, z, 0)  # outside: an empty window
    count = ccount[z] - ccount[a]
    mean = np.where(count > 0, (csum[z] - csum[a]) / np.maximum(count, 1), np.nan)
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
    bounds = np.array(_windows(g))  # the five windows at once: positions × windows
    with np.errstate(invalid="ignore", divide="ignore"):
        means, counts = _window_stats(
            csum, ccount, n, np.asarray(pos)[:, None], bounds[None, :, 0], bounds[None, :, 1]
        )
        logm = np.log(means + rule.offset)
    # run-up and late run-up over the baseline; short and long aftermath over the late run-up
    return logm[:, [1, 2, 3, 4]] - logm[:, [0, 0, 2, 2]], means, counts


def _enough(counts: np.ndarray, g: Geometry, rule: TimingRule) -> np.ndarray:
    lengths = np.array([hi - lo + 1 for lo, hi in _windows(g)], dtype=float)
    return np.asarray(np.all(counts >= rule.min_observed * lengths - 1e-9, axis=1))


TAIL_DF = 2


def _decide(
    lr: np.ndarray, null: np.ndarray, rule: TimingRule, *, cuts: bool = True
) -> tuple[np.ndarray, ...]:
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
        cut = (  # column j at 1 - α_j (only reported: the decision uses p)
            np.diagonal(np.quantile(null, 1 - alphas, axis=0)).copy()
            if cuts
            else np.full(len(alphas), np.nan)
        )
    else:
        from scipy import stats

        loc = np.median(null, axis=0)
        scale = 1.4826 * np.median(np.abs(null - loc), axis=0)
        scale = np.where(scale > 0, scale, np.maximum(null.std(axis=0), 1e-9))
        p = stats.t.sf((lr - loc) / scale, TAIL_DF)
        cut = loc + scale * stats.t.isf(alphas, TAIL_DF)
    rose = (lr > math.log(rule.threshold)) & (p <= alphas)
    return p, cut, rose


def _boot_rose(
    lr: np.ndarray, null: np.ndarray, block: float, rule: TimingRule, rng: np.random.Generator
) -> np.ndarray:
    """:func:`_decide`'s 'rose' answers of one event's ratios ``lr`` (4,) against
    ``rule.n_boot`` stationary-bootstrap resamples of its comparison dates ``null``
    (dates × 4), expected block length ``block``: the same rule, vectorised over
    replicates (the stability bootstrap's hot path). With enough dates the p-value needs
    only how many resampled dates are at least as high: how often each replicate holds
    each date (:func:`stationary_counts`) times the dates' answers, one matrix product."""
    n = len(null)
    alphas = rule.alpha * ALPHA_SHARES
    if n >= placebo_needed(rule):
        times = stationary_counts(n, rule.n_boot, block, rng)
        p = (1 + times @ (null >= lr[None, :]).astype(float)) / (1 + n)
    else:
        from scipy import stats

        nulls = null[stationary_indices(n, rule.n_boot, block, rng)]
        loc = np.median(nulls, axis=1)
        scale = 1.4826 * np.median(np.abs(nulls - loc[:, None, :]), axis=1)
        scale = np.where(scale > 0, scale, np.maximum(nulls.std(axis=1), 1e-9))
        p = stats.t.sf((lr[None, :] - loc) / scale, TAIL_DF)
    return np.asarray((lr[None, :] > math.log(rule.threshold)) & (p <= alphas[None, :]))


def block_counts(starts: np.ndarray, lengths: np.ndarray, n: int) -> np.ndarray:
    """How often each of ``n`` positions is drawn in each replicate whose blocks begin at
    ``starts`` and run ``lengths`` positions on, wrapping at n (replicates × blocks;
    a length of 0 is no block): one difference array per replicate, summed."""
    rows = np.broadcast_to(np.arange(len(starts))[:, None] * (n + 1), starts.shape)
    used = lengths > 0
    r, s, e = rows[used], starts[used], starts[used] + lengths[used]
    wrap = e > n
    where = np.concatenate([r + s, r + np.minimum(e, n), r[wrap], r[wrap] + e[wrap] - n])
    step = np.concatenate(
        [np.ones(len(s)), -np.ones(len(s)), np.ones(wrap.sum()), -np.ones(wrap.sum())]
    )
    diff = np.bincount(where, weights=step, minlength=len(starts) * (n + 1))
    return np.cumsum(diff.reshape(len(starts), n + 1)[:, :n], axis=1)


def stationary_counts(n: int, n_boot: int, block: float, rng: np.random.Generator) -> np.ndarray:
    """How often each of ``n`` positions is drawn in each of ``n_boot`` stationary-
    bootstrap replicates (replicates × n) with expected block length ``block``: the
    resampling of :func:`stationary_indices` (blocks of geometric length, the last cut at
    n, each from a uniform start, wrapping), drawn block by block instead of day by day."""
    p = 1.0 / block
    k = math.ceil(n * p * 1.5) + 8
    lengths = rng.geometric(p, size=(n_boot, k))
    while (lengths.sum(axis=1) < n).any():  # rare: more blocks for short draws
        lengths = np.concatenate([lengths, rng.geometric(p, size=(n_boot, k))], axis=1)
    begin = np.cumsum(lengths, axis=1) - lengths
    lengths = np.clip(n - begin, 0, lengths)
    starts = rng.integers(n, size=lengths.shape, dtype=np.int64)
    return block_counts(starts, lengths, n)


def stationary_continue(start: np.ndarray, u: np.ndarray, p: float) -> np.ndarray:
    """Stationary-bootstrap indices (Politis & Romano 1994) of replicates × n positions
    from their draws: position i starts a new block at ``start[:, i]`` when
    ``u[:, i] <= p`` (and always at i = 0), else continues the previous index by one,
    wrapping at n. Row by row it is arch's ``stationary_bootstrap_sample``; here every
    replicate at once, without a Python loop."""
    n = start.shape[1]
    new = u <= p
    new[:, 0] = True
    pos = np.arange(n)
    last = np.maximum.accumulate(np.where(new, pos, 0), axis=1)
    return np.asarray((np.take_along_axis(start, last, axis=1) + (pos - last)) % n)


def stationary_indices(n: int, n_boot: int, block: float, rng: np.random.Generator) -> np.ndarray:
    """``n_boot`` stationary-bootstrap index rows of length ``n`` with expected block
    length ``block`` (days): every replicate's continuations drawn at once, then a
    uniform start for each new block (:func:`stationary_continue`)."""
    u = rng.random((n_boot, n))
    new = u <= 1.0 / block
    new[:, 0] = True
    start = np.zeros((n_boot, n), dtype=np.int64)  # only a block's first day needs one
    start[new] = rng.integers(n, size=int(new.sum()), dtype=np.int64)
    return stationary_continue(start, u, 1.0 / block)


def _labels_many(rose: np.ndarray, incident: bool | np.ndarray) -> np.ndarray:
    """:func:`_label` of every row of ``rose`` (rows × 4) at once; ``incident`` for all
    rows or one per row (an incident is never 'preceded')."""
    before, after = rose[:, 0] | rose[:, 1], rose[:, 2] | rose[:, 3]
    as_incident = np.where(after, "followed", "neither")
    labels = label_rows(before, after, np.ones(len(rose), dtype=bool))
    return np.where(incident, as_incident, labels).astype(object)


def _label(rose: np.ndarray, incident: bool) -> str:
    before, after = bool(rose[0] or rose[1]), bool(rose[2] or rose[3])
    if incident:
        return "followed" if after else "neither"
    return str(label_rows(np.array([before]), np.array([after]), np.array([True]))[0])


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


def _event_and_null(
    csum: np.ndarray,
    ccount: np.ndarray,
    n: int,
    t: int,
    g: Geometry,
    busy: np.ndarray,
    rule: TimingRule,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """The event's ratios, window means and counts at position ``t`` (:func:`_ratios`)
    and the ratios at its comparison dates, with the kind of dates used.

    Clean dates (no event of any case on the series in their windows, spill included)
    near the event first, then clean dates anywhere in the series, then any date whose
    windows miss the event's (conservative: other events make the null wider). The
    event and the first candidate dates are computed in one call.
    """
    pos = np.arange(max(0, -g.first), max(0, n - g.long + 1))
    lo, hi = np.maximum(pos + g.first - rule.spill_days, 0), np.minimum(pos + g.long, n)
    clean = busy[hi] - busy[lo] == 0
    local = np.abs(pos - t) <= rule.local_days
    away = (pos + g.long <= t + g.first) | (pos + g.first >= t + g.long)
    masks = (
        (clean & local, "clean, local"),
        (clean, "clean, whole series"),
        (away, "any date away from the event (conservative)"),
    )
    event: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    null = np.empty((0, len(RATIOS)))
    for need, tail in ((placebo_needed(rule), ""), (rule.min_placebo, " (t tail)")):
        for mask, kind in masks:
            if mask.sum() < need:
                continue
            at = pos[mask] if event is not None else np.r_[t, pos[mask]]
            plr, means, counts = _ratios(csum, ccount, n, at, g, rule)
            if event is None:
                event = (plr[:1], means[:1], counts[:1])
                plr, counts = plr[1:], counts[1:]
            null = plr[_enough(counts, g, rule) & np.all(np.isfinite(plr), axis=1)]
            if len(null) >= need:
                return (*event, null, kind + tail)
    if event is None:
        event = _ratios(csum, ccount, n, np.array([t]), g, rule)
    return (*event, null, "too few")
