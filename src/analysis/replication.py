"""Kelley & Simmons (2015), "Politics by Number": Cox models of criminalising trafficking.

The published hazard models (Table 1: entering the US trafficking report; Table 3:
criminalising human trafficking, with being in the report — public "shaming" — as the
pressure variable) are refitted with :func:`analysis.outcomes.cox` on the authors'
risk sets and compared with R's ``coxph(..., ties="breslow", cluster(name))`` output.
The risk sets and published estimates are read by :mod:`analysis.published`; this module
takes frames and reads no file.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .outcomes import cox
from .results import ModelResult

__all__ = ["MODELS", "compare", "fit_model"]

# Covariate blocks shared by the published models (names as in the authors' data).
_T1 = ("logpop_1", "missinfo8_1")
_T1_CONTROLS = ("ngos_ave", "fh_cl1", "corrected_regcrim1_1", "ratproto2000_1")
_INCIDENCE = ("ht_incidence_origin", "ht_incidence_transit", "ht_incidence_destination")
_T3 = ("inreport1", "women1", "fh_cl1", "corrected_regcrim1_1", "ratproto2000_1", "missinfo8_2")
_T1_FILE, _T3_FILE = "ks_table1_riskset.csv", "ks_table3_riskset.csv"

#: Covariates of each model, in the order of the published table.
MODELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "1.1": (_T1_FILE, _T1),
    "1.2": (_T1_FILE, _T1 + _T1_CONTROLS),
    "1.3": (_T1_FILE, _T1 + _T1_CONTROLS + _INCIDENCE),
    "3.1": (_T3_FILE, _T3 + _INCIDENCE),
    "3.2": (_T3_FILE, (*_T3, "logpop_1", "ngos_ave", "loggdppercap_1", "corruption_1")),
    "3.3": (_T3_FILE, (*_T3, "logeconasstP_1")),
    "3.4": (_T3_FILE, (*_T3, "logeconasstP_1", "test00")),
    "3.5": (_T3_FILE, (*_T3, "econasstPgdp_1_1000", "test_gdp_1_1000")),
}


def fit_model(model: str, risk_sets: Mapping[str, pd.DataFrame]) -> ModelResult:
    """Refit one published model on the authors' risk set (R's counting-process convention).

    Parameters
    ----------
    model : str
        A key of :data:`MODELS` (``"3.1"`` …).
    risk_sets : mapping of str to pandas.DataFrame
        The risk sets by file name, as :func:`analysis.published.ks_risk_sets` reads them.
    """
    file, covariates = MODELS[model]
    return cox(
        risk_sets[file],
        start="start_time",
        stop="yrfromj2",
        event="fail",
        covariates=list(covariates),
        cluster="name",
        ties="breslow",
        name=f"model {model}",
    )


def compare(
    model: str, reference: pd.DataFrame, risk_sets: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """Published and refitted estimates side by side, rounded as published (4 decimals).

    Returns
    -------
    pandas.DataFrame
        ``term``, ``hr_published``, ``hr_ours``, ``se_published``, ``se_ours``, ``match``
        (both equal at the printed precision), plus ``n`` and ``events`` of each.
    """
    res = fit_model(model, risk_sets)
    ours = res.tidy().set_index("term")
    ref = reference[reference["model"] == model].set_index("term")
    out = pd.DataFrame(
        {
            "hr_published": ref["hazard_ratio"],
            "hr_ours": ours["hazard_ratio"].round(4).reindex(ref.index),
            "se_published": ref["robust_se"],
            "se_ours": ours["std_error"].round(4).reindex(ref.index),
        }
    )
    out["match"] = (out["hr_published"] - out["hr_ours"]).abs().lt(5e-5) & (
        out["se_published"] - out["se_ours"]
    ).abs().lt(5e-5)
    out["n_published"] = int(ref["n"].iloc[0])
    out["n_ours"] = res.nobs
    out["events_published"] = int(ref["events"].iloc[0])
    out["events_ours"] = res.extra["n_events"]
    return out.reset_index()
