"""The event-time regression every event study shares: the windows of activity around
events, the leads-and-lags design, its cluster-robust fit with t(G − 1) intervals and
wild cluster bootstrap p-values, and its result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.regression.linear_model import OLS

from ._numeric import quiet
from .align import EventWindows, Normalisation, SeriesBank, event_windows, normalise_windows
from .results import ModelResult
from .study import Study

__all__ = [
    "LeadsLagsResult",
    "leads_lags_design",
    "wild_cluster_p",
]


def _windows(
    study: Study,
    window: int,
    baseline_days: int,
    event_types: Sequence[str] | None,
    normalisation: Normalisation,
    bank: SeriesBank | None = None,
) -> EventWindows:
    """The (event, series) windows every event study of a page shares, normalised.

    A window enters only when each of its three parts — baseline τ = −(k + b) … −(k + 1),
    run-up −k … −1 and aftermath 0 … k − 1 — has an observed (normalisable) day, so the
    curves, the leads-and-lags regression and the placebo test all use the same windows
    (:func:`analysis.narrative.event_sample` counts them). Windows left out are listed in
    ``excluded`` with the reason.
    """
    raw = event_windows(
        study, before=window + baseline_days, after=window, event_types=event_types, bank=bank
    )
    win = normalise_windows(raw, normalisation, baseline=(-(window + baseline_days), -(window + 1)))
    parts = [(-(window + baseline_days), -(window + 1)), (-window, -1), (0, window - 1)]
    complete = np.ones(len(win.rows), dtype=bool)
    for lo, hi in parts:
        complete &= np.isfinite(win.values[:, win.columns(lo, hi)]).any(axis=1)
    if complete.all():
        return win
    dropped = win.rows.loc[~complete, ["event_id", "case_id"]].assign(
        date_precision="day",
        reason="no observed day in the baseline, run-up or aftermath of its series",
    )
    return replace(
        win,
        rows=win.rows[complete].reset_index(drop=True),
        values=win.values[complete],
        excluded=pd.concat([win.excluded, dropped], ignore_index=True),
    )


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
    :func:`_contrast_design` so the restriction is one coefficient (:func:`wild_cluster_p`).
    """
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
        p_boot = wild_cluster_p(
            Xc.to_numpy(), yd, clusters, list(Xc.columns).index(name), n_boot, seed
        )
        out.update(p_boot=p_boot, n_boot=n_boot, weights="webb")
    return out


def wild_cluster_p(
    X: np.ndarray, y: np.ndarray, clusters: np.ndarray, column: int, n_boot: int, seed: int
) -> float:
    """Two-sided WCR11 wild cluster bootstrap p-value of ``β[column] = 0`` (null imposed,
    Webb weights, small-sample corrections): the ``wildboottest`` package's
    ``WildboottestCL``, step by step as its ``wildboottest()`` runs it, with the one
    bootstrap denominator computed as a matrix product instead of a numba function that
    the package compiles anew on every call (0.4 s each, four calls per event study).

    The denominator of draw ``b`` is ``ssc · Σ_g (C_g v_gb − Σ_h H_gh v_hb)²``, i.e. the
    column sums of ``((diag(C) − H) V)²``; the result equals the package's (tested).
    """
    from wildboottest.wildboottest import WildboottestCL

    class _Vectorised(WildboottestCL):  # type: ignore[misc]  # the package has no types
        def get_denom(self) -> None:
            H = np.empty((self.G, self.G))
            left = self.R @ self.tXXinv
            for g in range(self.G):
                row = left @ self.tXgXg_list[g] @ self.tXXinv
                H[g] = row @ self.scores_mat
            Z = (np.diag(np.asarray(self.Cg, dtype=float)) - H) @ self.v
            self.denom = self.ssc * np.sum(Z * Z, axis=0)

    R = np.zeros(X.shape[1])
    R[column] = 1.0
    with quiet():
        boot = _Vectorised(X=X, Y=y, cluster=clusters, R=R, B=n_boot, seed=seed, parallel=False)
        boot.get_scores(bootstrap_type="11", impose_null=True, adj=True, cluster_adj=True)
        boot.get_weights(weights_type="webb")
        boot.get_numer()
        boot.get_denom()
        boot.get_tboot()
        boot.get_vcov()
        boot.get_tstat()
        boot.get_pvalue(pval_type="two-tailed")
    return float(np.squeeze(boot.pvalue))


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
    fit = OLS(yd, Xd).fit(cov_type="cluster", cov_kwds={"groups": clusters}, use_t=True)
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
