"""Cross-correlation and Granger tests: planted leads recovered, statistics equal statsmodels'."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.tsa.stattools import grangercausalitytests

from analysis.causality import (
    bh_adjust,
    cross_correlation,
    granger_f,
    granger_tests,
    impulse_responses,
)
from analysis.simulate import simulate_study


def _driven(S: int = 20, T: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(S, T))
    y = np.zeros((S, T))
    for t in range(3, T):
        y[:, t] = 0.3 * y[:, t - 1] + 0.4 * x[:, t - 3] + rng.normal(size=S)
    return x, y


@pytest.mark.parametrize("lag", [1, 2, 5, 14])
def test_granger_f_equals_statsmodels(lag):
    x, y = _driven()
    ours = granger_f(y, x, lag)
    for s in range(len(x)):
        f, p, df_denom, df_num = grangercausalitytests(np.column_stack([y[s], x[s]]), [lag])[lag][
            0
        ]["ssr_ftest"]
        assert ours["f_stat"][s] == pytest.approx(f, rel=1e-8, abs=1e-8)
        assert ours["p_value"][s] == pytest.approx(p, rel=1e-8, abs=1e-12)
        assert (ours["df_denom"][s], ours["df_num"][s]) == (df_denom, df_num)


def test_granger_recovers_the_direction():
    x, y = _driven(S=30)
    forward = granger_f(y, x, 3)["p_value"]
    backward = granger_f(x, y, 3)["p_value"]
    assert (forward < 1e-6).all() and (backward > 0.001).mean() > 0.9


def test_rank_deficient_design_gives_nan_not_nonsense():
    y = np.random.default_rng(1).normal(size=(1, 100))
    assert np.isnan(granger_f(y, np.zeros((1, 100)), 2)["f_stat"][0])


def test_cross_correlation_finds_a_planted_lead_and_lag():
    rng = np.random.default_rng(2)
    days = pd.date_range("2021-01-01", periods=300)
    x = pd.Series(np.exp(rng.normal(size=300)), index=days)
    follower = pd.Series(np.roll(x.to_numpy(), 4), index=days)  # follower[t] = x[t - 4]
    cc = cross_correlation(x, follower, 10).set_index("lag")
    assert cc["ccf"].idxmax() == -4 and cc.loc[-4, "outside_band"]
    cc2 = cross_correlation(follower, x, 10).set_index("lag")
    assert cc2["ccf"].idxmax() == 4


def test_cross_correlation_uses_only_jointly_observed_days():
    days = pd.date_range("2021-01-01", periods=100)
    x = pd.Series(np.arange(100.0) % 7, index=days)
    y = x.copy()
    y.iloc[40] = np.nan
    assert cross_correlation(x, y, 3)["n"].iloc[0] == 59


def test_granger_tests_are_tidy_both_directions_and_bh_corrected():
    sim = simulate_study(6, events_per_case=3, n_days=500, lead=7, seed=3)
    g = granger_tests(sim.study, lags=(1, 7))
    assert set(g["cause"]) == {"activity", "legal_events"} and set(g["effect"]) == {
        "activity",
        "legal_events",
    }
    assert len(g) == 6 * 2 * 2
    ok = g["p_value"].notna()
    assert np.allclose(
        g.loc[ok, "p_adjusted"], multipletests(g.loc[ok, "p_value"], method="fdr_bh")[1]
    )
    assert np.isnan(bh_adjust(np.array([np.nan, 0.01]))[0])


def test_granger_on_the_real_data_lists_short_series_with_a_note(real_study):
    g = granger_tests(real_study, lags=(7,))
    short = g[g["campaign_id"] == "ferguson"]
    assert len(short) == 2 and short["note"].str.contains("too short").all()
    assert g.loc[g["note"] == "", "f_stat"].notna().all()


def test_impulse_responses_show_the_planted_response():
    x, y = _driven(S=1, T=600, seed=4)
    days = pd.date_range("2020-01-01", periods=600)
    irf = impulse_responses(
        pd.Series(y[0], days), pd.Series(x[0], days), transform="none", periods=6
    )
    resp = irf[(irf["impulse"] == "legal_events") & (irf["response"] == "activity")].set_index(
        "horizon"
    )
    assert resp.loc[3, "conf_low"] > 0
    with pytest.raises(ValueError, match="two varying series"):
        impulse_responses(pd.Series(y[0], days), pd.Series(0.0, days), transform="none")


def test_all_lags_from_one_gram_matrix_equal_statsmodels():
    from analysis.causality import granger_many

    x, y = _driven(S=6, T=300, seed=5)
    y = np.log1p(np.exp(y) * 100)  # a level far from zero, as log counts are
    many = granger_many(y, x, range(1, 15))
    for s in range(len(x)):
        ref = grangercausalitytests(np.column_stack([y[s], x[s]]), 14)
        for lag in range(1, 15):
            f, p, df_denom, _ = ref[lag][0]["ssr_ftest"]
            assert many[lag]["f_stat"][s] == pytest.approx(f, rel=1e-8, abs=1e-8), (s, lag)
            assert many[lag]["p_value"][s] == pytest.approx(p, rel=1e-8, abs=1e-12)
            assert many[lag]["df_denom"][s] == df_denom
