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
    granger_discoveries,
    granger_f,
    granger_tests,
    impulse_responses,
    shift_p_values,
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


def test_prewhitened_cross_correlation_matches_r():
    """The steps of R's TSA::prewhiten in base R (ar.ols, filter, ccf) on the same days:
    tests/data/reference/causality/prewhiten_reference.R wrote the numbers."""
    from pathlib import Path

    here = Path(__file__).parent / "data" / "reference" / "causality"
    data = pd.read_csv(here / "prewhiten_data.csv")
    ref = pd.read_csv(here / "prewhiten_reference.csv")
    days = pd.date_range("2020-01-01", periods=len(data))
    x, y = pd.Series(data["x"].to_numpy(), days), pd.Series(data["y"].to_numpy(), days)
    fixed = ref[ref["setting"] == "fixed"]
    ours = cross_correlation(x, y, 14, ar_order=2)
    assert ours["lag"].tolist() == fixed["lag"].tolist()
    assert np.allclose(ours["ccf"], fixed["ccf"], atol=1e-12)
    assert ours["n"].iloc[0] == fixed["n"].iloc[0] == 298
    assert ours.set_index("lag")["ccf"].idxmax() == -3  # x moves three days first
    # statsmodels' AIC compares every order on the same days and finds the true AR(2);
    # R's ar.ols compares orders on different days and picks 5: the one known difference
    assert cross_correlation(x, y, 14)["ar_order"].iloc[0] == 2
    assert ref.loc[ref["setting"] == "aic", "ar_order"].iloc[0] == 5


def test_prewhitening_keeps_the_band_honest_for_unrelated_persistent_series():
    """Two independent AR(0.9) series: the raw white-noise band flags about half the lags;
    after prewhitening about 5 % lie outside, as a 95 % band promises."""
    rng = np.random.default_rng(0)
    days = pd.date_range("2021-01-01", periods=400)
    raw, white = [], []
    for _ in range(40):
        e = rng.normal(size=(2, 400))
        z = np.zeros((2, 400))
        for t in range(1, 400):
            z[:, t] = 0.9 * z[:, t - 1] + e[:, t]
        x, y = (pd.Series(np.exp(v), days) for v in z)
        raw.append(cross_correlation(x, y, 14, prewhiten=False)["outside_band"].mean())
        white.append(cross_correlation(x, y, 14)["outside_band"].mean())
    assert np.mean(raw) > 0.3
    assert 0.02 < np.mean(white) < 0.08


def test_cross_correlation_uses_only_jointly_observed_days():
    days = pd.date_range("2021-01-01", periods=100)
    x = pd.Series(np.arange(100.0) % 7, index=days)
    y = x.copy()
    y.iloc[40] = np.nan
    cc = cross_correlation(x, y, 3)
    assert cc["n"].iloc[0] + cc["ar_order"].iloc[0] == 59  # prewhitening uses the first days
    assert cross_correlation(x, y, 3, prewhiten=False)["n"].iloc[0] == 59


def test_granger_tests_are_tidy_both_directions_and_bh_corrected_across_pairs():
    sim = simulate_study(6, events_per_case=3, n_days=500, lead=7, seed=3)
    g = granger_tests(sim.study, lags=(1, 7), n_shifts=99)
    assert set(g["cause"]) == {"activity", "legal_events"} and set(g["effect"]) == {
        "activity",
        "legal_events",
    }
    assert len(g) == 6 * 2 * 2
    assert g["p_shift"].between(0.01, 1).all()  # 1/(1 + 99) at the least
    pairs = g.groupby(["case_id", "campaign_id", "cause"]).agg(
        p=("p_shift", "min"), adjusted=("p_adjusted", "first")
    )
    combined = np.minimum(1, 2 * pairs["p"])  # two lags per pair, Bonferroni
    assert np.allclose(pairs["adjusted"], multipletests(combined, method="fdr_bh")[1])
    assert np.isnan(bh_adjust(np.array([np.nan, 0.01]))[0])


def test_shift_p_values_find_a_planted_lead_and_keep_their_size():
    rng = np.random.default_rng(9)
    T, S = 400, 40
    events = (rng.random((S, T)) < 0.01).astype(float)
    ar = np.zeros((S, T))
    for t in range(1, T):  # activity: a persistent AR(1) with a trend, events-free
        ar[:, t] = 0.95 * ar[:, t - 1] + rng.normal(size=S)
    ar += np.linspace(0, 3, T)
    null = shift_p_values(ar, events, [1, 7], shift_events="cause", n_shifts=99, seed=1)
    for lag in (1, 7):
        p = null[lag][np.isfinite(null[lag])]
        assert len(p) >= 35 and np.mean(p < 0.05) <= 0.15  # about 5 %
    planted = ar + 3 * np.roll(events, 2, axis=1)  # events raise activity two days later
    found = shift_p_values(planted, events, [7], shift_events="cause", n_shifts=99, seed=1)
    assert np.nanmean(found[7] < 0.05) >= 0.8


def test_granger_discoveries_count_pairs_not_tests():
    g = pd.DataFrame(
        {
            "case_id": ["a", "a", "b", "b"],
            "campaign_id": "s",
            "cause": "activity",
            "effect": "legal_events",
            "lag": [1, 7, 1, 7],
            "significant": [True, True, False, False],
            "note": "",
        }
    )
    d = granger_discoveries(g).iloc[0]
    assert d["pairs"] == 2 and d["discoveries"] == 1


