"""Outcome models against statsmodels and the published Kelley & Simmons (2015) results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.duration.hazard_regression import PHReg

from analysis.outcomes import cox, discrete_hazard, event_outcomes, logit
from analysis.replication import MODELS, compare, fit_model, load_reference
from analysis.results import etable

REFERENCE = Path(__file__).parent / "data" / "ks2015_reference.csv"


@pytest.fixture(scope="module")
def ks_folder(raw_dir):
    return raw_dir / "reference" / "kelley_simmons_2015"


def test_model_3_1_reproduces_the_published_hazard_ratio_and_robust_se(ks_folder):
    table = compare("3.1", load_reference(REFERENCE), ks_folder).set_index("term")
    assert table.loc["inreport1", "hr_ours"] == 5.7056
    assert table.loc["inreport1", "se_ours"] == 0.5915
    assert table["match"].all(), table
    assert table["n_ours"].iloc[0] == 1251 and table["events_ours"].iloc[0] == 95


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_published_cox_model_is_reproduced_to_printed_precision(ks_folder, model):
    table = compare(model, load_reference(REFERENCE), ks_folder)
    assert table["match"].all(), table
    assert (table["n_ours"] == table["n_published"]).all()
    assert (table["events_ours"] == table["events_published"]).all()


def test_the_naive_risk_set_would_be_wrong(ks_folder):
    """statsmodels' entry <= t convention without the shift gives the wrong answer (3.45)."""
    file, covs = MODELS["3.1"]
    d = pd.read_csv(ks_folder / file).dropna(subset=["start_time", "yrfromj2", "fail", *covs])
    naive = PHReg(
        d["yrfromj2"], d[list(covs)], status=d["fail"], entry=d["start_time"], ties="breslow"
    ).fit(groups=pd.factorize(d["name"])[0])
    assert round(float(np.exp(naive.params[0])), 2) == 3.45
    assert round(float(fit_model("3.1", ks_folder).tidy()["hazard_ratio"][0]), 2) == 5.71


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
