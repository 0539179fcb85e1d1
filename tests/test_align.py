"""Alignment invariants: gaps stay missing, every event sits at τ = 0, nothing dropped silently."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.align import (
    SeriesBank,
    case_panel,
    event_windows,
    normalise_activity,
    normalise_windows,
)
from analysis.datasets import load_study
from analysis.simulate import simulate_study


def test_bank_keeps_gaps_missing(minimal_dir):
    study = load_study(minimal_dir, warn=False)
    s = SeriesBank.from_activity(study.activity).series("free_ana")
    assert s.index.min() == pd.Timestamp("2023-12-20") and s.index.max() == pd.Timestamp(
        "2024-03-31"
    )
    assert s.loc["2024-02-20":"2024-02-22"].isna().all() and s.notna().sum() == 100
    assert (s.index.to_series().diff().dropna() == pd.Timedelta(days=1)).all()


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    before=st.integers(0, 40),
    after=st.integers(0, 40),
    drop=st.floats(0, 0.5),
)
def test_every_event_sits_at_tau_zero_and_windows_have_the_right_length(seed, before, after, drop):
    sim = simulate_study(3, events_per_case=2, lead=7, n_days=260, seed=seed)
    study = sim.study
    rng = np.random.default_rng(seed)
    act = study.activity[rng.random(len(study.activity)) >= drop]  # random unobserved days
    study = type(study)(study.cases, study.legal_events, study.campaigns, act)
    win = event_windows(study, before, after)
    assert win.values.shape == (len(study.legal_events), before + after + 1)
    lookup = act.set_index(["campaign_id", "date"])["value"]
    zero = win.values[:, win.tau == 0][:, 0]
    for (cid, date), v in zip(
        win.rows[["campaign_id", "date"]].itertuples(index=False), zero, strict=True
    ):
        expected = lookup.get((cid, date), np.nan)
        assert (np.isnan(v) and np.isnan(expected)) or v == expected
    # a day τ of a row is the series' value on event date + τ
    long = win.long()
    sample = long.sample(min(50, len(long)), random_state=seed)
    for rec in sample.to_dict("records"):
        expected = lookup.get((rec["campaign_id"], rec["day"]), np.nan)
        assert (np.isnan(rec["value"]) and np.isnan(expected)) or rec["value"] == expected


def test_no_event_is_dropped_silently():
    from analysis.config import CURATED_DIR
    from analysis.datasets import Study, parse_table, read_raw

    cases = parse_table(read_raw(CURATED_DIR / "cases.csv"), "cases", "cases.csv")
    events = parse_table(
        read_raw(CURATED_DIR / "legal_events.csv"), "legal_events", "legal_events.csv"
    )
    campaigns = parse_table(read_raw(CURATED_DIR / "campaigns.csv"), "campaigns", "campaigns.csv")
    activity = pd.DataFrame(
        {"campaign_id": ["blacklivesmatter"], "date": [pd.Timestamp("2020-05-25")], "value": [1.0]}
    )
    win = event_windows(Study(cases, events, campaigns, activity), 7, 7)
    assert set(win.rows["event_id"]) | set(win.excluded["event_id"]) == set(events["event_id"])
    assert set(win.excluded["reason"]) == {
        "date known only to the month",
        "date known only to the year",
        "the case has no activity series",
    }


def test_incidents_are_added_and_marked(minimal_dir):
    cases = minimal_dir / "cases.csv"
    df = pd.read_csv(cases)
    df["start_date"] = ["2024-01-05", ""]
    df.to_csv(cases, index=False)
    study = load_study(minimal_dir, warn=False)
    win = event_windows(study, 3, 3, include_incidents=True)
    inc = win.rows[win.rows["event_type"] == "incident"]
    assert inc["event_id"].tolist() == ["free_ana:2024-01-05:incident"]


def test_normalisations():
    sim = simulate_study(4, seed=3)
    win = event_windows(sim.study, 42, 14)
    z = normalise_windows(win, "zscore", baseline=(-42, -15))
    base = z.values[:, z.columns(-42, -15)]
    assert np.allclose(np.nanmean(base, axis=1), 0) and np.allclose(
        np.nanstd(base, axis=1, ddof=1), 1
    )
    assert np.allclose(np.nanmax(normalise_windows(win, "share_of_max").values, axis=1), 1)
    assert np.allclose(normalise_windows(win, "log1p").values, np.log1p(win.values))
    act = normalise_activity(
        sim.study.activity, "zscore", baseline_end={"case_00000": pd.Timestamp("2020-03-01")}
    )
    first = act[(act["campaign_id"] == "case_00000") & (act["date"] < "2020-03-01")]["value"]
    assert abs(first.mean()) < 1e-9 and abs(first.std() - 1) < 1e-9


def test_case_panel_counts_events_per_day_and_keeps_gaps(minimal_dir):
    study = load_study(minimal_dir, warn=False)
    panel = case_panel(study)
    assert panel["n_events"].sum() == 3  # the month-precision event is not a day
    assert panel.loc[panel["date"] == "2024-02-01", "event_types"].item() == "charge"
    assert panel["value"].isna().sum() == 3


def test_a_series_listed_twice_for_a_case_is_one_link():
    from analysis.datasets import case_campaign_links

    cases = pd.DataFrame({"case_id": ["a"], "campaign_ids": ["s1;s1; s2"]})
    assert case_campaign_links(cases)["campaign_id"].tolist() == ["s1", "s2"]
