"""Campaign onsets: when a series' own rise began (PELT change points on a robust scale),
with a bootstrap band.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
import ruptures as rpt
from ruptures.base import BaseCost
from tqdm import tqdm

from .align import SeriesBank
from .study import Study

__all__ = [
    "CostL2Cumsum",
    "Onset",
    "detect_onset",
    "onsets",
    "robust_noise",
]


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


def _block_indices(rng: np.random.Generator, length: int, block: int, n_boot: int) -> np.ndarray:
    """Moving-block bootstrap day indices, shape ``(n_boot, length)``."""
    block = min(block, length)
    n_blocks = math.ceil(length / block)
    starts = rng.integers(0, length - block + 1, size=(n_boot, n_blocks))
    idx = (starts[..., None] + np.arange(block)).reshape(n_boot, n_blocks * block)
    return idx[:, :length]
