"""Event studies: activity in event time, pooled over many events.

- :func:`event_time_curves` — the mean normalised activity at each day τ around events
  of a type, with a band from a bootstrap that resamples whole cases (events of one
  case, and series shared by cases, are not independent).
- :func:`leads_lags` — a regression of activity on event-time dummies τ = −k … +k with
  fixed effects for each (event, series) window and standard errors clustered by case.
  The reference is the baseline window τ = −(k + b) … −(k + 1), so a pre-event
  coefficient is activity in the run-up relative to the baseline ("preceded") and a
  post-event one activity after the event relative to the same baseline.
- :func:`placebo_test` — the same pre/post statistics on randomly drawn non-event dates
  of the same series; the share of placebo statistics at least as large as the real one
  is a permutation p-value. Seeded; seed and number of draws are recorded.
- :func:`stacked_event_study` — clean-control stacks of each event's window.

Layout: the shared regression machinery is in :mod:`analysis.event_core`, the placebo
test in :mod:`analysis.placebo` and the stacked design in :mod:`analysis.stacked`; this
module holds the curves and the leads-and-lags regression and re-exports the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._numeric import quiet
from .align import Normalisation
from .event_core import (
    LeadsLagsResult,
    _demean,
    _fit_event_time,
    _windows,
    leads_lags_design,
)
from .placebo import (
    PlaceboResult,
    ks_uniform,
    placebo_test,
)
from .stacked import (
    stacked_event_study,
)
from .study import Study

__all__ = [
    "LeadsLagsResult",
    "PlaceboResult",
    "event_time_curves",
    "ks_uniform",
    "leads_lags",
    "leads_lags_design",
    "placebo_test",
    "stacked_event_study",
]


def event_time_curves(
    study: Study,
    *,
    window: int = 28,
    baseline_days: int = 28,
    event_types: Sequence[str] | None = None,
    by: str | None = "event_type",
    normalisation: Normalisation = "zscore",
    n_boot: int = 999,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean activity in event time with a case-bootstrap band.

    Parameters
    ----------
    study : Study
    window : int
        Curves run from τ = −window to +window days.
    baseline_days : int
        Days before the window used as the z-score baseline of each row.
    event_types : sequence of str, optional
        Only these event types.
    by : str or None
        Column of the event rows to draw one curve per value of (``None`` = one curve).
    normalisation : str
        See :func:`analysis.align.normalise_windows` (default: z-score on the baseline,
        so each curve is in baseline standard deviations).
    n_boot, level, seed
        Bootstrap replicates (resampling cases with replacement), coverage and seed.

    Returns
    -------
    pandas.DataFrame
        ``group``, ``tau``, ``mean``, ``conf_low``, ``conf_high``, ``n_rows`` (window rows
        observed at τ), ``n_cases`` (cases with an observed day in the window), plus
        ``normalisation``, ``n_boot``, ``seed``.
    """
    win = _windows(study, window, baseline_days, event_types, normalisation)
    keep = win.columns(-window, window)
    tau = win.tau[keep]
    # windows with no observed day in -window..window say nothing: they are left out,
    # so a case counts (and is resampled) only when it contributes data
    seen = ~np.isnan(win.values[:, keep]).all(axis=1)
    values = win.values[seen][:, keep]
    rows = win.rows[seen].reset_index(drop=True)
    groups = rows[by].to_numpy() if by else np.full(len(rows), "all", dtype=object)
    rng = np.random.default_rng(seed)
    alpha = (1 - level) / 2
    frames = []
    for group in pd.unique(groups):
        mask = groups == group
        v = values[mask]
        codes, _ = pd.factorize(rows.loc[mask, "case_id"])
        n_cases = codes.max() + 1 if len(codes) else 0
        sums = np.zeros((n_cases, len(tau)))
        counts = np.zeros((n_cases, len(tau)))
        np.add.at(sums, codes, np.nan_to_num(v))
        np.add.at(counts, codes, ~np.isnan(v))
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = sums.sum(0) / counts.sum(0)
            weights = (
                rng.multinomial(n_cases, np.full(n_cases, 1 / n_cases), size=n_boot)
                if n_cases
                else np.zeros((n_boot, 0))
            )
            boot = (weights @ sums) / (weights @ counts)
        with quiet():
            low, high = np.nanquantile(boot, [alpha, 1 - alpha], axis=0)
        frames.append(
            pd.DataFrame(
                {
                    "group": group,
                    "tau": tau,
                    "mean": mean,
                    "conf_low": low,
                    "conf_high": high,
                    "n_rows": counts.sum(0).astype(int),
                    "n_cases": n_cases,
                }
            )
        )
    out = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(
            columns=["group", "tau", "mean", "conf_low", "conf_high", "n_rows", "n_cases"]
        )
    )
    return out.assign(normalisation=normalisation, n_boot=n_boot, seed=seed)


def leads_lags(
    study: Study,
    *,
    window: int = 14,
    baseline_days: int = 28,
    event_types: Sequence[str] | None = None,
    normalisation: Normalisation = "zscore",
    fe: str = "stack",
    level: float = 0.95,
    n_boot: int = 9999,
    seed: int = 0,
) -> LeadsLagsResult:
    """Regress activity on event-time dummies with fixed effects, clustered by case.

    Model: ``y[r, τ] = α_r + Σ_{j=−k..k} β_j 1{τ = j} + ε`` over each window row ``r``'s
    observed days in τ = −k … k and in the baseline τ = −(k + b) … −(k + 1) (the
    omitted reference). ``α_r`` are fixed effects per ``fe`` (``"stack"`` = each
    (event, series) window, ``"series"``, ``"case"``), absorbed by demeaning. Errors are
    clustered by case, with statsmodels' small-sample correction; absorbed fixed effects
    nested in clusters are not counted (the convention of Stata's reghdfe).

    Inference (few clusters: bundled event types have 5–10 cases): every interval and
    p-value uses Student t with G − 1 degrees of freedom. The two headline tests are
    single restrictions — the mean pre-event coefficient is 0 ("preceded"), the mean
    post-event coefficient equals the mean pre-event one ("followed") — each also with
    a wild cluster bootstrap p-value (``n_boot`` draws of Webb weights, ``seed``). A
    joint Wald test of all 2k pre-event coefficients is not reported: with G clusters
    its covariance has rank ≤ G − 1 < k, so it does not exist.

    Returns
    -------
    LeadsLagsResult
    """
    win = _windows(study, window, baseline_days, event_types, normalisation)
    X, y, fe_codes, clusters = leads_lags_design(win, window, baseline_days, fe)
    if len(y) == 0:
        raise ValueError("no observed event windows for this selection")
    Xd = pd.DataFrame(_demean(X.to_numpy(), fe_codes), columns=X.columns)
    yd = _demean(y.to_numpy(), fe_codes)
    spec = {
        "model": "OLS on event-time dummies, fixed effects absorbed by demeaning",
        "outcome": f"activity, normalisation={normalisation}",
        "window": window,
        "baseline_days": baseline_days,
        "reference": f"tau {-(window + baseline_days)}..{-(window + 1)}",
        "fixed_effects": fe,
        "vcov": "cluster by case_id; t(G - 1) intervals and tests",
        "bootstrap": f"wild cluster (WCR11, Webb weights), {n_boot} draws, seed {seed}",
        "event_types": list(event_types or []),
        "n_fixed_effects": int(fe_codes.max() + 1),
    }
    return _fit_event_time(Xd, yd, clusters, spec, level, n_boot, seed)


# --------------------------------------------------------------------------- stacked design
