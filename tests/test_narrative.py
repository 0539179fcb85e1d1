"""The notebooks' helpers: escaping, choices, sentences with numbers, headline JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from analysis import narrative
from analysis.datasets import load_study
from analysis.timing import TimingRule, timing_table


def test_md_escapes_html_and_markdown():
    text = narrative.md("#FreeAna <script>alert(1)</script> [x](javascript:alert(2))")
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert text.startswith("\\#") and "\\[x\\]\\(javascript" in text


def test_save_headlines_writes_plain_json(tmp_path):
    path = tmp_path / "r.json"
    narrative.save_headlines(
        path,
        a=np.float64(1.5),
        b=float("nan"),
        c=pd.NaT,
        d=pd.Timestamp("2020-01-02"),
        e={"x": np.int64(3)},
    )
    assert json.loads(path.read_text()) == {
        "a": 1.5,
        "b": None,
        "c": None,
        "d": "2020-01-02",
        "e": {"x": 3},
    }


def test_case_choices_on_the_minimal_study(minimal_dir):
    study = load_study(minimal_dir, warn=False)
    assert narrative.cases_with_observed_events(study, window=7) == ["free_ana"]
    assert narrative.primary_series(study, "free_ana") == "free_ana"
    assert narrative.primary_series(study, "new_law") is None
    header = narrative.case_header(study, "free_ana")
    assert header["series_labels"] == ["#FreeAna"] and header["n_events"] == 3
    with pytest.raises(KeyError, match="unknown case_id 'nobody'; known cases: free_ana, new_law"):
        narrative.case_header(study, "nobody")


def test_key_event_and_its_sentence(minimal_dir):
    study = load_study(minimal_dir, warn=False)
    table = timing_table(study, TimingRule(window=7, baseline_days=7, n_boot=199)).table
    key = narrative.key_event(table, "free_ana")
    assert key["event_id"] == "free_ana:2024-01-10:arrest"  # the largest rise after the event
    sentence = narrative.timing_sentence(key, "#FreeAna", "views per day", 7)
    assert (
        f"{key['pre_mean']:,.0f} views per day in the 7 days before the event 'arrest' on 10 January 2024"
        in sentence
    )
    assert (
        f"{math.exp(key['lr_post_pre']):.2f}× the run-up" in sentence
        and "labelled 'followed'" in sentence
    )
    counts = pd.DataFrame({"label": ["followed", "neither"], "n": [2, 0]})
    assert narrative.label_summary(counts) == "Of 2 event–series pairs: 2 followed."


def test_overview_tables_count_everything(minimal_dir):
    study = load_study(minimal_dir, warn=False)
    tables = narrative.overview_tables(study)
    assert tables["cases"].loc["total", "total"] == 2
    assert tables["events"].loc["total", "day"] == 3 and tables["events"].loc["total", "month"] == 1


def test_reports_yaml_follows_its_rules_on_the_bundled_data(real_study):
    from analysis.report import load_runs

    runs = load_runs()
    case_runs = sorted(r.parameters["case_id"] for r in runs if r.notebook == "10_case_study")
    type_runs = sorted(r.parameters["event_type"] for r in runs if r.notebook == "20_event_study")
    assert case_runs == narrative.cases_with_observed_events(real_study)
    assert type_runs == narrative.major_event_types(real_study)
    assert {r.notebook for r in runs} == {
        "00_data_overview",
        "10_case_study",
        "20_event_study",
        "30_lead_lag",
        "40_outcomes",
        "41_kelley_simmons_replication",
    }


def test_busiest_pair_is_the_one_with_most_events_on_observed_days(minimal_dir):
    study = load_study(minimal_dir, warn=False)
    case_id, series_id, pair = narrative.busiest_pair(study)
    assert (case_id, series_id) == ("free_ana", "free_ana")
    assert pair["n_events"].sum() == 3 and pair.index.name == "date"