@pytest.mark.slow
def test_granger_on_the_real_data_lists_short_series_with_a_note(real_study):
    """F p-values made 12 BH 'discoveries' on the bundled data; rotations leave none."""
    g = granger_tests(real_study, lags=(7,), n_shifts=199)
    assert (bh_adjust(g["p_value"]) < 0.05).sum() >= 5 and not g["significant"].any()
    short = g[g["campaign_id"] == "ferguson"]
    assert len(short) == 2 and short["note"].str.contains("too short").all()
    assert g.loc[g["note"] == "", "f_stat"].notna().all()


def test_impulse_responses_show_the_planted_response():
    x, y = _driven(S=1, T=600, seed=4)
    days = pd.date_range("2020-01-01", periods=600)
    irf = impulse_responses(
        pd.Series(y[0], days), pd.Series(x[0], days), transform="none", periods=6
    )
    both = irf[(irf["impulse"] == "legal_events") & (irf["response"] == "activity")]
    assert set(both["ordering"]) == {"activity first", "legal events first"}
    first = both[both["ordering"] == "activity first"].set_index("horizon")
    assert first.loc[0, "estimate"] == 0  # the ordering forces no same-day response...
    other = both[both["ordering"] == "legal events first"].set_index("horizon")
    assert other.loc[0, "estimate"] != 0  # ...which the other ordering allows
    resp = first
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


def _events_from_activity(seed: int, strength: float):
    """Activity from simulate_study; events drawn each day with a rate that rises with the
    previous week's activity (``strength`` per SD; 0: independent)."""
    from analysis.datasets import Study, make_event_ids

    sim = simulate_study(12, patterns="neither", n_days=400, seed=seed)
    rng = np.random.default_rng(seed)
    rows = []
    for cid, g in sim.study.activity.groupby("campaign_id"):
        x = np.log1p(g["value"].to_numpy())
        before = pd.Series(x).shift(1).rolling(7).mean()
        z = ((before - before.mean()) / before.std()).fillna(0).to_numpy()
        rate = 0.01 * np.exp(strength * z)
        for day, k in zip(g["date"], rng.poisson(rate), strict=True):
            rows += [(cid, day)] * int(min(k, 1))
    events = pd.DataFrame(rows, columns=["case_id", "date"]).assign(
        date_precision="day", event_type="hearing", direction="neutral", source_url=""
    )
    events["date"] = pd.to_datetime(events["date"]).astype("datetime64[ns]")
    events.insert(0, "event_id", make_event_ids(events))
    events = events.drop_duplicates("event_id")
    return Study(sim.study.cases, events, sim.study.campaigns, sim.study.activity)


def test_event_rate_model_recovers_a_planted_dependence_and_keeps_its_size():
    from analysis.causality import event_rate_model

    found = event_rate_model(_events_from_activity(1, strength=0.8)).tidy().set_index("term")
    assert found.loc["pressure_sd", "rate_ratio_low"] > 1.3
    rejections = [
        event_rate_model(_events_from_activity(100 + s, strength=0.0))
        .tidy()
        .set_index("term")
        .loc["pressure_sd", "p_value"]
        < 0.05
        for s in range(30)
    ]
    assert np.mean(rejections) <= 0.15


def test_an_information_criterion_chooses_one_lag_per_pair():
    from analysis.causality import select_lag

    rng = np.random.default_rng(3)
    x = np.zeros(600)
    for t in range(3, 600):  # an AR(3) series
        x[t] = 0.3 * x[t - 1] + 0.3 * x[t - 3] + rng.normal()
    events = (rng.random(600) < 0.05).astype(float)
    assert select_lag(x, events, 10, "aic") >= 3
    assert select_lag(x, np.zeros(600), 10) == 1
    sim = simulate_study(6, events_per_case=3, n_days=500, seed=3)
    g = granger_tests(sim.study, lags="bic", max_lag=10, n_shifts=49)
    assert g.groupby(["case_id", "cause"])["lag"].nunique().eq(1).all()
    assert g["lag"].between(1, 10).all()


@pytest.mark.parametrize("rotate_effect", [False, True])
def test_rotated_f_equals_granger_on_each_rolled_series(rotate_effect):
    """Every shift's F at once (FFT) equals granger_many on the explicitly rolled series,
    including shifts that leave a lag column of the events empty (F undefined)."""
    from analysis.granger import _rotated_f, granger_many

    rng = np.random.default_rng(3)
    T = 500
    activity = np.cumsum(rng.normal(0, 0.1, T)) + np.log1p(rng.poisson(40, T))
    edge = np.zeros(T)
    edge[[5, 6]] = 1.0  # two events at the start: some rotations put both in the edge
    many = np.zeros(T)
    many[[5, 6, 77, 78, 80, 200, 311, 312]] = [1, 1, 2, 1, 1, 1, 1, 3]  # near each other
    shifts = np.concatenate([rng.choice(np.arange(30, T - 29), 60, replace=False), [T - 6]])
    for events, p in [(e, p) for e in (edge, many) for p in (1, 3, 14)]:
        rolled = np.stack([np.roll(events, k) for k in shifts])
        fixed = np.repeat(activity[None, :], len(shifts), 0)
        ref = granger_many(*((rolled, fixed) if rotate_effect else (fixed, rolled)), [p])[p]
        ours = _rotated_f(activity, events, shifts, p, rotate_effect)
        want = ref["f_stat"].to_numpy()
        assert np.array_equal(np.isnan(ours), np.isnan(want))
        ok = ~np.isnan(want)
        assert np.allclose(ours[ok], want[ok], rtol=1e-6, atol=1e-9)
