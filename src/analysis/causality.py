"""Lead–lag and Granger analysis between activity and legal events, in both directions.

- :func:`cross_correlation` — two-sided cross-correlation (negative lag: activity leads
  the other series; positive lag: it follows), both series prewhitened by the activity
  series' AR model so that the ±z/√n band of no correlation holds.
- :func:`granger_f` — Granger F statistics for many equal-length series at once, by
  batched least squares; equal to statsmodels' ``ssr_ftest`` (tested to 1e-8).
- :func:`granger_tests` — for every (case, linked series): does activity help predict
  the case's legal events (``cause="activity"``, ``effect="legal_events"``), and do legal
  events help predict activity (the reverse)? A tidy frame with ``cause`` and ``effect``
  columns and Benjamini–Hochberg adjusted p-values across every test in the study.
- :func:`impulse_responses` — VAR impulse responses of the two series, where both vary.

Granger causality is predictability, not causation: a campaign and a court can both
respond to the same news.

Layout: the Granger tests live in :mod:`analysis.granger` and are re-exported here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.tsa.api import VAR
from statsmodels.tsa.stattools import ccf

from .align import case_panel
from .errors import require
from .granger import (
    bh_adjust,
    granger_discoveries,
    granger_f,
    granger_many,
    granger_tests,
    longest_observed_run,
    select_lag,
    shift_p_values,
)
from .results import ModelResult
from .study import Study

__all__ = [
    "bh_adjust",
    "cross_correlation",
    "event_rate_model",
    "granger_discoveries",
    "granger_f",
    "granger_many",
    "granger_tests",
    "impulse_responses",
    "longest_observed_run",
    "select_lag",
    "shift_p_values",
]


def cross_correlation(
    x: pd.Series,
    y: pd.Series,
    max_lag: int = 14,
    *,
    transform: str = "log1p",
    prewhiten: bool = True,
    ar_order: int | None = None,
    max_ar: int = 14,
    level: float = 0.95,
) -> pd.DataFrame:
    """Two-sided cross-correlation of two daily series, prewhitened so its band is honest.

    On two autocorrelated series the sample cross-correlation at every lag has a variance
    far above 1/n (Bartlett), so the white-noise band ±z/√n flags "correlations" between
    series that are unrelated. Prewhitening (Box & Jenkins; R's ``TSA::prewhiten``) fits
    an autoregressive model AR(p) to ``x`` by least squares with an intercept (order by
    AIC up to ``max_ar``, statsmodels' ``ar_select_order``, or ``ar_order``) and filters
    *both* series with it: ``x̃[t] = x[t] − Σ φ_i x[t−i]``, ``ỹ[t] = y[t] − Σ φ_i y[t−i]``.
    ``x̃`` is then close to white noise, and under no cross-correlation the sample
    correlations of ``x̃`` and ``ỹ`` have variance ≈ 1/n, so the ±z/√n band holds.

    Parameters
    ----------
    x, y : pandas.Series
        Daily series indexed by date (NaN = unobserved); only the longest stretch of
        days where both are observed is used. ``x`` is the series whose AR model
        filters both (activity; ``y`` may be a sparse count of legal events).
    max_lag : int
        Lags −max_lag … +max_lag days.
    transform : {"log1p", "none", "diff_log1p"}
        Applied to both series first (``diff_log1p``: day-to-day change of log1p).
    prewhiten : bool
        Filter both series by the AR model of ``x`` (default). ``False`` gives the raw
        cross-correlation, whose band is valid only when a series is white noise.
    ar_order, max_ar : int
        A fixed AR order, or the largest order the AIC may choose.
    level : float
        Coverage of the band.

    Returns
    -------
    pandas.DataFrame
        ``lag``, ``ccf`` = corr(x̃[t + lag], ỹ[t]) (as R's ``ccf(x, y)``: a peak at a
        negative lag means x moves first: x leads y), ``band`` (±z/√n of the filtered
        days), ``outside_band``, ``n`` (days used after filtering) and ``ar_order``.
    """
    both = pd.concat({"x": x, "y": y}, axis=1).sort_index()
    run = longest_observed_run(both, ["x", "y"])
    a, b = run["x"].to_numpy(dtype=float), run["y"].to_numpy(dtype=float)
    if transform in ("log1p", "diff_log1p"):
        a, b = np.log1p(a), np.log1p(b)
    if transform == "diff_log1p":
        a, b = np.diff(a), np.diff(b)
    order = 0
    if prewhiten and len(a) > 2 * max_lag + 10 and np.std(a) > 0:
        a, b, order = _prewhiten(a, b, ar_order, max_ar)
    n = len(a)
    if n <= max_lag + 2 or np.std(a) == 0 or np.std(b) == 0:
        raise ValueError(f"too few days ({n}) or a constant series for lags up to {max_lag}")
    forward = ccf(a, b, adjusted=False, nlags=max_lag + 1)  # corr(a[t+k], b[t]), k >= 0
    backward = ccf(
        b, a, adjusted=False, nlags=max_lag + 1
    )  # corr(b[t+k], a[t]) = corr(a[t-k], b[t])
    lags = np.arange(-max_lag, max_lag + 1)
    values = np.concatenate([backward[1:][::-1], forward])
    band = stats.norm.ppf(0.5 + level / 2) / np.sqrt(n)
    return pd.DataFrame(
        {
            "lag": lags,
            "ccf": values,
            "band": band,
            "outside_band": np.abs(values) > band,
            "n": n,
            "ar_order": order,
        }
    )


def _prewhiten(
    a: np.ndarray, b: np.ndarray, ar_order: int | None, max_ar: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Both series filtered by the AR(p) model of ``a`` (the first ``p`` days dropped)."""
    from statsmodels.tsa.ar_model import AutoReg, ar_select_order

    if ar_order is None:
        lags = ar_select_order(a, maxlag=min(max_ar, len(a) // 10), ic="aic", trend="c").ar_lags
        p = int(max(lags)) if lags else 0
    else:
        p = int(ar_order)
    if p == 0:
        return a, b, 0
    phi = AutoReg(a, lags=p, trend="c").fit().params[1:]
    kernel = np.concatenate([[1.0], -np.asarray(phi)])

    def filtered(v: np.ndarray) -> np.ndarray:
        return np.convolve(v, kernel, mode="valid")  # v[t] - sum_i phi_i v[t-i], t >= p

    return filtered(a), filtered(b), p


def impulse_responses(
    activity: pd.Series,
    events: pd.Series,
    *,
    maxlags: int = 7,
    periods: int = 14,
    level: float = 0.95,
    transform: str = "log1p",
) -> pd.DataFrame:
    """VAR impulse responses between activity and legal-event intensity.

    Fits a VAR on ``[activity, legal_events]`` (activity ``log1p`` by default) over the
    longest run where both are observed, lag order chosen by AIC up to ``maxlags``, and
    returns orthogonalised impulse responses with asymptotic bands, for both Cholesky
    orderings: with one ordering the second series cannot respond on the same day, so a
    same-day response is a modelling choice, not a finding — read both.

    Returns
    -------
    pandas.DataFrame
        ``ordering`` (``"activity first"`` or ``"legal events first"``), ``impulse``,
        ``response``, ``horizon`` (days), ``estimate``, ``conf_low``, ``conf_high``,
        ``lag_order``, ``n_obs``.

    Raises
    ------
    ValueError
        If a series is constant over the run (the two series do not allow a VAR).
    """
    both = pd.concat({"activity": activity, "legal_events": events}, axis=1).sort_index()
    run = longest_observed_run(both, ["activity", "legal_events"]).astype(float)
    if transform == "log1p":
        run["activity"] = np.log1p(run["activity"])
    if (run.std() == 0).any() or len(run) < 3 * maxlags:
        raise ValueError("a VAR needs two varying series and enough days")
    rows = []
    for order in (["activity", "legal_events"], ["legal_events", "activity"]):
        data = run[order].reset_index(drop=True)
        fit = VAR(data).fit(maxlags=maxlags, ic="aic")
        fit = fit if fit.k_ar > 0 else VAR(data).fit(1)
        irf = fit.irf(periods)
        z = stats.norm.ppf(0.5 + level / 2)
        se = irf.stderr(orth=True)
        label = f"{order[0].replace('_', ' ')} first"
        for i, response in enumerate(order):
            for j, impulse in enumerate(order):
                for h in range(periods + 1):
                    est = irf.orth_irfs[h, i, j]
                    rows.append(
                        {
                            "ordering": label,
                            "impulse": impulse,
                            "response": response,
                            "horizon": h,
                            "estimate": est,
                            "conf_low": est - z * se[h, i, j],
                            "conf_high": est + z * se[h, i, j],
                        }
                    )
    return pd.DataFrame(rows).assign(lag_order=fit.k_ar, n_obs=int(fit.nobs))


def event_rate_model(
    study: Study,
    *,
    lag_days: int = 7,
    transform: str = "log1p",
    min_days: int = 60,
    name: str = "legal events on lagged activity",
) -> ModelResult:
    """Do legal events come more often after unusual activity? A Poisson model for rare events.

    For every (case, linked series) pair, over the longest run of observed days: the
    day's count of the case's legal events against ``pressure`` — the mean (``log1p``)
    activity over the ``lag_days`` before the day, in standard deviations of that
    pair's own series (so "higher than usual for this series"). Pooled over pairs, a
    Poisson GLM with errors clustered by case and t(G − 1) intervals and tests (few
    clusters); the coefficient is a rate ratio per SD.
    Unlike an F test on a daily 0/1 series, the model is made for a handful of events.
    With no relation planted (12 cases, ~50 events) it rejected at 5 % in 8 of 100
    simulated studies: read p-values near 0.05 with care.

    Returns
    -------
    ModelResult
        Term ``pressure_sd`` (and ``intercept``); ``tidy()`` has ``rate_ratio``;
        ``extra``: ``n_events``, ``n_pairs``, ``n_clusters``.
    """
    import statsmodels.api as sm

    panel = case_panel(study)
    frames = []
    for (case_id, campaign_id), g in panel.groupby(["case_id", "campaign_id"], sort=True):
        run = longest_observed_run(g, ["value"])
        if len(run) < max(min_days, 3 * lag_days):
            continue
        act = run["value"].astype(float)
        if transform == "log1p":
            act = pd.Series(np.log1p(act), index=act.index)
        before = act.shift(1).rolling(lag_days, min_periods=lag_days).mean()
        sd = before.std()
        if not np.isfinite(sd) or sd == 0:
            continue
        frames.append(
            pd.DataFrame(
                {
                    "case_id": case_id,
                    "campaign_id": campaign_id,
                    "events": run["n_events"].to_numpy(dtype=float),
                    "pressure_sd": ((before - before.mean()) / sd).to_numpy(),
                }
            )
        )
    require(bool(frames), "no case has an observed series long enough for the event model")
    data = pd.concat(frames, ignore_index=True).dropna()
    require(data["events"].sum() > 0, "no legal event falls in an observed run")
    n_cases = int(data["case_id"].nunique())
    require(n_cases >= 2, f"{n_cases} case; errors clustered by case need at least two")
    X = sm.add_constant(data[["pressure_sd"]]).rename(columns={"const": "intercept"})
    groups = pd.factorize(data["case_id"])[0]
    fit = sm.GLM(data["events"], X, family=sm.families.Poisson()).fit(
        cov_type="cluster", cov_kwds={"groups": groups}
    )
    return ModelResult(
        name=name,
        params=fit.params,
        bse=fit.bse,
        nobs=int(fit.nobs),
        spec={
            "model": "Poisson GLM: daily legal events ~ lagged pressure",
            "pressure_sd": f"mean {transform} activity over the {lag_days} days before, in SDs "
            "of the pair's own series",
            "vcov": "cluster by case; t(G - 1) intervals and tests",
        },
        ratio="rate_ratio",
        dist="t",
        df_resid=int(groups.max()),  # G - 1: few clusters
        extra={
            "n_events": int(data["events"].sum()),
            "n_pairs": len(frames),
            "n_clusters": int(groups.max() + 1),
        },
    )
