"""Did online pressure rise before each legal event, only after it, both, or neither?

Two studies, each a function from a :class:`~analysis.datasets.Study` to a tidy result:

:func:`timing_table` — one row per (event, linked series) with every number behind its
label. Around each day-precision event (τ = 0 is the event day) three windows of
observed days are compared (``k`` = ``rule.window``, ``b`` = ``rule.baseline_days``):

=========  ===================================  ========================================
window     days                                 meaning
=========  ===================================  ========================================
baseline   τ = −(k + b) … −(k + 1)              the level before the run-up
pre        τ = −k … −1                           the run-up to the event
post       τ = 0 … k − 1                         the event day and after
=========  ===================================  ========================================

Two log ratios of window means (each mean plus ``rule.offset``, so empty days do not
give log 0) are estimated with percentile intervals from a moving-block bootstrap of
days within each window (block length ``rule.block``, default ⌈k^(1/3)⌉, so day-to-day
persistence is kept):

- ``lr_pre_base = log((pre + offset) / (baseline + offset))``: did activity rise in the
  run-up?
- ``lr_post_pre = log((post + offset) / (pre + offset))``: did it rise on or after the event?

**The labelling rule** (defaults in :class:`TimingRule`, all changeable):

1. ``insufficient data`` if fewer than ``rule.min_observed`` (a share) of the days of
   any of the three windows were observed;
2. otherwise *rose before* ⇔ the lower end of the ``rule.level`` interval of
   ``lr_pre_base`` exceeds ``log(rule.threshold)``, and *rose after* ⇔ the same for
   ``lr_post_pre``;
3. ``both`` if it rose before and after, ``preceded`` if only before, ``followed`` if only
   after, ``neither`` otherwise.

So "preceded" means: in the ``k`` days before the event, activity was at least
``threshold`` times its earlier level, with confidence ``level``. It says nothing about
cause; a movement hashtag serving many cases is not a case-specific campaign.

:func:`onsets` — per (case, series), the campaign onset: the first sustained rise above
the baseline found by exact change-point detection (PELT from ruptures, ``jump=1`` so
every day is a candidate, L2 cost on ``log1p`` counts), with a bootstrap band, and the
peak. See :func:`detect_onset` for the penalty rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import ruptures as rpt
from ruptures.base import BaseCost
from tqdm import tqdm

from ._numeric import quiet
from .align import SeriesBank, event_windows
from .datasets import Study
from .rules import TimingRule

LABELS: tuple[str, ...] = ("preceded", "followed", "both", "neither", "insufficient data")


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
    assumptions: dict = field(default_factory=dict)

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


def _boot_means(values: np.ndarray, idx: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Means over resampled days, ignoring NaN: shape ``(rows, n_boot)``."""
    out = np.empty((values.shape[0], idx.shape[0]))
    for lo in range(0, values.shape[0], chunk):
        block = values[lo : lo + chunk][:, idx]
        with quiet():
            out[lo : lo + chunk] = np.nanmean(block, axis=2)
    return out


