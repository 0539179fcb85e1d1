"""Campaign onsets: when a series' own rise began (the exact penalised change-point
segmentation PELT finds, on a robust scale), with a bootstrap band.

The segmentation (:func:`segment_many`) is optimal partitioning written in numpy and
vectorised over the bootstrap replicates; tests check it gives ruptures' PELT
breakpoints on hundreds of series (ruptures is the test's peer, not a dependency).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from .align import SeriesBank
from .study import Study

__all__ = [
    "Onset",
    "detect_onset",
    "onsets",
    "robust_noise",
    "segment_many",
]


def robust_noise(x: np.ndarray) -> float:
    """Noise SD from the median absolute first difference (robust to level shifts).

    ``σ̂ = 1.4826 · median|Δx − median Δx| / √2``: for white noise the SD of Δx is
    σ√2; the few large differences at change points barely move the median.
    """
    d = np.diff(x)
    if len(d) < 2:
        return float("nan")
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2))


def segment_many(X: np.ndarray, penalty: float, min_size: int) -> list[list[int]]:
    """The exact penalised L2 segmentation of every row of ``X`` at once.

    For each row ``x`` (length n) it finds the segment ends ``0 < e1 < … < n`` that
    minimise ``Σ_segments [Σ (x − segment mean)² + penalty]`` with every segment at
    least ``min_size`` long — the optimum PELT (Killick, Fearnhead & Eckley 2012) finds
    by pruning, here found by optimal partitioning (the same recursion without pruning,
    so no candidate is ever wrongly discarded), vectorised over rows: ``F[b] = min_t
    F[t] + cost(t, b) + penalty`` over ``t ∈ {0} ∪ [min_size, b − min_size]``, with the
    cost from cumulative sums and ties broken towards the earliest ``t``, as ruptures
    does. O(rows × n²) arithmetic in numpy, which for bootstrap replicates of one
    series is far cheaper than one Python-level PELT per replicate.

    Returns
    -------
    list of list of int
        Per row, the segment ends in increasing order, the last being ``n`` (ruptures'
        ``predict`` format).
    """
    X = np.atleast_2d(np.asarray(X, dtype="float64"))
    rows, n = X.shape
    zero = np.zeros((rows, 1))
    c1 = np.hstack([zero, np.cumsum(X, axis=1)])
    c2 = np.hstack([zero, np.cumsum(X * X, axis=1)])
    F = np.full((rows, n + 1), np.inf)
    F[:, 0] = 0.0
    prev = np.zeros((rows, n + 1), dtype=np.int64)
    for b in range(min_size, n + 1):
        starts = np.concatenate([[0], np.arange(min_size, b - min_size + 1)])
        a = c1[:, [b]] - c1[:, starts]
        length = (b - starts).astype("float64")
        cost = c2[:, [b]] - c2[:, starts] - a * a / length
        total = F[:, starts] + (cost + penalty)
        j = np.argmin(total, axis=1)  # the first of equal totals: the earliest start
        F[:, b] = total[np.arange(rows), j]
        prev[:, b] = starts[j]
    out = []
    for r in range(rows):
        ends, b = [], n
        while b > 0:
            ends.append(b)
            b = int(prev[r, b])
        out.append(ends[::-1])
    return out


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
    bkps = segment_many(x, pen, min_size)[0]
    pos, base_mean, fitted = _onset_from_segments(x, bkps, min_rise)
    peak = int(np.argmax(x))
    low = high = None
    share = float("nan")
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        resid = x - fitted
        idx = _block_indices(rng, n, block, n_boot)
        found = []
        replicates = fitted[None, :] + resid[idx]  # (n_boot, n)
        for xb, ends in zip(replicates, segment_many(replicates, pen, min_size), strict=True):
            pb, _, _ = _onset_from_segments(xb, ends, min_rise)
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


def _block_indices(rng: np.random.Generator, length: int, block: int, n_boot: int) -> np.ndarray:
    """Moving-block bootstrap day indices, shape ``(n_boot, length)``."""
    block = min(block, length)
    n_blocks = math.ceil(length / block)
    starts = rng.integers(0, length - block + 1, size=(n_boot, n_blocks))
    idx = (starts[..., None] + np.arange(block)).reshape(n_boot, n_blocks * block)
    return idx[:, :length]
