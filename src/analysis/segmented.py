"""Segmented regression of one series around one event, with prewhitened HAC standard
errors (Andrews & Monahan 1992).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.regression.linear_model import OLS

from .results import ModelResult

__all__ = [
    "from_model_scale",
    "newey_west_lags",
    "prewhitened_hac",
    "segmented_regression",
    "to_model_scale",
]


def newey_west_lags(n: int) -> int:
    """Newey & West (1994) rule of thumb: ``⌊4 (n / 100)^(2/9)⌋`` lags."""
    return math.floor(4 * float((n / 100) ** (2 / 9)))


def _ar1_ols(x: np.ndarray) -> tuple[float, float]:
    """AR(1) coefficient and innovation SD of a demeaned series, with an intercept (as R's
    ``ar(x, order.max = 1, aic = FALSE, method = "ols")``)."""
    x = x - x.mean()
    Z = np.column_stack([np.ones(len(x) - 1), x[:-1]])
    b = np.linalg.lstsq(Z, x[1:], rcond=None)[0]
    e = x[1:] - Z @ b
    return float(b[1]), float(np.sqrt(e @ e / len(x)))


def prewhitened_hac(X: np.ndarray, resid: np.ndarray) -> tuple[np.ndarray, float]:
    """HAC covariance of OLS coefficients: VAR(1) prewhitening, Bartlett kernel, Andrews
    (1991) AR(1) plug-in bandwidth — R ``sandwich::kernHAC(fit, kernel = "Bartlett",
    prewhite = 1, bw = bwAndrews, adjust = TRUE)`` (Andrews & Monahan 1992).

    The scores ``v_t = x_t e_t`` are prewhitened by a VAR(1) without intercept; each
    prewhitened column gets an AR(1) fit and, weighting all but the intercept column
    (the first), ``α = Σ 4ρ²σ⁴ / ((1 − ρ)⁶ (1 + ρ)²) / Σ σ⁴ / (1 − ρ)⁴`` and the
    bandwidth ``S = 1.1447 (α n)^{1/3}``; lags ``j < S`` get weight ``1 − j/S``; the
    long-run covariance is recoloured by ``(I − A)^{-1}`` and scaled by ``n / (n − k)``.

    Returns
    -------
    (numpy.ndarray, float)
        The ``k × k`` covariance and the bandwidth used.
    """
    X = np.asarray(X, dtype=float)
    u = X * np.asarray(resid, dtype=float)[:, None]
    n0, k = u.shape
    A = np.linalg.lstsq(u[:-1], u[1:], rcond=None)[0].T  # u_t = A u_{t-1} + v_t
    v = u[1:] - u[:-1] @ A.T
    n = len(v)
    fits = np.array([_ar1_ols(v[:, j]) for j in range(k)])
    rho, sigma = fits[:, 0], fits[:, 1]
    weight = np.ones(k)
    weight[0] = 0.0  # the intercept's score does not choose the bandwidth
    den = np.sum(weight * (sigma / (1 - rho)) ** 4)
    alpha = np.sum(weight * 4 * rho**2 * sigma**4 / ((1 - rho) ** 6 * (1 + rho) ** 2)) / den
    bandwidth = float(1.1447 * (alpha * n) ** (1 / 3))
    lags = [j for j in range(n) if j < bandwidth]
    half = 0.5 * (v.T @ v)
    for j in lags[1:]:
        half += (1 - j / bandwidth) * (v[:-j].T @ v[j:])
    D = np.linalg.inv(np.eye(k) - A)
    meat = D @ (half + half.T) @ D.T / n0 * n0 / (n0 - k)
    bread = np.linalg.inv(X.T @ X)
    return n0 * bread @ meat @ bread, bandwidth


def to_model_scale(values: np.ndarray, transform: str) -> np.ndarray:
    """Counts on the scale a model is fitted on: ``log1p`` (``"log1p"``) or as they are
    (``"none"``)."""
    if transform == "log1p":
        return np.asarray(np.log1p(values))
    if transform == "none":
        return values
    raise ValueError(f"unknown transform {transform!r}; expected 'log1p' or 'none'")


def from_model_scale(values: np.ndarray, transform: str) -> np.ndarray:
    """Back from the model's scale to counts (``expm1`` after ``log1p``)."""
    return np.expm1(values) if transform == "log1p" else values