def _log_ratio(num: np.ndarray, den: np.ndarray, offset: float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(num + offset) - np.log(den + offset)


def label_rows(rose_before: np.ndarray, rose_after: np.ndarray, enough: np.ndarray) -> np.ndarray:
    """Apply steps 1 and 3 of the rule to boolean arrays."""
    label = np.where(
        rose_before & rose_after,
        "both",
        np.where(rose_before, "preceded", np.where(rose_after, "followed", "neither")),
    )
    return np.where(enough, label, "insufficient data").astype(object)


def timing_table(
    study: Study,
    rule: TimingRule | None = None,
    *,
    include_incidents: bool = False,
    bank: SeriesBank | None = None,
) -> TimingResult:
    """Label every (day-precision event, linked series) pair as the rule says.

    Parameters
    ----------
    study : Study
    rule : TimingRule, optional
        Default :class:`TimingRule()`.
    include_incidents : bool
        Also label each case's triggering incident (``cases.start_date``), marked
        ``event_type = "incident"``.
    bank : SeriesBank, optional
        Reuse a bank of the study's series.

    Returns
    -------
    TimingResult
        ``table`` columns: the event (``event_id``, ``case_id``, ``event_type``,
        ``direction``, ``date``), the series (``campaign_id``, ``stance``), observed days
        ``n_base``/``n_pre``/``n_post``, window means ``base_mean``/``pre_mean``/
        ``post_mean`` (series unit), ``lr_pre_base`` and ``lr_post_pre`` with
        ``_low``/``_high`` interval ends, ``rose_before``, ``rose_after``, ``label``.
    """
    rule = rule or TimingRule()
    k, b = rule.window, rule.baseline_days
    win = event_windows(
        study, before=k + b, after=k - 1, include_incidents=include_incidents, bank=bank
    )
    v = win.values
    base, pre, post = (
        v[:, win.columns(-(k + b), -(k + 1))],
        v[:, win.columns(-k, -1)],
        v[:, win.columns(0, k - 1)],
    )
    n_base, n_pre, n_post = (np.sum(~np.isnan(x), axis=1) for x in (base, pre, post))
    with quiet():
        m_base, m_pre, m_post = (np.nanmean(x, axis=1) for x in (base, pre, post))
    rng = np.random.default_rng(rule.seed)
    bb = _boot_means(base, _block_indices(rng, b, rule.block_length, rule.n_boot))
    bp = _boot_means(pre, _block_indices(rng, k, rule.block_length, rule.n_boot))
    bq = _boot_means(post, _block_indices(rng, k, rule.block_length, rule.n_boot))
    alpha = (1 - rule.level) / 2
    lr1_boot, lr2_boot = _log_ratio(bp, bb, rule.offset), _log_ratio(bq, bp, rule.offset)
    with quiet():
        q1 = np.nanquantile(lr1_boot, [alpha, 1 - alpha], axis=1) if len(v) else np.empty((2, 0))
        q2 = np.nanquantile(lr2_boot, [alpha, 1 - alpha], axis=1) if len(v) else np.empty((2, 0))
    enough = (
        (n_base >= rule.min_observed * b)
        & (n_pre >= rule.min_observed * k)
        & (n_post >= rule.min_observed * k)
    )
    cut = math.log(rule.threshold)
    rose_before = enough & (q1[0] > cut)
    rose_after = enough & (q2[0] > cut)
    table = win.rows.assign(
        n_base=n_base,
        n_pre=n_pre,
        n_post=n_post,
        base_mean=m_base,
        pre_mean=m_pre,
        post_mean=m_post,
        lr_pre_base=_log_ratio(m_pre, m_base, rule.offset),
        lr_pre_base_low=q1[0],
        lr_pre_base_high=q1[1],
        lr_post_pre=_log_ratio(m_post, m_pre, rule.offset),
        lr_post_pre_low=q2[0],
        lr_post_pre_high=q2[1],
        rose_before=rose_before,
        rose_after=rose_after,
        label=label_rows(rose_before, rose_after, enough),
    )
    assumptions = {
        **asdict(rule),
        "block_length": rule.block_length,
        "rule": rule.describe(),
        "include_incidents": include_incidents,
        "n_rows": len(table),
        "n_events_excluded": int(win.excluded["event_id"].nunique()),
    }
    return TimingResult(table=table, excluded=win.excluded, rule=rule, assumptions=assumptions)


# --------------------------------------------------------------------------- onsets


class CostL2Cumsum(BaseCost):
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
    return algo.predict(pen=penalty)


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
    **kwargs,
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
    from .datasets import case_campaign_links

    bank = SeriesBank.from_activity(study.activity)
    ev = study.legal_events[study.legal_events["date_precision"] == "day"]
    first = ev.groupby("case_id")["date"].min()
    links = case_campaign_links(study.cases)
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
    out = pd.DataFrame(rows)
    for col in ("onset", "onset_low", "onset_high", "peak_date"):
        if col in out:
            out[col] = pd.to_datetime(out[col])
    return out
