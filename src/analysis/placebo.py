"""Placebo test of the event-study contrasts: the same pre/post statistics at random dates
with no legal event, giving a randomisation p-value for each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ._numeric import quiet
from .align import SeriesBank
from .event_core import (
    _windows,
)
from .study import Study

__all__ = [
    "PlaceboResult",
    "ks_uniform",
    "placebo_test",
]


@dataclass(frozen=True)
class PlaceboResult:
    """Observed pre/post statistics against their placebo distributions.

    Attributes
    ----------
    observed : dict
        ``pre_vs_base`` (mean over rows of pre-window mean minus baseline mean) and
        ``post_vs_pre`` (post minus pre), in normalised units.
    null : pandas.DataFrame
        One row per placebo draw with both statistics.
    p_values : dict
        One-sided permutation p-values ``(1 + #{null ≥ observed}) / (1 + n_draws)``.
    n_rows : int
    seed, n_draws : int
    """

    observed: dict[str, Any]
    null: pd.DataFrame
    p_values: dict[str, Any]
    n_rows: int
    seed: int
    n_draws: int

    def tidy(self) -> pd.DataFrame:
        """One row per statistic (``term``): the observed value (``estimate``), the SD of
        its placebo distribution (``std_error``), ``statistic`` = (observed − placebo
        mean) / placebo SD, the permutation ``p_value`` and the placebo 2.5 % and 97.5 %
        quantiles (``conf_low``/``conf_high``: the band a date with no event falls in),
        then ``placebo_mean``, ``n_rows``, ``n_draws``, ``seed``."""
        rows = []
        for k in ("pre_vs_base", "post_vs_pre"):
            null = self.null[k]
            sd = float(null.std(ddof=1))
            mean = float(null.mean())
            rows.append(
                {
                    "term": k,
                    "estimate": self.observed[k],
                    "std_error": sd,
                    "statistic": (self.observed[k] - mean) / sd if sd > 0 else np.nan,
                    "p_value": self.p_values[k],
                    "conf_low": float(null.quantile(0.025)),
                    "conf_high": float(null.quantile(0.975)),
                    "placebo_mean": mean,
                    "n_rows": self.n_rows,
                    "n_draws": self.n_draws,
                    "seed": self.seed,
                }
            )
        return pd.DataFrame(rows)


def _pre_post_stats(
    v: np.ndarray, tau: np.ndarray, window: int, baseline_days: int
) -> tuple[float, float]:
    base = v[..., (tau >= -(window + baseline_days)) & (tau <= -(window + 1))]
    pre = v[..., (tau >= -window) & (tau <= -1)]
    post = v[..., (tau >= 0) & (tau <= window - 1)]
    with quiet():
        mb, mp, mq = (np.nanmean(x, axis=-1) for x in (base, pre, post))
        return np.nanmean(mp - mb, axis=-1), np.nanmean(mq - mp, axis=-1)


def placebo_test(
    study: Study,
    *,
    window: int = 14,
    baseline_days: int = 28,
    event_types: Sequence[str] | None = None,
    n_draws: int = 1000,
    seed: int = 0,
    chunk: int = 50,
) -> PlaceboResult:
    """Permutation test of the pooled pre/post statistics against random non-event dates.

    Each draw replaces every (event, series) row's date by a date drawn uniformly from
    the same series' eligible days: days whose whole window (τ = −(k + b) … k − 1) lies
    in the series' observed span and whose window contains no real day-precision legal
    event of any case linked to that series. Rows are z-scored on their own baseline, as
    for the real events (:func:`analysis.align.normalise_windows`).

    Returns
    -------
    PlaceboResult
    """
    from .align import day_events

    bank = SeriesBank.from_activity(study.activity)
    win = _windows(study, window, baseline_days, event_types, "zscore", bank=bank)
    obs_pre, obs_post = _pre_post_stats(win.values, win.tau, window, baseline_days)
    lo, hi = -(window + baseline_days), window - 1
    # eligible placebo dates per series
    events, _ = day_events(study)
    hits = events.merge(study.case_campaigns(), on="case_id")
    eligible_pos: list[np.ndarray] = []
    eligible_off: list[int] = []
    eligible_n: list[int] = []
    no_days = np.array([], dtype="datetime64[D]")
    days_of = {
        c: g.to_numpy().astype("datetime64[D]") for c, g in hits.groupby("campaign_id")["date"]
    }
    for i in range(len(bank.ids)):
        n = int(bank.length[i])
        ok = np.zeros(n, dtype=bool)
        ok[-lo : max(-lo, n - hi)] = True
        rel = (days_of.get(bank.ids[i], no_days) - bank.start[i]).astype(np.int64)
        for r in rel:
            ok[max(0, r - hi) : max(0, min(n, r - lo + 1))] = False
        pos = np.nonzero(ok)[0]
        eligible_off.append(sum(eligible_n))
        eligible_n.append(len(pos))
        eligible_pos.append(pos)
    pool = np.concatenate(eligible_pos) if eligible_pos else np.array([], dtype=np.int64)
    series_idx = bank.index_of(win.rows["campaign_id"].to_numpy())
    n_elig = np.array(eligible_n)[series_idx]
    usable = n_elig > 0
    series_idx, n_elig = series_idx[usable], n_elig[usable]
    offs = np.array(eligible_off)[series_idx]
    rng = np.random.default_rng(seed)
    tau = np.arange(lo, hi + 1)
    null_pre, null_post = [], []
    for start in range(0, n_draws, chunk):
        m = min(chunk, n_draws - start)
        pick = offs[None, :] + np.floor(rng.random((m, len(series_idx))) * n_elig[None, :]).astype(
            np.int64
        )
        rel = pool[pick]  # (m, rows): position within the series
        dates = bank.start[series_idx][None, :] + rel.astype("timedelta64[D]")
        v = bank.gather(np.tile(series_idx, m), dates.ravel(), tau).reshape(
            m, len(series_idx), len(tau)
        )
        base = v[..., tau <= -(window + 1)]
        n_b = np.sum(~np.isnan(base), axis=-1, keepdims=True)
        with quiet():
            mu = np.nanmean(base, axis=-1, keepdims=True)
            sd = np.nanstd(base, axis=-1, ddof=1, keepdims=True)
            z = np.where((n_b >= 3) & (sd > 0), (v - mu) / sd, np.nan)
        a, b = _pre_post_stats(z, tau, window, baseline_days)
        null_pre.append(a)
        null_post.append(b)
    null = pd.DataFrame(
        {"pre_vs_base": np.concatenate(null_pre), "post_vs_pre": np.concatenate(null_post)}
    )
    observed = {"pre_vs_base": float(obs_pre), "post_vs_pre": float(obs_post)}
    p_values = {
        k: float((1 + np.sum(null[k].to_numpy() >= observed[k])) / (1 + n_draws)) for k in observed
    }
    return PlaceboResult(observed, null, p_values, int(usable.sum()), seed, n_draws)


def ks_uniform(p_values: Sequence[float]) -> float:
    """Kolmogorov–Smirnov p-value that ``p_values`` are uniform on (0, 1)."""
    return float(stats.kstest(np.asarray(p_values, dtype=float), "uniform").pvalue)
