"""Event-time curves, leads and lags against statsmodels, placebo inference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from analysis.align import event_windows, normalise_windows
from analysis.event_study import (
    event_time_curves,
    ks_uniform,
    leads_lags,
    leads_lags_design,
    placebo_test,
)
from analysis.simulate import simulate_study


def test_curves_show_a_planted_lead():
    sim = simulate_study(60, patterns="preceded", lead=10, seed=1)
    curves = event_time_curves(sim.study, window=21, by=None, n_boot=499).set_index("tau")
    quiet = curves.loc[-21:-12]  # before the planted rise: pointwise bands mostly cover 0
    covers = (quiet["conf_low"] < 0) & (quiet["conf_high"] > 0)
    assert covers.mean() >= 0.8 and abs(quiet["mean"].mean()) < 0.5
    assert (curves.loc[-9:21, "conf_low"] > 1).all()
    assert curves["n_cases"].iloc[0] == 60 and curves["seed"].iloc[0] == 0


def test_leads_lags_match_statsmodels_with_explicit_fixed_effects():
    sim = simulate_study(12, patterns=["followed", "neither"] * 6, seed=2)
    res = leads_lags(sim.study, window=5, baseline_days=10)
    win = normalise_windows(event_windows(sim.study, 15, 5), "zscore", baseline=(-15, -6))
    X, y, fe, clusters = leads_lags_design(win, 5, 10)
    data = X.rename(columns=lambda c: c.replace("tau=", "t").replace("-", "m")).assign(
        y=y.to_numpy(), fe=fe, g=clusters
    )
    terms = [c for c in data.columns if c.startswith("t")]
    ref = smf.ols("y ~ 0 + C(fe) + " + " + ".join(terms), data).fit(
        cov_type="cluster", cov_kwds={"groups": data["g"]}
    )
    ours = res.params.to_numpy()
    theirs = ref.params[terms].to_numpy()
    assert np.allclose(ours, theirs, atol=1e-8)
    # Same cluster-robust SE up to the small-sample factor for the absorbed fixed effects.
    n, k, k_fe = res.nobs, len(terms), int(fe.max() + 1)
    factor = np.sqrt((n - k) / (n - k - k_fe))
    assert np.allclose(res.bse.to_numpy() * factor, ref.bse[terms].to_numpy(), rtol=1e-6)
    tidy = res.tidy()
    assert list(tidy.columns) == [
        "term",
        "tau",
        "estimate",
        "std_error",
        "statistic",
        "p_value",
        "conf_low",
        "conf_high",
    ]
    assert res.spec["vcov"] == "cluster by case_id" and res.n_clusters == 12


def test_leads_lags_answers_preceded_and_followed():
    pre = leads_lags(simulate_study(40, patterns="preceded", lead=14, seed=3).study)
    post = leads_lags(simulate_study(40, patterns="followed", seed=3).study)
    none = leads_lags(simulate_study(40, patterns="neither", seed=3).study)
    assert pre.pre_test["p_value"] < 0.001 and post.post_test["p_value"] < 0.001
    assert none.post_test["p_value"] > 0.001


def test_placebo_p_values_are_uniform_under_the_null():
    p = [
        placebo_test(
            simulate_study(10, patterns="neither", seed=100 + s).study, n_draws=199, seed=s
        ).p_values["post_vs_pre"]
        for s in range(120)
    ]
    assert ks_uniform(p) > 0.01
    assert 0.02 < np.mean(np.array(p) < 0.1) < 0.2


def test_placebo_detects_a_real_effect_and_records_its_seed():
    res = placebo_test(simulate_study(30, patterns="followed", seed=4).study, n_draws=299, seed=9)
    tidy = res.tidy().set_index("statistic")
    assert tidy.loc["post_vs_pre", "p_value"] == 1 / 300
    assert tidy.loc["pre_vs_base", "p_value"] > 0.01
    assert res.seed == 9 and res.n_draws == 299 and len(res.null) == 299
    again = placebo_test(simulate_study(30, patterns="followed", seed=4).study, n_draws=299, seed=9)
    pd.testing.assert_frame_equal(res.null, again.null)
