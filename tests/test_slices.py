"""Each run's cache key holds the slice of the study it reads: an edit outside the slice
leaves the key and the run's numbers alone; an edit inside it changes the key."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from analysis.report.slices import slice_hash
from analysis.timing import TimingRule, timing_table


def _moved(study, event_id: str, days: int = 1):
    """The study with one legal event moved by ``days``."""
    ev = study.legal_events.copy()
    ev.loc[ev["event_id"] == event_id, "date"] += pd.Timedelta(days=days)
    return dataclasses.replace(study, legal_events=ev)


def _keys(study) -> dict[str, str]:
    runs = {
        "floyd": ("10_case_study", {"case_id": "george_floyd"}),
        "hanna": ("10_case_study", {"case_id": "ichbinhanna"}),
        "amini": ("10_case_study", {"case_id": "mahsa_amini"}),
        "charge": ("20_event_study", {"event_type": "charge", "window": 14, "baseline_days": 28}),
        "overview": ("00_data_overview", {}),
    }
    return {k: slice_hash(study, nb, params, "whole") for k, (nb, params) in runs.items()}


def test_an_edit_changes_the_keys_of_the_runs_that_read_it_and_no_other(real_study):
    before = _keys(real_study)
    assert before["overview"] == "whole" and before["floyd"].startswith("case:")
    hanna = _keys(_moved(real_study, "ichbinhanna:2023-03-17:policy_change"))
    assert [k for k in before if before[k] != hanna[k]] == ["hanna"]
    # a #BlackLivesMatter case's charge: every case on that series, and the charge study
    arbery = next(e for e in real_study.legal_events["event_id"] if e.startswith("ahmaud_arbery"))
    changed = _keys(_moved(real_study, arbery))
    assert changed["floyd"] != before["floyd"]  # Floyd's series is shared with Arbery
    assert changed["hanna"] == before["hanna"] and changed["amini"] == before["amini"]


def test_the_case_slice_holds_what_the_case_study_reads(real_study):
    """Moving an event outside George Floyd's slice moves none of his labels."""
    edited = _moved(real_study, "ichbinhanna:2021-06-24:hearing", days=3)
    assert _keys(edited)["floyd"] == _keys(real_study)["floyd"]
    rule = TimingRule(n_boot=19)
    a = timing_table(real_study, rule, include_incidents=True, cases=["george_floyd"]).table
    b = timing_table(edited, rule, include_incidents=True, cases=["george_floyd"]).table
    pd.testing.assert_frame_equal(a, b)


def test_the_event_type_slice_holds_what_the_event_study_reads(real_study):
    """An event outside the charge windows' span and series changes no number of the
    charge event study; one inside the span changes the key."""
    from analysis.event_study import leads_lags, placebo_test, stacked_event_study

    edited = _moved(real_study, "ichbinhanna:2024-03-27:bill_passed", days=5)
    assert _keys(edited)["charge"] == _keys(real_study)["charge"]

    def numbers(study):
        ll = leads_lags(study, event_types=["charge"], n_boot=99)
        st = stacked_event_study(study, event_types=["charge"], n_boot=99)
        pl = placebo_test(study, event_types=["charge"], n_draws=49)
        return json.dumps(
            [ll.pre_test, ll.post_test, st.pre_test, st.post_test, pl.p_values], default=str
        )

    assert numbers(edited) == numbers(real_study)
    charge = real_study.legal_events.query("event_type == 'charge' and date_precision == 'day'")
    inside = real_study.legal_events[
        real_study.legal_events["date"].between(charge["date"].min(), charge["date"].max())
        & (real_study.legal_events["event_type"] != "charge")
    ]["event_id"].iloc[0]
    assert _keys(_moved(real_study, inside))["charge"] != _keys(real_study)["charge"]


@pytest.mark.slow
def test_editing_one_event_reruns_its_case_study_and_the_pooled_runs_only(tmp_path):
    """The batch on a simulated study: after one legal event of one case moves, that case's
    study and the overview rerun; the other case's study is reused, and the index says so."""
    from analysis.datasets import save_study
    from analysis.report import load_runs, run_batch
    from analysis.simulate import simulate_study

    data = tmp_path / "study"
    sim = simulate_study(3, events_per_case=2, n_days=400, lead=14, seed=7)
    save_study(sim.study, data, fmt="csv")
    cases = list(sim.study.cases["case_id"])
    runs_file = tmp_path / "runs.yaml"
    entries = [{"notebook": "00_data_overview"}] + [
        {
            "notebook": "10_case_study",
            "id": f"case-{c}",
            "parameters": {"case_id": c, "n_boot": 19, "onset_boot": 19},
        }
        for c in cases[:2]
    ]
    runs_file.write_text(json.dumps({"runs": entries}))

    def batch():
        from analysis import config

        runs = load_runs(runs_file, config.NOTEBOOKS_DIR)
        result = run_batch(
            runs, data_dir=data, out_dir=tmp_path / "reports", progress=False, workers=2
        )
        return {r.run_id: r.cached for r in result.records}, result

    first, _ = batch()
    assert not any(first.values())
    events = pd.read_csv(data / "legal_events.csv", dtype=str)
    row = events.index[events["case_id"] == cases[0]][0]
    events.loc[row, "date"] = str(
        (pd.Timestamp(events.loc[row, "date"]) + pd.Timedelta(days=1)).date()
    )
    events.to_csv(data / "legal_events.csv", index=False)
    second, result = batch()
    reran = sorted(k for k, cached in second.items() if not cached)
    assert reran == ["00_data_overview", f"case-{cases[0]}"]
    assert second[f"case-{cases[1]}"] is True
    page = (tmp_path / "reports" / "index.html").read_text()
    assert "1 reused unchanged" in page
    assert result.counts["cached"] == 1


def test_hashing_rows_once_gives_the_hash_of_the_selected_rows(real_study):
    """The hasher digests per-row hashes of whole tables: the same bytes as hashing the
    selected rows themselves (a row's hash must not depend on the other rows)."""
    import hashlib

    from analysis.report.slices import SliceHasher

    links = real_study.case_campaigns()
    series = set(links.loc[links["case_id"] == "george_floyd", "campaign_id"])
    cases = {"george_floyd"} | set(links.loc[links["campaign_id"].isin(series), "case_id"])
    digest = hashlib.sha256()
    for name, frame in [
        ("cases", real_study.cases[real_study.cases["case_id"].isin(cases)]),
        ("legal_events", real_study.legal_events[real_study.legal_events["case_id"].isin(cases)]),
        ("campaigns", real_study.campaigns[real_study.campaigns["campaign_id"].isin(series)]),
        ("activity", real_study.activity[real_study.activity["campaign_id"].isin(series)]),
    ]:
        digest.update(name.encode())
        digest.update(",".join(map(str, frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    hasher = SliceHasher(real_study)
    assert hasher("10_case_study", {"case_id": "george_floyd"}, "w") == "case:" + digest.hexdigest()
    assert len(cases) > 1  # a shared series: several cases' rows in the slice
