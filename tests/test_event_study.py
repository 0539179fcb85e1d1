"""Event-time curves, leads and lags against statsmodels, placebo inference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from analysis.align import event_windows, normalise_windows
from analysis.event_study import (
    event_time_curves,
    ks_uniform,
    leads_lags,
    leads_lags_design,
    placebo_test,
    stacked_event_study,
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
        "estimate",
        "std_error",
        "statistic",
        "p_value",
        "conf_low",
        "conf_high",
        "tau",
    ]
    assert res.spec["vcov"].startswith("cluster by case_id") and res.n_clusters == 12
    # intervals and p-values use t with G − 1 degrees of freedom (few clusters)
    crit = stats.t.ppf(0.975, res.n_clusters - 1)
    np.testing.assert_allclose(tidy["conf_high"], tidy["estimate"] + crit * tidy["std_error"])


def test_leads_lags_answers_preceded_and_followed():
    pre = leads_lags(simulate_study(40, patterns="preceded", lead=14, seed=3).study)
    post = leads_lags(simulate_study(40, patterns="followed", seed=3).study)
    none = leads_lags(simulate_study(40, patterns="neither", seed=3).study)
    assert pre.pre_test["p_value"] < 0.001 and post.post_test["p_value"] < 0.001
    assert pre.pre_test["p_boot"] < 0.01 and post.post_test["p_boot"] < 0.01
    assert none.post_test["p_value"] > 0.001
    assert pre.pre_test["restrictions"] == 1 and pre.pre_test["df"] == 39


@pytest.mark.slow
def test_the_pre_trend_test_holds_its_size_with_few_clusters():
    """No effect, 6 cases: the one-restriction t(G − 1) and wild-bootstrap tests reject
    about 5 % of the time (calibration.md measures 400 studies). The old joint Wald test
    of 14 coefficients with 6 clusters had a rank-deficient covariance."""
    rejections_t, rejections_boot = [], []
    for seed in range(40):
        sim = simulate_study(6, patterns="neither", seed=500 + seed)
        res = leads_lags(sim.study, window=7, baseline_days=14, n_boot=399, seed=seed)
        rejections_t.append(res.pre_test["p_value"] < 0.05)
        rejections_boot.append(res.pre_test["p_boot"] < 0.05)
    assert np.mean(rejections_t) <= 0.15 and np.mean(rejections_boot) <= 0.15


@pytest.mark.slow
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
    tidy = res.tidy().set_index("term")
    assert tidy.loc["post_vs_pre", "p_value"] == 1 / 300
    assert tidy.loc["pre_vs_base", "p_value"] > 0.01
    assert res.seed == 9 and res.n_draws == 299 and len(res.null) == 299
    again = placebo_test(simulate_study(30, patterns="followed", seed=4).study, n_draws=299, seed=9)
    pd.testing.assert_frame_equal(res.null, again.null)


def test_wild_bootstrap_p_values_agree_with_pyfixest():
    """pyfixest 0.60 (feols with absorbed fixed effects, CRV1, wildboottest WCR11 with Webb
    weights, 99,999 draws) on the same designs: tests/data/reference/event_study/."""
    import sys

    folder = Path(__file__).parent / "data" / "reference" / "event_study"
    sys.path.insert(0, str(folder))
    try:
        from make_reference import BASELINE, STUDIES, WINDOW
    finally:
        sys.path.remove(str(folder))
    ref = pd.read_csv(folder / "reference.csv")
    for name, kw in STUDIES.items():
        res = leads_lags(
            simulate_study(**kw).study, window=WINDOW, baseline_days=BASELINE, n_boot=9999, seed=5
        )
        for test in ("pre_test", "post_test"):
            ours = getattr(res, test)
            theirs = ref[(ref["study"] == name) & (ref["test"] == test)].iloc[0]
            assert ours["estimate"] == pytest.approx(theirs["estimate"], abs=1e-8)
            # CRV1 SEs differ only by how the absorbed fixed effects enter the small-sample
            # factor (which the bootstrap p-value does not depend on)
            assert ours["std_error"] == pytest.approx(theirs["std_error"], rel=0.01)
            p = theirs["p_boot"]
            mc = np.sqrt(p * (1 - p) * (1 / 9999 + 1 / theirs["reps"]))
            assert abs(ours["p_boot"] - p) <= 4 * mc, (name, test, ours["p_boot"], p)


def _stacked_case():
    from analysis.simulate import simulate_study as sim

    return sim(16, patterns=["followed", "neither"] * 8, n_days=365, seed=4)


def test_stacked_design_recovers_a_planted_reaction_against_clean_controls():
    from analysis.event_study import stacked_event_study

    res = stacked_event_study(_stacked_case().study, window=7, baseline_days=14, n_boot=499)
    assert res.spec["design"] == "clean-control stacked" and res.spec["n_stacks"] == 16
    assert res.spec["n_control_windows"] > 16 and res.spec["n_contaminated"] == 0
    assert res.pre_test["p_boot"] > 0.05 and res.post_test["p_boot"] < 0.05
    tidy = res.tidy().set_index("tau")
    assert (tidy.loc[0:7, "estimate"] > 2).all() and abs(tidy.loc[-7:-1, "estimate"].mean()) < 0.5


def test_stacked_design_equals_ols_with_explicit_fixed_effects(monkeypatch):
    """Alternating projections give the coefficients of OLS with every dummy written out."""
    import analysis.stacked as es

    seen = []
    real_absorb = es._absorb

    def spy(a, groups, tol=1e-10):
        seen.append((a.copy(), [g.copy() for g in groups]))
        return real_absorb(a, groups, tol)

    monkeypatch.setattr(es, "_absorb", spy)
    study = simulate_study(6, patterns=["followed", "neither"] * 3, n_days=200, seed=8).study
    res = es.stacked_event_study(study, window=3, baseline_days=6, n_boot=0)
    (X, groups), (y, _) = seen
    dummies = [np.eye(g.max() + 1)[g] for g in groups]
    full = np.hstack([X, *dummies])
    beta = np.linalg.lstsq(full, y, rcond=None)[0][: X.shape[1]]
    np.testing.assert_allclose(res.params.to_numpy(), beta, atol=1e-8)


def test_contaminated_windows_are_counted_and_can_be_dropped():
    from analysis.datasets import Study, make_event_ids
    from analysis.event_study import stacked_event_study

    study = _stacked_case().study
    ev = study.legal_events
    extra = ev.iloc[[0]].assign(date=ev["date"].iloc[0] + pd.Timedelta(days=3))
    events = pd.concat([ev, extra], ignore_index=True).drop(columns="event_id")
    events.insert(0, "event_id", make_event_ids(events))
    events["event_id"] = events["event_id"] + np.where(events.index == len(events) - 1, "b", "")
    busy = Study(study.cases, events, study.campaigns, study.activity)
    kept = stacked_event_study(busy, window=7, baseline_days=14, n_boot=0)
    assert kept.spec["n_contaminated"] == 2 and kept.spec["n_stacks"] == 17
    dropped = stacked_event_study(
        busy, window=7, baseline_days=14, n_boot=0, drop_contaminated=True
    )
    assert dropped.spec["n_stacks"] == 15


def test_every_estimator_returns_the_one_result_shape_and_etable_takes_them_all():
    """leads and lags, stacked study, placebo test, a segmented regression and a
    counterfactual all give ``tidy()`` starting with the shared columns (issue 17)."""
    from analysis.its import counterfactual, segmented_regression
    from analysis.results import TIDY_COLUMNS, Tidy, etable

    study = simulate_study(12, patterns="followed", seed=3).study
    series = study.activity[study.activity["campaign_id"] == study.activity["campaign_id"][0]]
    series = series.set_index("date")["value"]
    t0 = series.index[len(series) // 2]
    results = [
        leads_lags(study, window=7, n_boot=0),
        stacked_event_study(study, window=7, n_boot=0),
        placebo_test(study, n_draws=49, seed=1),
        segmented_regression(series, t0, pre_days=60, post_days=60),
        counterfactual(series, t0, pre_days=90, post_days=28, seed=1),
    ]
    for r in results:
        assert isinstance(r, Tidy)
        assert tuple(r.tidy().columns[: len(TIDY_COLUMNS)]) == TIDY_COLUMNS, type(r)
    table = etable(results)
    assert table.shape[1] == len(results) and "tau=0" in table.index
    assert "cumulative_effect" in table.index and "post_vs_pre" in table.index
    ll = results[0]
    crit = stats.t.ppf(0.975, ll.n_clusters - 1)  # the same t(G-1) intervals as before
    tidy = ll.tidy()
    assert np.allclose(tidy["conf_high"] - tidy["estimate"], crit * tidy["std_error"])


@pytest.mark.parametrize("n_clusters", [4, 8, 15])
def test_wild_cluster_p_equals_the_wildboottest_package(n_clusters):
    """The vectorised denominator gives the package's p-value to the last digit."""
    from statsmodels.regression.linear_model import OLS
    from wildboottest.wildboottest import wildboottest

    from analysis.event_core import wild_cluster_p

    rng = np.random.default_rng(n_clusters)
    n = 300
    X = np.column_stack([rng.normal(size=n), np.ones(n), rng.normal(size=n)])
    cl = rng.integers(0, n_clusters, n)
    y = X @ np.array([0.15, 1.0, 0.5]) + rng.normal(size=n) + rng.normal(size=n_clusters)[cl]
    ref = wildboottest(
        OLS(y, pd.DataFrame(X, columns=["a", "b", "c"])),
        B=999,
        cluster=cl,
        param="a",
        weights_type="webb",
        seed=5,
        parallel=False,
        show=False,
    )["p-value"].iloc[0]
    assert wild_cluster_p(X, y, cl, 0, 999, 5) == pytest.approx(float(ref), abs=1e-12)
