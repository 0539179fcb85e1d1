"""Outcome models against statsmodels and the published Kelley & Simmons (2015) results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.duration.hazard_regression import PHReg

from analysis.outcomes import cox, discrete_hazard, event_outcomes, logit
from analysis.published import ks_risk_sets, load_reference
from analysis.replication import MODELS, compare, fit_model
from analysis.results import etable

REFERENCE = Path(__file__).parent / "data" / "ks2015_reference.csv"


@pytest.fixture(scope="module")
def ks_folder(raw_dir):
    return raw_dir / "reference" / "kelley_simmons_2015"


@pytest.fixture(scope="module")
def risk_sets(ks_folder):
    return ks_risk_sets(ks_folder)


def test_model_3_1_reproduces_the_published_hazard_ratio_and_robust_se(risk_sets):
    table = compare("3.1", load_reference(REFERENCE), risk_sets).set_index("term")
    assert table.loc["inreport1", "hr_ours"] == 5.7056
    assert table.loc["inreport1", "se_ours"] == 0.5915
    assert table["match"].all(), table
    assert table["n_ours"].iloc[0] == 1251 and table["events_ours"].iloc[0] == 95


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_published_cox_model_is_reproduced_to_printed_precision(risk_sets, model):
    table = compare(model, load_reference(REFERENCE), risk_sets)
    assert table["match"].all(), table
    assert (table["n_ours"] == table["n_published"]).all()
    assert (table["events_ours"] == table["events_published"]).all()


def test_the_naive_risk_set_would_be_wrong(risk_sets):
    """statsmodels' entry <= t convention without the shift gives the wrong answer (3.45)."""
    file, covs = MODELS["3.1"]
    d = risk_sets[file].dropna(subset=["start_time", "yrfromj2", "fail", *covs])
    naive = PHReg(
        d["yrfromj2"], d[list(covs)], status=d["fail"], entry=d["start_time"], ties="breslow"
    ).fit(groups=pd.factorize(d["name"])[0])
    assert round(float(np.exp(naive.params[0])), 2) == 3.45
    assert round(float(fit_model("3.1", risk_sets).tidy()["hazard_ratio"][0]), 2) == 5.71


def test_cox_rejects_empty_intervals():
    frame = pd.DataFrame({"a": [0, 1], "b": [1, 1], "e": [0, 1], "x": [0.1, 0.2]})
    with pytest.raises(ValueError, match="intervals are"):
        cox(frame, start="a", stop="b", event="e", covariates=["x"])


