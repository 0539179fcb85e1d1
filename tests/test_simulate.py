import numpy as np
import pytest

from analysis.datasets import Study
from analysis.simulate import PATTERNS, simulate_study


def test_simulated_study_is_in_the_contract(tmp_path):
    from analysis.datasets import load_study, save_study

    sim = simulate_study(8, seed=1)
    assert isinstance(sim.study, Study)
    save_study(sim.study, tmp_path, fmt="parquet")
    loaded = load_study(tmp_path, warn=False)
    assert len(loaded.activity) == 8 * 365 and len(loaded.legal_events) == 8


def test_truth_matches_the_planted_patterns():
    sim = simulate_study(8, lead=14, seed=2)
    assert sim.truth["pattern"].tolist() == [PATTERNS[i % 4] for i in range(8)]
    act = sim.study.activity.set_index(["campaign_id", "date"])["value"]
    for rec in sim.truth.to_dict("records"):
        s = act.loc[rec["campaign_id"]]
        before = s[: rec["date"] - np.timedelta64(30, "D")].mean()
        after = s[rec["date"] :].mean()
        if rec["pattern"] == "neither":
            assert 0.7 < after / before < 1.4
        else:
            assert after / before > 2


def test_same_seed_same_data_and_params_recorded():
    a, b = simulate_study(3, seed=7), simulate_study(3, seed=7)
    assert a.study.activity.equals(b.study.activity)
    assert a.params["seed"] == 7 and not simulate_study(3, seed=8).study.activity.equals(
        a.study.activity
    )


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown patterns"):
        simulate_study(2, patterns=["preceded", "sideways"])
    with pytest.raises(ValueError, match="too short"):
        simulate_study(2, n_days=50)
