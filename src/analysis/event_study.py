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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from ._numeric import quiet
from .align import EventWindows, Normalisation, SeriesBank, event_windows, normalise_windows
from .results import ModelResult
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


def _windows(
    study: Study,
    window: int,
    baseline_days: int,
    event_types: Sequence[str] | None,
    normalisation: Normalisation,
    bank: SeriesBank | None = None,
) -> EventWindows:
    raw = event_windows(
        study, before=window + baseline_days, after=window, event_types=event_types, bank=bank
    )
    return normalise_windows(
        raw, normalisation, baseline=(-(window + baseline_days), -(window + 1))
    )


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
        observed at τ), ``n_cases``, plus ``normalisation``, ``n_boot``, ``seed``.
    """
    win = _windows(study, window, baseline_days, event_types, normalisation)
    keep = win.columns(-window, window)
    tau = win.tau[keep]
    values = win.values[:, keep]
    groups = win.rows[by].to_numpy() if by else np.full(len(win.rows), "all", dtype=object)
    rng = np.random.default_rng(seed)
    alpha = (1 - level) / 2
    frames = []
    for group in pd.unique(groups):
        mask = groups == group
        v = values[mask]
        codes, _ = pd.factorize(win.rows.loc[mask, "case_id"])
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


@dataclass(frozen=True)
class LeadsLagsResult(ModelResult):
    """A leads-and-lags regression (a :class:`~analysis.results.ModelResult`) and its tests.

    ``params``/``bse`` are the coefficients and cluster-robust standard errors of the
    τ dummies; ``tidy()`` gives t(G − 1) tests and intervals (``dist="t"``,
    ``df_resid = G − 1``) and a ``tau`` column, and :func:`~analysis.results.etable`
    takes it like any model.

    Attributes
    ----------
    n_clusters : int
        Cases (clusters) G.
    pre_test, post_test : dict
        Single-restriction tests: the mean pre-event coefficient = 0 ("preceded"), the
        mean post-event coefficient = the mean pre-event one ("followed"):
        ``estimate``, ``std_error``, ``statistic``, ``df`` (G − 1), ``p_value`` (t),
        ``p_boot`` (wild cluster bootstrap), ``n_boot``, ``weights``.
    """

    n_clusters: int = 0
    pre_test: dict[str, Any] = field(default_factory=dict[str, Any])
    post_test: dict[str, Any] = field(default_factory=dict[str, Any])

    def tidy(self) -> pd.DataFrame:
        """One row per τ: ``term``, ``estimate``, ``std_error``, ``statistic``,
        ``p_value``, ``conf_low``, ``conf_high`` (t with G − 1 df) and ``tau``."""
        out = super().tidy()
        out["tau"] = [int(t.split("=")[1]) for t in out["term"]]
        return out

    @property
    def pvalues(self) -> pd.Series:
        """p-values by term (t with G − 1 df)."""
        return self.tidy().set_index("term")["p_value"]

    @property
    def conf_int(self) -> pd.DataFrame:
        """``conf_low``/``conf_high`` by term."""
        return self.tidy().set_index("term")[["conf_low", "conf_high"]]


def leads_lags_design(
    win: EventWindows, window: int, baseline_days: int, fe: str = "stack"
) -> tuple[pd.DataFrame, pd.Series, np.ndarray, np.ndarray]:
    """Long design of the stacked regression: ``(dummies, y, fe codes, cluster codes)``.

    Only observed cells in the baseline (the omitted reference) and in τ = −k … +k enter.
    """
    long = win.long()
    base = (long["tau"] >= -(window + baseline_days)) & (long["tau"] <= -(window + 1))
    inside = long["tau"].between(-window, window)
    long = long[(base | inside) & long["value"].notna()].reset_index(drop=True)
    tau_values = np.arange(-window, window + 1)
    dummies = pd.DataFrame(
        (long["tau"].to_numpy()[:, None] == tau_values[None, :]).astype("float64"),
        columns=[f"tau={t}" for t in tau_values],
    )
    key = {"stack": ["event_id", "campaign_id"], "series": ["campaign_id"], "case": ["case_id"]}[fe]
    fe_codes = pd.factorize(pd.MultiIndex.from_frame(long[key]))[0]
    clusters = pd.factorize(long["case_id"])[0]
    return dummies, long["value"], fe_codes, clusters


def _demean(a: np.ndarray, codes: np.ndarray) -> np.ndarray:
    a2 = a.reshape(len(a), -1)
    sums = np.zeros((codes.max() + 1, a2.shape[1]))
    np.add.at(sums, codes, a2)
    counts = np.bincount(codes).astype(float)[:, None]
    return np.asarray((a2 - (sums / counts)[codes]).reshape(a.shape))


def _contrast_design(X: pd.DataFrame, weights: dict[str, float]) -> tuple[pd.DataFrame, str]:
    """Reparametrise so that ``Σ w_j β_j`` is the coefficient of one column.

    With ``c = Σ w_j β_j`` and ``m`` the last term with a weight, ``β_m`` is replaced by
    ``(c − Σ_{j≠m} w_j β_j) / w_m``: the column ``D_m / w_m`` carries ``c`` and every other
    weighted column becomes ``D_j − (w_j / w_m) D_m``. Same fit, same residuals.
    """
    names = [n for n in weights if weights[n] != 0]
    last = names[-1]
    out = X.copy()
    for n in names[:-1]:
        out[n] = X[n] - weights[n] / weights[last] * X[last]
    out = out.drop(columns=[last])
    out.insert(0, "contrast", X[last] / weights[last])
    return out, "contrast"


def _one_restriction(
    fit: Any,
    Xd: pd.DataFrame,
    yd: np.ndarray,
    clusters: np.ndarray,
    weights: dict[str, Any],
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    """``Σ w_j β_j = 0``: cluster-robust t with G − 1 df, and a wild cluster bootstrap.

    The bootstrap is the ``wildboottest`` package's WCR11 (null imposed, Webb's
    six-point weights, which suit few clusters), run on the reparametrised design of
    :func:`_contrast_design` so the restriction is one coefficient.
    """
    from wildboottest.wildboottest import wildboottest

    names = list(Xd.columns)
    r = np.array([weights.get(n, 0.0) for n in names])
    test = fit.t_test(r)
    estimate, se = float(np.squeeze(test.effect)), float(np.squeeze(test.sd))
    out: dict[str, Any] = {
        "estimate": estimate,
        "std_error": se,
        "statistic": estimate / se,
        "df": int(clusters.max()),
        "p_value": float(np.squeeze(test.pvalue)),
        "restrictions": 1,
    }
    if n_boot:
        Xc, name = _contrast_design(Xd, weights)
        with quiet():
            boot = wildboottest(
                sm.OLS(yd, Xc),
                B=n_boot,
                cluster=clusters,
                param=name,
                weights_type="webb",
                seed=seed,
                parallel=False,
                show=False,
            )
        out.update(p_boot=float(boot["p-value"].iloc[0]), n_boot=n_boot, weights="webb")
    return out


def _fit_event_time(
    Xd: pd.DataFrame,
    yd: np.ndarray,
    clusters: np.ndarray,
    spec: dict[str, Any],
    level: float,
    n_boot: int,
    seed: int,
) -> LeadsLagsResult:
    """OLS of (absorbed) activity on event-time dummies, clustered, with the two tests."""
    fit = sm.OLS(yd, Xd).fit(cov_type="cluster", cov_kwds={"groups": clusters}, use_t=True)
    names = list(Xd.columns)
    pre = [n for n in names if int(n.split("=")[1]) < 0]
    post = [n for n in names if int(n.split("=")[1]) >= 0]
    w_pre = {n: 1 / len(pre) for n in pre}
    w_diff = {**{n: -1 / len(pre) for n in pre}, **{n: 1 / len(post) for n in post}}
    n_clusters = int(clusters.max() + 1)
    return LeadsLagsResult(
        name=spec.get("model", "leads and lags"),
        params=fit.params,
        bse=fit.bse,
        nobs=int(fit.nobs),
        spec=spec,
        level=level,
        dist="t",
        df_resid=n_clusters - 1,
        n_clusters=n_clusters,
        pre_test=_one_restriction(fit, Xd, yd, clusters, w_pre, n_boot, seed),
        post_test=_one_restriction(fit, Xd, yd, clusters, w_diff, n_boot, seed + 1),
    )


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
    for i in range(len(bank.ids)):
        n = int(bank.length[i])
        ok = np.zeros(n, dtype=bool)
        ok[-lo : max(-lo, n - hi)] = True
        ev = hits.loc[hits["campaign_id"] == bank.ids[i], "date"].to_numpy().astype("datetime64[D]")
        rel = (ev - bank.start[i]).astype(np.int64)
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


# --------------------------------------------------------------------------- stacked design


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
        clean = []
        for j, cid in enumerate(bank.ids):
            if cid == rec["campaign_id"]:
                continue
            other = days_of.get(cid, dated.iloc[:0])
            if ((other["date"] >= lo) & (other["date"] <= hi)).any():
                continue
            clean.append(j)
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
