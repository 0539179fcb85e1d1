"""A small result object shared by the regression studies, and a table that lines them up.

Every model returns a :class:`ModelResult` with ``.tidy()`` (``term``, ``estimate``,
``std_error``, ``statistic``, ``p_value``, ``conf_low``, ``conf_high``, plus
``odds_ratio`` or ``hazard_ratio`` where they apply), ``.nobs`` and ``.spec`` (the exact
specification). :func:`etable` puts several results side by side, like fixest's
``etable``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "STARS_NOTE",
    "TIDY_COLUMNS",
    "ModelResult",
    "Tidy",
    "etable",
]


@dataclass(frozen=True)
class ModelResult:
    """Estimates of one model.

    Attributes
    ----------
    name : str
        Short label used as a column header by :func:`etable`.
    params, bse : pandas.Series
        Estimates and standard errors by term.
    nobs : int
        Observations used (rows after dropping incomplete ones).
    spec : dict
        What was estimated: model, outcome, covariates, variance estimator, …
    ratio : str or None
        ``"odds_ratio"`` or ``"hazard_ratio"`` when ``exp(estimate)`` has that meaning.
    level : float
        Confidence level of ``conf_low``/``conf_high``.
    dist : str
        ``"normal"`` or ``"t"`` for p-values and intervals.
    df_resid : float or None
        Degrees of freedom when ``dist == "t"``.
    extra : dict
        Model-specific numbers (events, clusters, log-likelihood, …).
    """

    name: str
    params: pd.Series
    bse: pd.Series
    nobs: int
    spec: dict[str, Any]
    ratio: str | None = None
    level: float = 0.95
    dist: str = "normal"
    df_resid: float | None = None
    extra: dict[str, Any] = field(default_factory=dict[str, Any])

    def tidy(self) -> pd.DataFrame:
        """One row per term with estimate, standard error, test and interval."""
        est = self.params.to_numpy(dtype=float)
        se = self.bse.to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = est / se
        if self.dist == "t" and self.df_resid:
            p = 2 * stats.t.sf(np.abs(z), self.df_resid)
            crit = stats.t.ppf(0.5 + self.level / 2, self.df_resid)
        else:
            p = 2 * stats.norm.sf(np.abs(z))
            crit = stats.norm.ppf(0.5 + self.level / 2)
        out = pd.DataFrame(
            {
                "term": list(self.params.index),
                "estimate": est,
                "std_error": se,
                "statistic": z,
                "p_value": p,
                "conf_low": est - crit * se,
                "conf_high": est + crit * se,
            }
        )
        if self.ratio:
            out[self.ratio] = np.exp(est)
            out[f"{self.ratio}_low"] = np.exp(out["conf_low"])
            out[f"{self.ratio}_high"] = np.exp(out["conf_high"])
        return out


def _stars(p: float) -> str:
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


#: The columns every result's ``tidy()`` starts with (pyfixest's and broom's names).
TIDY_COLUMNS: tuple[str, ...] = (
    "term",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
)


@runtime_checkable
class Tidy(Protocol):
    """Anything with a ``tidy()`` table starting with :data:`TIDY_COLUMNS`: every
    estimator of the package returns one (models, leads and lags, placebo tests,
    counterfactuals)."""

    def tidy(self) -> pd.DataFrame: ...


def etable(results: Sequence[Tidy], *, digits: int = 3, exponentiate: bool = False) -> pd.DataFrame:
    """Line several results up: one column per model, ``estimate (se)`` per term.

    Parameters
    ----------
    results : sequence of results with ``tidy()``
        A :class:`ModelResult` (or subclass) gives its name, ``N`` and ``vcov``; any
        other result is named by its class and position.
    digits : int
    exponentiate : bool
        Show ``exp(estimate)`` (odds or hazard ratios) instead of the coefficient; the
        standard error in brackets stays on the coefficient scale.

    Returns
    -------
    pandas.DataFrame
        Index: terms in first-seen order, then the number of observations and the kind
        of standard errors; columns: model names. ``attrs["note"]`` says what the stars
        mean (:data:`STARS_NOTE`).
    """
    tidies = [r.tidy().set_index("term") for r in results]
    terms: list[str] = []
    for tidy in tidies:
        terms += [t for t in tidy.index if t not in terms]
    table = {}
    for i, (r, tidy) in enumerate(zip(results, tidies, strict=True), start=1):
        col = {}
        for t in terms:
            if t in tidy.index:
                row = tidy.loc[t]
                value = np.exp(row["estimate"]) if exponentiate else row["estimate"]
                se = row["std_error"]
                bracket = f" ({se:.{digits}f})" if np.isfinite(se) else ""
                p = row["p_value"]
                stars = _stars(float(cast(float, p))) if np.isfinite(p) else ""
                col[t] = f"{value:.{digits}f}{stars}{bracket}"
            else:
                col[t] = ""
        col["N"] = str(getattr(r, "nobs", ""))
        col["vcov"] = str(getattr(r, "spec", {}).get("vcov", ""))
        table[getattr(r, "name", "") or f"({i}) {type(r).__name__}"] = col
    from .columns import label_of

    out = pd.DataFrame(table, index=[*terms, "N", "vcov"])
    out.index = [*terms, label_of("N"), label_of("vcov")]
    out.attrs["note"] = STARS_NOTE
    return out


#: What etable's marks mean (shown under every table that has them).
STARS_NOTE = "Standard errors in brackets. * p < 0.05, ** p < 0.01, *** p < 0.001."