def _binary(n=800, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.integers(0, 25, n)
    p = 1 / (1 + np.exp(-(-0.5 + 1.2 * x + 0.3 * (g % 3))))
    return pd.DataFrame({"y": rng.random(n) < p, "x": x, "g": g}).astype({"y": int})


def test_logit_equals_statsmodels_with_cluster_errors():
    d = _binary()
    ours = logit(d, "y", ["x"], cluster="g").tidy().set_index("term")
    ref = sm.Logit(d["y"], sm.add_constant(d[["x"]])).fit(
        disp=0, cov_type="cluster", cov_kwds={"groups": d["g"]}
    )
    assert np.allclose(ours["estimate"], ref.params, atol=1e-6)
    assert np.allclose(ours["std_error"], ref.bse, rtol=1e-4)
    assert np.allclose(ours["odds_ratio"], np.exp(ref.params), rtol=1e-6)


def test_discrete_hazard_agrees_with_cox_on_simulated_durations():
    """A planted log hazard ratio of 0.7 per unit of pressure is recovered by both."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(600):
        x = rng.normal()
        for t in range(1, 61):
            pressure = x + 0.02 * t
            h = 0.02 * np.exp(0.7 * pressure)
            event = rng.random() < h
            rows.append(
                {
                    "id": i,
                    "start": t - 1,
                    "stop": t,
                    "event": int(event),
                    "pressure": pressure,
                    "t": t,
                }
            )
            if event:
                break
    panel = pd.DataFrame(rows)
    c = cox(panel, start="start", stop="stop", event="event", covariates=["pressure"], cluster="id")
    d = discrete_hazard(panel, event="event", covariates=["pressure"], duration="t", cluster="id")
    hc = c.tidy().set_index("term").loc["pressure"]
    hd = d.tidy().set_index("term").loc["pressure"]
    assert hc["conf_low"] < 0.7 < hc["conf_high"]
    assert abs(hc["estimate"] - hd["estimate"]) < 0.1
    table = etable([c, d], exponentiate=True)
    assert list(table.columns) == ["cox", "discrete hazard"] and "pressure" in table.index


def test_event_outcomes_keeps_only_legal_events_with_a_direction():
    timing = pd.DataFrame(
        {
            "event_id": ["a", "b", "c", "d"],
            "case_id": ["x"] * 4,
            "campaign_id": ["s"] * 4,
            "event_type": ["incident", "charge", "sentence", "hearing"],
            "direction": ["neutral", "favourable", "unfavourable", "neutral"],
            "stance": ["supporting"] * 4,
            "label": ["followed", "preceded", "neither", "neither"],
            "lr_pre_base": [0.1, 1.0, 0.0, 0.2],
            "base_mean": [10.0, 20.0, 30.0, 40.0],
        }
    )
    out = event_outcomes(timing)
    assert out["event_id"].tolist() == ["b", "c"] and out["favourable"].tolist() == [1, 0]


COX_REF = Path(__file__).parent / "data" / "reference" / "cox"
KS_31 = [
    "inreport1",
    "women1",
    "fh_cl1",
    "corrected_regcrim1_1",
    "ratproto2000_1",
    "missinfo8_2",
    "ht_incidence_origin",
    "ht_incidence_transit",
    "ht_incidence_destination",
]


def _cox_reference(dataset: str, ties: str) -> pd.DataFrame:
    ref = pd.read_csv(COX_REF / "cox_reference.csv")
    return ref[(ref["dataset"] == dataset) & (ref["ties"] == ties)].set_index("term")


def _assert_matches_r(fit, ref: pd.DataFrame) -> None:
    assert fit.nobs == ref["n"].iloc[0] and fit.extra["n_events"] == ref["events"].iloc[0]
    np.testing.assert_allclose(fit.params[ref.index], ref["coef"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(fit.bse[ref.index], ref["robust_se"], atol=1e-6, rtol=0)


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_cluster_robust_se_equals_r_on_a_panel_with_event_free_intervals(ties):
    """757 case-weeks, 28 events: most intervals hold no event time (R: cox_reference.R)."""
    panel = pd.read_csv(COX_REF / "panel_sim.csv")
    fit = cox(
        panel,
        start="start",
        stop="stop",
        event="event",
        covariates=["pressure", "x2"],
        cluster="case_id",
        ties=ties,
    )
    _assert_matches_r(fit, _cox_reference("sim", ties))


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_cluster_robust_se_equals_r_on_the_time_to_charge_panel(real_study, ties):
    """The 40_outcomes panel: 16 criminal cases, 322 case-weeks, 8 charges (before the
    panel was corrected — 18 cases, 568 case-weeks — R's robust SE was 0.0742 and
    statsmodels' score residuals gave 0.706, 9.5× too large)."""
    from analysis.outcomes import time_to_event_panel

    panel = time_to_event_panel(real_study, campaign_id="blacklivesmatter")
    kw = dict(start="start", stop="stop", event="event", covariates=["pressure"])
    fit = cox(panel, cluster="case_id", ties=ties, **kw)
    _assert_matches_r(fit, _cox_reference("blm", ties))
    if ties == "breslow":  # the old sandwich, on statsmodels' residuals, for the record
        model = PHReg(
            panel["stop"].astype(float),
            panel[["pressure"]].astype(float),
            status=panel["event"].astype(float),
            entry=panel["start"] + 0.5,
            ties="breslow",
        )
        resid = np.nan_to_num(model.score_residuals(fit.params.to_numpy()))
        sums = pd.DataFrame(resid).groupby(pd.factorize(panel["case_id"])[0]).sum().to_numpy()
        bread = np.linalg.inv(model.hessian(fit.params.to_numpy()))
        old = float(np.sqrt((bread @ sums.T @ sums @ bread)[0, 0]))
        assert old > 5 * fit.bse.iloc[0]


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_kelley_simmons_model_3_1_robust_se_equals_r_with_either_ties(ks_folder, ties):
    frame = pd.read_csv(ks_folder / "ks_table3_riskset.csv")
    fit = cox(
        frame,
        start="start_time",
        stop="yrfromj2",
        event="fail",
        covariates=KS_31,
        cluster="name",
        ties=ties,
    )
    _assert_matches_r(fit, _cox_reference("ks_3.1", ties))


def test_cox_refuses_what_it_does_not_support():
    frame = pd.DataFrame({"a": [0, 0], "b": [1, 2], "e": [0, 2], "x": [0.1, 0.2]})
    with pytest.raises(ValueError, match="ties must be one of"):
        cox(frame, start="a", stop="b", event="e", covariates=["x"], ties="exact")
    with pytest.raises(ValueError, match="must be 0/1"):
        cox(frame, start="a", stop="b", event="e", covariates=["x"])


def test_time_to_charge_panel_keeps_criminal_cases_audits_and_stops_at_no_charge(real_study):
    from analysis.outcomes import time_to_event_panel

    panel = time_to_event_panel(real_study, campaign_id="blacklivesmatter")
    excluded = panel.attrs["excluded"]
    assert "law" not in " ".join(panel["case_id"]) and "us_police_reform" in excluded
    assert "incomplete" in excluded["botham_jean"]  # a conviction with no recorded charge
    assert panel["stop"].max() == 365 and (panel["stop"] - panel["start"]).between(1, 7).all()
    per_case = panel.groupby("case_id").agg(e=("event", "sum"), c=("competing", "sum"))
    assert (per_case["e"] + per_case["c"]).le(1).all()  # one terminal event at most
    assert per_case["c"].sum() >= 3  # grand juries that declined to indict end follow-up
    last = panel.groupby("case_id").tail(1)
    ended = last[(last["event"] == 1) | (last["competing"] == 1)]
    assert len(ended) == per_case["e"].sum() + per_case["c"].sum()  # nothing after the end


def test_too_little_data_is_said_in_words_not_a_numpy_error():
    from analysis.errors import InsufficientData

    one_case = pd.DataFrame({"y": [0, 1, 0, 1], "x": [0.1, 0.5, 0.2, 0.9], "g": ["a"] * 4})
    with pytest.raises(InsufficientData, match="1 cluster"):
        logit(one_case, "y", ["x"], cluster="g")
    with pytest.raises(InsufficientData, match="0 complete rows for 2 parameters"):
        logit(one_case.iloc[:0], "y", ["x"])
    with pytest.raises(InsufficientData, match="0 of 4 rows have the event"):
        logit(one_case.assign(y=0), "y", ["x"])
