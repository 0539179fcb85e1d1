"""Timing labels and onsets recover planted truth; real events can be traced."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.align import SeriesBank
from analysis.datasets import Study
from analysis.onset import robust_noise, segment_many
from analysis.simulate import SHAPES, shape_accuracy, simulate_shapes, simulate_study
from analysis.timing import (
    LABELS,
    TimingRule,
    detect_onset,
    geometry,
    label_rows,
    placebo_labels,
    timing_table,
)


def test_labels_recover_the_planted_direction():
    """The first simulation (a rise 14 days before, on the day, both, none), at SNR 4.

    DGP: AR(1) log-scale noise (sd 0.25, φ 0.5) around 200 posts/day, Poisson counts,
    one event per case, incident 28 days before it. Measured: 99.5 % of 200 events.
    """
    sim = simulate_study(200, lead=14, effect=1.0, noise=0.25, seed=0)
    result = timing_table(sim.study, stability=False)
    merged = result.table.merge(sim.truth[["event_id", "pattern"]], on="event_id")
    assert (merged["label"] == merged["pattern"]).mean() >= 0.95


def test_every_shape_real_reactions_take_is_labelled_as_planted():
    """Event-day spikes, an incident days before a charge, a rise inside the run-up,
    weekly cycles, another case's wave on a shared series (see simulate.SHAPES).

    Measured on 3 seeds × 50 per shape: 97.7 % overall, every shape ≥ 94 %; here one
    seed of 30 per shape, held to the issue's bounds (≥ 90 % overall, ≥ 75 % per shape).
    """
    sim = simulate_shapes(30, seed=11)
    table = timing_table(sim.study, stability=False).table
    acc = shape_accuracy(sim.truth, table)
    main = acc[acc["shape"] != "shared_wave_other"]
    per_shape = main.groupby("shape")["correct"].mean()
    assert set(per_shape.index) == set(SHAPES)
    assert main["correct"].mean() >= 0.9, per_shape
    assert per_shape.min() >= 0.75, per_shape


def test_a_spike_on_the_event_day_reads_followed():
    """The Weinstein / Cosby pattern: a one- or two-day reaction, then back."""
    sim = simulate_shapes(20, shapes=["spike"], seed=3)
    table = timing_table(sim.study, stability=False).table
    assert (table["label"] == "followed").mean() >= 0.9
    assert (table["lr_short_pre"] > table["lr_post_pre"]).all()  # the short window sees it


def test_the_run_up_starts_at_the_incident_and_the_baseline_before_it():
    sim = simulate_shapes(20, shapes=["incident_charge"], seed=4)
    table = timing_table(sim.study, stability=False).table
    assert (table["runup_since"] == "previous date of the case").all()
    assert (table["runup_days"] == 4).all()  # incident 4 days before the charge
    starts = sim.study.cases.set_index("case_id")["start_date"]
    assert (table["baseline_end"] < table["case_id"].map(starts)).all()
    assert (table["label"] == "preceded").mean() >= 0.9


def test_geometry_moves_the_baseline_before_the_cases_earlier_dates():
    rule = TimingRule()
    day = pd.Timestamp("2020-05-29")
    g = geometry(day, [pd.Timestamp("2020-05-25"), pd.Timestamp("2020-05-26"), day], rule)
    assert g.runup == (-3, -1) and g.runup_since == "previous date of the case"
    assert g.base == (-32, -5)  # 28 days ending the day before the incident (τ = −4)
    far = geometry(day, [pd.Timestamp("2019-01-01")], rule)
    assert far.runup == (-14, -1) and far.base == (-42, -15) and far.runup_since == "fixed window"
    # a date of the case inside every baseline it could move to: it stays, flagged
    crowded = [day - pd.Timedelta(days=d) for d in range(20, 200, 10)]
    g = geometry(day, crowded, rule)
    assert g.base[1] == g.runup[0] - 1 and "holds the case's earlier dates" in g.baseline_kind


def test_noise_only_is_rarely_labelled_a_rise():
    sim = simulate_shapes(100, shapes=["neither", "weekly_neither"], seed=12)
    labels = timing_table(sim.study, stability=False).table["label"]
    assert (labels == "neither").mean() >= 0.93


def test_an_incident_is_never_labelled_preceded():
    """Even when activity rose before it (here: a planted rise before the 'event')."""
    sim = simulate_shapes(20, shapes=["preceded"], seed=5)
    cases = sim.study.cases.assign(start_date=pd.NaT)
    events = sim.study.legal_events
    # make every charge the case's incident instead
    cases["start_date"] = cases["case_id"].map(events.set_index("case_id")["date"])
    study = Study(cases, events.iloc[:0], sim.study.campaigns, sim.study.activity)
    table = timing_table(study, include_incidents=True, stability=False).table
    assert len(table) == 20 and (table["event_type"] == "incident").all()
    assert (table["rose_before"]).mean() > 0.8  # it did rise before...
    assert not table["label"].isin(["preceded", "both"]).any()  # ...but it is not "preceded"


def test_an_incident_on_the_day_of_an_event_is_that_event():
    sim = simulate_study(3, seed=2)
    first = sim.study.legal_events.groupby("case_id")["date"].min()
    cases = sim.study.cases.assign(start_date=sim.study.cases["case_id"].map(first))
    study = Study(cases, sim.study.legal_events, sim.study.campaigns, sim.study.activity)
    table = timing_table(study, include_incidents=True, stability=False).table
    assert len(table) == 3 and not (table["event_type"] == "incident").any()


def test_another_cases_wave_on_a_shared_series_is_named():
    sim = simulate_shapes(20, shapes=["shared_wave"], seed=6)
    table = timing_table(sim.study, stability=False).table
    mine = table[~table["case_id"].str.endswith("_other")]
    assert (mine["confounded_by"] == mine["case_id"] + "_other").all()
    assert (mine["series_scope"] == "shared").all()
    rose = mine[mine["label"] != "neither"]
    assert rose["verdict"].str.contains("shared series: ").all()


@pytest.mark.slow
def test_comparison_dates_avoid_every_cases_events():
    """Placebo dates of real series: the false-label rate stays near α (here ≤ 8 %).

    Measured (benchmarks/calibration.md): 4.5 % of 10,308 dates over 12 series.
    """
    sim = simulate_shapes(30, shapes=["neither", "spike", "preceded"], seed=7)
    p = placebo_labels(sim.study, n_dates=40, seed=1)
    labelled = p[p["label"] != "insufficient data"]
    assert len(labelled) > 1000
    assert labelled["label"].isin(["preceded", "followed", "both"]).mean() <= 0.08


def test_stability_marks_labels_near_the_cut():
    sim = simulate_shapes(15, shapes=["preceded", "neither"], effect=0.45, seed=8)
    table = timing_table(sim.study, TimingRule(n_boot=99)).table
    assert table["stability_boot"].between(0, 1).all()
    assert table["stability_spec"].between(0, 1).all()
    weak = table[table["borderline"]]
    assert len(weak) >= 1  # a weak effect leaves some labels near the cut
    assert (weak["verdict"].str.contains("borderline")).all()
    clear = simulate_shapes(10, shapes=["followed"], effect=2.0, seed=9)
    strong = timing_table(clear.study, TimingRule(n_boot=99)).table
    assert (strong["stability_boot"] >= 0.95).all() and not strong["borderline"].any()


def test_the_case_own_series_is_preferred_over_a_shared_one():
    sim = simulate_shapes(4, shapes=["shared_wave"], seed=10)
    study = sim.study
    own_id = "own_series"
    first = study.cases["case_id"].iloc[1]  # a case that shares its series
    cases = study.cases.copy()
    cases.loc[1, "campaign_ids"] = cases.loc[1, "campaign_ids"] + ";" + own_id
    act = study.activity[
        study.activity["campaign_id"] == cases.loc[1, "campaign_ids"].split(";")[0]
    ]
    act = act.assign(campaign_id=own_id)
    camps = pd.concat([study.campaigns, study.campaigns.iloc[:1].assign(campaign_id=own_id)])
    study = Study(cases, study.legal_events, camps, pd.concat([study.activity, act]))
    table = timing_table(study, stability=False).table
    rows = table[table["case_id"] == first]
    assert len(rows) == 2
    assert rows.loc[rows["preferred"], "campaign_id"].tolist() == [own_id]
    assert table.groupby("event_id")["preferred"].sum().eq(1).all()


def test_unobserved_windows_give_insufficient_data():
    sim = simulate_study(4, seed=5)
    ev = sim.truth.set_index("campaign_id")["date"]
    act = sim.study.activity
    cid = "case_00001"
    hide = (
        (act["campaign_id"] == cid)
        & (act["date"] >= ev[cid] - pd.Timedelta(days=14))
        & (act["date"] < ev[cid])
    )
    act = act.assign(value=act["value"].mask(hide))
    study = Study(sim.study.cases, sim.study.legal_events, sim.study.campaigns, act)
    table = timing_table(study, stability=False).table.set_index("campaign_id")
    assert table.loc[cid, "label"] == "insufficient data" and table.loc[cid, "n_pre"] == 0
    assert "not observed" in table.loc[cid, "why"]
    assert (table.drop(index=cid)["label"] != "insufficient data").all()


def test_results_carry_their_assumptions_and_are_reproducible():
    sim = simulate_shapes(4, shapes=["preceded", "neither"], effect=0.5, seed=6)
    rule = TimingRule(window=10, baseline_days=20, n_boot=49, seed=3)
    a, b = timing_table(sim.study, rule), timing_table(sim.study, rule)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.assumptions["seed"] == 3 and a.assumptions["window"] == 10
    assert "seed 3" in a.assumptions["rule"] and "else the 10 days before" in a.assumptions["rule"]
    assert a.counts()["label"].tolist() == list(LABELS) and a.counts()["n"].sum() == 8


def test_one_case_is_labelled_alone_but_knows_the_others():
    sim = simulate_shapes(5, shapes=["shared_wave"], seed=13)
    whole = timing_table(sim.study, stability=False).table
    case = whole["case_id"].iloc[0]
    one = timing_table(sim.study, cases=[case], stability=False).table
    assert set(one["case_id"]) == {case}
    cols = ["event_id", "label", "confounded_by", "lr_pre_base", "lr_pre_base_p"]
    pd.testing.assert_frame_equal(
        one[cols].reset_index(drop=True),
        whole.loc[whole["case_id"] == case, cols].reset_index(drop=True),
    )


def test_label_rule_truth_table():
    before = np.array([True, True, False, False, True])
    after = np.array([True, False, True, False, True])
    enough = np.array([True, True, True, True, False])
    assert label_rows(before, after, enough).tolist() == [
        "both",
        "preceded",
        "followed",
        "neither",
        "insufficient data",
    ]


def test_rule_validates_its_parameters():
    for bad in ({"window": 1}, {"level": 1.5}, {"threshold": float("nan")}, {"n_boot": 5}):
        with pytest.raises(ValueError, match="timing rule needs"):
            TimingRule(**bad)


@pytest.mark.parametrize("min_size", [1, 3, 7])
def test_segmentation_equals_ruptures_pelt(min_size):
    """The batched optimal partitioning gives ruptures' PELT breakpoints (L2 cost, every
    day a candidate) on log counts with planted level shifts, and the same penalty."""
    import ruptures as rpt

    rng = np.random.default_rng(min_size)
    rows = []
    for _ in range(40):
        n = int(rng.integers(2 * min_size + 2, 160))
        x = np.log1p(rng.poisson(rng.choice([5, 50, 500]), n).astype(float))
        for _ in range(int(rng.integers(0, 4))):
            x[int(rng.integers(0, n)) :] += rng.normal(0, 1)
        pen = 2 * max(robust_noise(x), 1e-6) ** 2 * np.log(n)
        ref = rpt.Pelt(model="l2", min_size=min_size, jump=1).fit(x).predict(pen=pen)
        rows.append((segment_many(x, pen, min_size)[0], ref))
    assert all(ours == ref for ours, ref in rows)
    assert sum(len(ref) > 1 for _, ref in rows) >= 20  # most series have change points
    # many rows at once give each row's own answer
    X = np.log1p(rng.poisson(40, (5, 90)).astype(float))
    X[2, 45:] += 2.0
    assert segment_many(X, 0.5, 7) == [segment_many(x, 0.5, 7)[0] for x in X]


def _onset_case(seed: int):
    sim = simulate_study(1, patterns="preceded", lead=21, n_days=200, seed=seed)
    ev = sim.truth.iloc[0]
    s = SeriesBank.from_activity(sim.study.activity).series(ev["campaign_id"])
    window = s[
        (s.index >= ev["date"] - pd.Timedelta(days=60))
        & (s.index <= ev["date"] + pd.Timedelta(days=20))
    ]
    return window, ev


@pytest.mark.slow
def test_onset_band_covers_the_planted_onset_at_about_its_nominal_rate():
    """Measured: 97.5 % of 40 seeds (99 replicates each) for a nominal 95 % band."""
    covered = []
    exact = []
    for seed in range(30):
        s, ev = _onset_case(seed)
        o = detect_onset(s, n_boot=79, seed=seed)
        covered.append(o.onset_low is not None and o.onset_low <= ev["onset"] <= o.onset_high)
        exact.append(o.onset == ev["onset"])
    assert 0.85 <= np.mean(covered) <= 1.0
    assert np.mean(exact) >= 0.7


def test_no_onset_in_noise_and_gaps_are_skipped():
    sim = simulate_study(1, patterns="neither", n_days=200, seed=2)
    s = SeriesBank.from_activity(sim.study.activity).series("case_00000")
    o = detect_onset(s, n_boot=0)
    assert o.onset is None and o.peak_value == s.max()
    s2, ev = _onset_case(3)
    gappy = s2.copy()
    gappy.iloc[5:15] = np.nan
    o2 = detect_onset(gappy, n_boot=0)
    assert o2.onset == ev["onset"] and o2.n_days == len(s2) - 10


@pytest.mark.slow
def test_george_floyd_events_on_the_real_data(real_study):
    """The killing (incident, 2020-05-25) and the charging of Chauvin (2020-05-29).

    Rule v1 labelled the charge 'followed': its fixed 14-day run-up held the surge that
    began with the killing. v2 measures the run-up since the case's previous date and the
    baseline before the killing.
    """
    table = timing_table(real_study, include_incidents=True).table.set_index("event_id")
    killing = table.loc["george_floyd:2020-05-25:incident"]
    assert killing["campaign_id"] == "blacklivesmatter" and killing["label"] == "followed"
    assert killing["pre_mean"] < 5_000 < 300_000 < killing["short_mean"]
    charge = table.loc["george_floyd:2020-05-29:charge"]
    assert charge["label"] != "followed" and charge["rose_before"]
    assert charge["runup_days"] == 3 and charge["baseline_end"] == pd.Timestamp("2020-05-24")
    assert charge["pre_mean"] > 40 * charge["base_mean"]  # the run-up holds the surge
    assert "ahmaud_arbery" in charge["confounded_by"]
    incidents = table[table["event_type"] == "incident"]
    assert not incidents["label"].isin(["preceded", "both"]).any()
    blm = table[(table["campaign_id"] == "blacklivesmatter") & (table["confounded_by"] != "")]
    rose = blm[blm["label"].isin(["preceded", "followed", "both"])]
    assert len(rose) >= 8 and rose["verdict"].str.contains("shared series").all()
    labelled = table[table["label"] != "insufficient data"]
    numbers = ["base_mean", "pre_mean", "short_mean", "post_mean", "lr_pre_base_p", "n_placebo"]
    assert labelled[numbers].notna().all().all()
    assert labelled["stability_boot"].between(0, 1).all()


def test_stationary_indices_follow_arch_rule_for_every_replicate_at_once():
    """The stability bootstrap draws all replicates at once. From the same draws, each
    row of indices equals arch's own stationary-bootstrap sampler, and counting each
    date drawn block by block (start, length) gives the same counts as counting arch's
    indices; both resamplings have blocks of the expected mean length."""
    from arch.bootstrap._samplers_python import stationary_bootstrap_sample_python

    from analysis.timing_math import (
        block_counts,
        stationary_continue,
        stationary_counts,
        stationary_indices,
    )

    rng = np.random.default_rng(5)
    n, reps, p = 200, 50, 1 / 7.5
    start = rng.integers(n, size=(reps, n), dtype=np.int64)
    u = rng.random((reps, n))
    ours = stationary_continue(start.copy(), u.copy(), p)
    n_blocks = max(int((u[:, 1:] <= p).sum(axis=1).max()) + 1, 1)
    starts = np.zeros((reps, n_blocks), dtype=np.int64)
    lengths = np.zeros((reps, n_blocks), dtype=np.int64)
    for r in range(reps):
        theirs = stationary_bootstrap_sample_python(start[r].copy(), u[r], p)
        assert np.array_equal(ours[r], theirs)
        begins = np.flatnonzero(np.r_[True, u[r, 1:] <= p])  # where arch starts a block
        starts[r, : len(begins)] = start[r, begins]
        lengths[r, : len(begins)] = np.diff(np.r_[begins, n])
        counted = np.bincount(theirs, minlength=n)
        assert np.array_equal(block_counts(starts[r : r + 1], lengths[r : r + 1], n)[0], counted)
    assert np.array_equal(
        block_counts(starts, lengths, n), np.stack([np.bincount(i, minlength=n) for i in ours])
    )
    index = stationary_indices(500, 400, 7.5, np.random.default_rng(1))
    assert index.min() >= 0 and index.max() < 500
    breaks = (np.diff(index, axis=1) % 500) != 1  # a new block (a wrap continues one)
    assert abs(breaks.mean() - 1 / 7.5) < 0.01
    times = stationary_counts(500, 400, 7.5, np.random.default_rng(2))
    assert times.shape == (400, 500) and np.all(times.sum(axis=1) == 500)
    # neighbouring dates are drawn together as often as in the day-by-day resampling
    # (about 1 - 1/7.5; 0 for an iid bootstrap, 0.5 for blocks of mean length 2)
    by_day = np.stack([np.bincount(i, minlength=500) for i in index])

    def together(counts):
        c = counts - counts.mean(axis=0)
        return (c[:, :-1] * c[:, 1:]).mean()

    assert abs(together(times) - together(by_day)) < 0.05
    assert abs(together(times) - (1 - 1 / 7.5)) < 0.05


def test_the_block_length_is_arch_optimal_block_length():
    """The stability bootstrap's block length equals arch's public optimal_block_length
    (its stationary column) on short, long and trending series."""
    from arch.bootstrap import optimal_block_length

    from analysis.timing import stationary_block_length

    rng = np.random.default_rng(3)
    ar = np.zeros(800)
    for i in range(1, 800):
        ar[i] = 0.8 * ar[i - 1] + rng.normal()
    for x in (rng.normal(size=40), ar, np.linspace(0, 1, 300) + rng.normal(size=300) * 0.1):
        theirs = float(optimal_block_length(x)["stationary"].iloc[0])
        assert stationary_block_length(x) == pytest.approx(theirs, rel=1e-12)