def segmented_regression(
    series: pd.Series,
    event_date: str | pd.Timestamp,
    *,
    pre_days: int = 60,
    post_days: int = 60,
    transform: str = "log1p",
    maxlags: int | None = None,
    level: float = 0.95,
    name: str = "ITS",
) -> ModelResult:
    """Segmented regression around one event with Newey–West errors.

    Parameters
    ----------
    series : pandas.Series
        Daily activity indexed by date (NaN = unobserved; such days are left out).
    event_date : date-like
        Day of the event (τ = 0 is the first "post" day).
    pre_days, post_days : int
        Days before the event and from the event day on.
    transform : {"log1p", "none"}
        ``log1p`` makes ``β2`` a relative change: ``exp(β2) − 1`` (``extra``).
    maxlags : int, optional
        Plain Newey–West HAC with this many lags. Default: :func:`prewhitened_hac`
        (R's ``sandwich::kernHAC`` with VAR(1) prewhitening and Andrews' bandwidth),
        which keeps coverage with strongly autocorrelated residuals where a fixed 4
        lags did not (AR(1) φ = 0.75, 120 days: 97.5 % against 74 %). p-values and
        intervals use t with n − 4 degrees of freedom.

    Returns
    -------
    ModelResult
        Terms ``intercept``, ``time`` (per day), ``level_change``, ``slope_change``.
    """
    t0 = pd.Timestamp(event_date)
    window = series[
        (series.index >= t0 - pd.Timedelta(days=pre_days))
        & (series.index < t0 + pd.Timedelta(days=post_days))
    ]
    window = window.dropna()
    index = pd.DatetimeIndex(window.index)
    days = (index - (t0 - pd.Timedelta(days=pre_days))).days.to_numpy(dtype=float)
    post = (index >= t0).astype(float)
    since = np.where(post > 0, (index - t0).days.to_numpy(dtype=float), 0.0)
    if post.sum() < 3 or (1 - post).sum() < 3:
        raise ValueError("need at least 3 observed days on each side of the event")
    X = pd.DataFrame(
        {"intercept": 1.0, "time": days, "level_change": post, "slope_change": since},
        index=window.index,
    )
    y = to_model_scale(window.to_numpy(dtype=float), transform)
    ols = OLS(y, X).fit()
    if maxlags is None:
        cov, bandwidth = prewhitened_hac(X.to_numpy(), ols.resid.to_numpy())
        bse = pd.Series(np.sqrt(np.diag(cov)), index=X.columns)
        lags = max(0, math.ceil(bandwidth) - 1)
        vcov = (
            f"HAC: VAR(1)-prewhitened, Bartlett kernel, Andrews bandwidth {bandwidth:.2f} "
            "(R sandwich::kernHAC)"
        )
    else:
        fit = ols.model.fit(cov_type="HAC", cov_kwds={"maxlags": maxlags, "use_correction": True})
        bse, lags, vcov = fit.bse, maxlags, f"Newey-West HAC, {maxlags} lags"
    df = len(y) - X.shape[1]
    crit = stats.t.ppf(0.5 + level / 2, df)
    ci = ols.params["level_change"] + np.array([-1, 1]) * crit * bse["level_change"]
    pct = (lambda b: float(100 * np.expm1(b))) if transform == "log1p" else (lambda b: None)
    return ModelResult(
        name=name,
        params=ols.params,
        bse=bse,
        nobs=int(ols.nobs),
        spec={
            "model": "segmented regression y ~ time + post + time_since_event:post",
            "outcome": f"{transform}(activity)",
            "event_date": t0.strftime("%Y-%m-%d"),
            "window": f"{pre_days} days before, {post_days} days from the event day",
            "vcov": vcov,
        },
        level=level,
        dist="t",
        df_resid=df,
        extra={
            "level_change_pct": pct(ols.params["level_change"]),
            "level_change_pct_low": pct(ci[0]),
            "level_change_pct_high": pct(ci[1]),
            "maxlags": lags,
            "residual_acf1": float(pd.Series(ols.resid).autocorr(1)),
            "n_missing_days": int(pre_days + post_days - len(y)),
        },
    )
