"""Clean-control stacked event study (Cengiz et al. 2019; Wing, Freedman & Hollingsworth
2024): each event's window is a stack with the not-yet-treated series of the same days
as controls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._numeric import quiet
from .align import SeriesBank, event_windows
from .event_core import (
    LeadsLagsResult,
    _demean,
    _fit_event_time,
)
from .study import Study

__all__ = [
    "stacked_event_study",
]


def _zscore_rows(v: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Each row on its own baseline days (NaN when under 3 observed or no spread)."""
    b = v[:, base]
    n = np.sum(~np.isnan(b), axis=1, keepdims=True)
    with quiet():
        mu = np.nanmean(b, axis=1, keepdims=True)
        sd = np.nanstd(b, axis=1, ddof=1, keepdims=True)
        return np.where((n >= 3) & (sd > 0), (v - mu) / sd, np.nan)


def _absorb(a: np.ndarray, groups: Sequence[np.ndarray], tol: float = 1e-10) -> np.ndarray:
    """Residualise columns of ``a`` on several sets of fixed effects (alternating projections)."""
    out = a.astype(float).copy()
    for _ in range(1000):
        before = out.copy()
        for codes in groups:
            out = _demean(out, codes)
        if np.max(np.abs(out - before)) < tol:
            break
    return out


def stacked_event_study(
    study: Study,
    *,
    window: int = 14,
    baseline_days: int = 28,
    event_types: Sequence[str] | None = None,
    drop_contaminated: bool = False,
    min_observed: float = 0.5,
    level: float = 0.95,
    n_boot: int = 9999,
    seed: int = 0,
) -> LeadsLagsResult:
    """Clean-control stacked event study (Cengiz et al. 2019; Wing, Freedman & Hollingsworth 2024).

    Each (event, series) window τ = −(k + b) … k is a *stack*. Its controls are the other
    series on the same calendar days whose window holds no event or incident of any case
    linked to them ("clean"), observed on at least ``min_observed`` of the days. Every
    series in a stack is z-scored on its own baseline days. The model, over all stacks::

        y[s, u, τ] = α[s, u] + γ[s, τ] + Σ_j β_j · treated[s, u] · 1{τ = j} + ε

    with unit-in-stack and calendar-day-in-stack fixed effects (absorbed by alternating
    projections); the baseline days are the reference. ``β_j`` is the treated series'
    change at τ = j *relative to clean series on the same days* — a control group, which
    the pooled :func:`leads_lags` lacks. Errors are clustered by the stack's case; tests
    as in :func:`leads_lags` (t with G − 1 df, wild cluster bootstrap).

    A treated window is *contaminated* when another event or incident on its series
    falls within τ = −k … k; ``spec["n_contaminated"]`` counts them and
    ``drop_contaminated`` leaves them out.

    Returns
    -------
    LeadsLagsResult
        ``spec["design"]`` = ``"clean-control stacked"``, with ``n_stacks``,
        ``n_control_windows`` and ``n_contaminated``.
    """
    from .align import day_events

    bank = SeriesBank.from_activity(study.activity)
    k, b = window, baseline_days
    win = event_windows(study, before=k + b, after=k, event_types=event_types, bank=bank)
    tau = win.tau
    base = (tau >= -(k + b)) & (tau <= -(k + 1))
    events, _ = day_events(study, include_incidents=True)
    dated = events[["event_id", "case_id", "date"]].merge(study.case_campaigns(), on="case_id")
    days_of = {c: g for c, g in dated.groupby("campaign_id")}
    rows, n_contaminated, n_controls = [], 0, 0
    for s, rec in enumerate(win.rows.to_dict("records")):
        t0 = pd.Timestamp(rec["date"])
        lo, hi = t0 - pd.Timedelta(days=k + b), t0 + pd.Timedelta(days=k)
        own = days_of.get(rec["campaign_id"], dated.iloc[:0])
        near = own[
            (own["event_id"] != rec["event_id"])
            & (own["date"] >= t0 - pd.Timedelta(days=k))
            & (own["date"] <= hi)
        ]
        contaminated = len(near) > 0
        n_contaminated += contaminated
        if contaminated and drop_contaminated:
            continue
        clean = _clean_controls(bank.ids, rec["campaign_id"], days_of, lo, hi)
        units = np.array([int(bank.index_of([rec["campaign_id"]])[0]), *clean])
        v = bank.gather(units, np.repeat(np.datetime64(t0, "D"), len(units)), tau)
        enough = np.isfinite(v).mean(axis=1) >= min_observed
        if not enough[0] or enough[1:].sum() == 0:
            continue
        z = _zscore_rows(v[enough], base)
        kept = units[enough]
        n_controls += len(kept) - 1
        for u, series_row in zip(kept, z, strict=True):
            for t, y in zip(tau, series_row, strict=True):
                if np.isfinite(y):  # baseline days are the reference, the rest get dummies
                    rows.append((s, int(u), int(t), float(y), u == kept[0], rec["case_id"]))
    if not rows:
        raise ValueError("no stack has a clean control series observed on the same days")
    long = pd.DataFrame(rows, columns=["stack", "unit", "tau", "y", "treated", "case_id"])
    Xd, yd, clusters = _stacked_design(long, k)
    spec = {
        "design": "clean-control stacked",
        "model": "treated x event-time dummies; unit-in-stack and day-in-stack fixed effects",
        "outcome": "activity z-scored on each series' baseline",
        "window": window,
        "baseline_days": baseline_days,
        "reference": f"tau {-(k + b)}..{-(k + 1)}",
        "vcov": "cluster by the stack's case; t(G - 1) intervals and tests",
        "bootstrap": f"wild cluster (WCR11, Webb weights), {n_boot} draws, seed {seed}",
        "event_types": list(event_types or []),
        "n_stacks": int(long["stack"].nunique()),
        "n_control_windows": int(n_controls),
        "n_contaminated": int(n_contaminated),
        "dropped_contaminated": drop_contaminated,
    }
    return _fit_event_time(Xd, yd, clusters, spec, level, n_boot, seed)


def _clean_controls(
    ids: Sequence[str] | np.ndarray,
    treated: str,
    days_of: dict[Any, pd.DataFrame],
    lo: pd.Timestamp,
    hi: pd.Timestamp,
) -> list[int]:
    """Positions of the series other than ``treated`` with no event or incident of any
    case linked to them between ``lo`` and ``hi``."""
    clean = []
    for j, cid in enumerate(ids):
        if cid == treated:
            continue
        other = days_of.get(cid)
        if other is not None and ((other["date"] >= lo) & (other["date"] <= hi)).any():
            continue
        clean.append(j)
    return clean


def _stacked_design(long: pd.DataFrame, k: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Treated × event-time dummies and outcome with the unit-in-stack and
    day-in-stack fixed effects absorbed, and the case clusters."""
    taus = np.arange(-k, k + 1)
    X = pd.DataFrame(
        (
            (long["tau"].to_numpy()[:, None] == taus[None, :]) & long["treated"].to_numpy()[:, None]
        ).astype(float),
        columns=[f"tau={t}" for t in taus],
    )
    unit_fe = pd.factorize(pd.MultiIndex.from_frame(long[["stack", "unit"]]))[0]
    day_fe = pd.factorize(pd.MultiIndex.from_frame(long[["stack", "tau"]]))[0]
    clusters = pd.factorize(long["case_id"])[0]
    Xd = pd.DataFrame(_absorb(X.to_numpy(), [unit_fe, day_fe]), columns=X.columns)
    yd = _absorb(long["y"].to_numpy(), [unit_fe, day_fe])
    return Xd, yd, clusters
