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
    assert sentence.startswith("#FreeAna (the case's own series) around the arrest on 10 January")
    assert f"{key['pre_mean']:,.0f} views per day in the 7 days before" in sentence
    after = math.exp(max(key["lr_short_pre"], key["lr_post_pre"]))
    assert f"{after:.1f}× the last days before" in sentence and "Label: 'followed'" in sentence
    shared = key.copy()
    shared["confounded_by"], shared["series_scope"] = "free_bob", "shared"
    text = narrative.timing_sentence(shared, "#Free", "views per day")
    assert "a series shared with other cases" in text and "(free_bob)" in text
    other = table.loc[
        (table["case_id"] == "free_ana") & (table["event_id"] != key["event_id"]), "event_id"
    ].iloc[0]
    assert narrative.key_event(table, "free_ana", other)["event_id"] == other
    with pytest.raises(ValueError, match="usable events: free_ana:"):
        narrative.key_event(table, "free_ana", "free_ana:1999-01-01:arrest")
    counts = pd.DataFrame({"label": ["followed", "neither"], "n": [2, 0]})
    assert narrative.label_summary(counts) == "Of 2 event–series pairs: 2 followed."


def test_overview_tables_count_everything(minimal_dir):
    study = load_study(minimal_dir, warn=False)
    tables = narrative.overview_tables(study)
    assert tables["cases"].loc["total", "total"] == 2
    assert tables["events"].loc["total", "day"] == 3 and tables["events"].loc["total", "month"] == 1


def test_reports_yaml_follows_its_rules_on_the_bundled_data(real_study):
    from analysis.report import load_runs

    runs = load_runs(study=real_study, bundled=True)
    case_runs = sorted(r.parameters["case_id"] for r in runs if r.notebook == "10_case_study")
    type_runs = sorted(r.parameters["event_type"] for r in runs if r.notebook == "20_event_study")
    assert case_runs == narrative.cases_with_observed_events(real_study)
    assert type_runs == narrative.major_event_types(real_study)
    named = {
        r.parameters["case_id"]: r.parameters["its_event"]
        for r in runs
        if "its_event" in r.parameters
    }
    assert named == {
        "george_floyd": "george_floyd:2021-04-20:conviction",  # the Chauvin verdict
        "mahsa_amini": "mahsa_amini:2022-11-24:international_action",  # UN HRC special session
    }
    table = timing_table(real_study.subset(list(named)), TimingRule(n_boot=99)).table
    for case_id, event_id in named.items():
        assert narrative.key_event(table, case_id, event_id)["event_id"] == event_id
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


def test_impact_sentence_reports_the_counterfactual_and_its_placebo_dates():
    from analysis.its import counterfactual, placebo_in_time

    rng = np.random.default_rng(0)
    days = pd.date_range("2022-01-01", periods=300)
    y = pd.Series(100 * np.exp(rng.normal(0, 0.1, 300)), days)
    y.iloc[250:] *= 3
    impact = counterfactual(y, days[250], pre_days=90, post_days=28, n_sims=200)
    placebo = placebo_in_time(
        y, days[250], offsets=(28, 56, 84, 400), pre_days=90, post_days=28, n_sims=200
    )
    counts = narrative.placebo_counts(placebo)
    assert counts["placebo_dates"] == 3  # the date 400 days back has no training data
    text = narrative.impact_sentence(120.0, 4, impact, placebo, level_interval=(-10.0, 250.0))
    assert "+120%, 95% interval -10% to +250%: no detectable change" in text
    assert "Gibbs sampler" in text
    median_forecast = impact.cumulative["observed_sum"] - impact.cumulative["effect"]
    assert f"against a median forecast of {median_forecast:,.0f}" in text
    c = impact.cumulative
    assert f"{c['ratio']:.2f}× the forecast (95% interval {c['ratio_low']:.2f}×" in text
    assert "**more activity than the forecast**" in text
    assert impact.cumulative["relative"] > 1  # activity tripled on day 250
    assert "3 earlier dates" in text
    assert f"at {counts['placebo_alarms']} of them" in text

    fake = pd.DataFrame(
        {
            "placebo_date": pd.to_datetime(["2022-03-01", "2022-04-01"]),
            "effect": [5.0, np.nan],
            "excludes_zero": [True, np.nan],
            "note": ["", "need at least 14 observed days before the event"],
        }
    )
    assert narrative.placebo_counts(fake) == {"placebo_dates": 1, "placebo_alarms": 1}
    assert "already moving before the event" in narrative.impact_sentence(0, 1, impact, fake)
    none = pd.DataFrame({"placebo_date": [days[0]], "note": ["too short"]})
    assert narrative.placebo_counts(none) == {"placebo_dates": 0, "placebo_alarms": 0}
    assert "No placebo date" in narrative.impact_sentence(0, 1, impact, none)


def test_ratio_verdict_says_inconclusive_when_the_interval_includes_one():
    row = pd.Series({"odds_ratio": 1.4, "odds_ratio_low": 0.9, "odds_ratio_high": 2.1})
    text = narrative.ratio_verdict(row, "odds_ratio", "the odds")
    assert "1.40 times as high (95% interval 0.90 to 2.10)" in text and "inconclusive" in text
    row = pd.Series({"odds_ratio": 1.4, "odds_ratio_low": 1.1, "odds_ratio_high": 2.1})
    assert "not the effect of pressure" in narrative.ratio_verdict(row, "odds_ratio", "the odds")


def test_stacked_granger_and_time_to_charge_sentences_end_with_a_verdict():
    from types import SimpleNamespace

    st = SimpleNamespace(
        pre_test={"estimate": 0.1, "p_boot": 0.6},
        post_test={"estimate": 2.0, "p_boot": 0.01},
        spec={
            "n_stacks": 4,
            "n_control_windows": 9,
            "n_contaminated": 1,
            "dropped_contaminated": False,
        },
    )
    text = narrative.stacked_sentence(st)
    assert "4 event windows, 9 clean control windows, 1 event windows" in text and "(kept)" in text
    assert text.endswith("activity rose after these events more than on clean series.")
    st.post_test["p_boot"] = 0.2
    assert "no rise after these events" in narrative.stacked_sentence(st)

    found = pd.DataFrame(
        [
            {"cause": "activity", "effect": "legal_events", "pairs": 3, "discoveries": 1},
            {"cause": "legal_events", "effect": "activity", "pairs": 3, "discoveries": 0},
        ]
    )
    g = pd.DataFrame({"p_value": [0.001, 0.2, np.nan]})
    text = narrative.granger_sentence(g, found, 0.05)
    assert "1 of 3 pairs where activity predicts legal events" in text
    assert "0 of 3 pairs where legal events predict activity" in text
    assert "1 tests would look significant" in text

    panel = pd.DataFrame({"case_id": ["a", "a", "b"], "event": [0, 1, 0], "competing": [0, 0, 1]})
    panel.attrs = {"excluded": {"c": "no criminal process"}, "n_dropped_periods": 2}
    fit = SimpleNamespace(
        tidy=lambda: pd.DataFrame(
            [{"hazard_ratio": 1.2, "hazard_ratio_low": 0.9, "hazard_ratio_high": 1.6}]
        )
    )
    text = narrative.time_to_charge_sentence(panel, fit, 365)
    assert text.startswith("2 criminal cases followed from the incident for at most 365 days")
    assert "Left out: c: no criminal process" in text and "inconclusive" in text


def test_main_series_and_not_enough(minimal_dir):
    from analysis.errors import InsufficientData

    study = load_study(minimal_dir, warn=False)
    assert narrative.main_series(study) == "free_ana"
    text = narrative.not_enough("the model", InsufficientData("1 case; *two* needed"))
    assert text.startswith("**Not enough data for the model:** 1 case; \\*two\\* needed.")


def test_tables_read_like_prose_numbers():
    """One dictionary names every column; numbers are written by kind; no index."""
    import pandas as pd

    from analysis.columns import format_value, label_of
    from analysis.narrative import readable

    assert format_value("p_value", 0.0002) == "< 0.001" and format_value("p_value", 0.04) == "0.040"
    assert format_value("n_placebo", 3265.0) == "3,265"  # a count, not 3265.000
    assert format_value("hazard_ratio", 1.149) == "1.15×"
    assert format_value("stability_boot", 0.75) == "75%"
    assert format_value("pct_observed", 99.97) == "99.9%"  # never 100.0 when it is not
    assert format_value("estimate", float("nan")) == ""  # never a raw nan
    assert label_of("lr_pre_base_p") == "Rise before: p" and label_of("odd_name") == "odd name"
    frame = pd.DataFrame(
        {"event_id": ["a:<b>"], "verdict": ["preceded"], "p_value": [0.5]}, index=[7]
    )
    html = readable(frame).to_html()
    assert html.index("Verdict") < html.index("Event")  # the verdict column first
    assert "&lt;b&gt;" in html and ">7<" not in html  # escaped; no index


def test_a_table_download_is_written_only_by_the_batch_beside_the_page(tmp_path):
    import pandas as pd
    import pytest

    from analysis.narrative import table_download

    frame = pd.DataFrame({"event_id": ["a"], "p_value": [0.0123456789]})
    assert table_download(frame, "timing", "") == ""  # by hand: nothing written
    assert list(tmp_path.iterdir()) == []
    link = table_download(frame, "timing", tmp_path / ".results.json.partial")
    assert link == "[Download this table (CSV)](table-timing.csv)"
    assert pd.read_csv(tmp_path / "table-timing.csv")["p_value"][0] == 0.0123456789
    with pytest.raises(ValueError):
        table_download(frame, "../x", tmp_path / "r.json")


def test_a_stale_run_folder_with_its_tables_is_removed_but_not_one_with_a_users_file(tmp_path):
    from analysis.report import Run, remove_stale_runs

    for name, extra in (("old", "table-timing.csv"), ("kept", "my notes.txt")):
        folder = tmp_path / "runs" / name
        folder.mkdir(parents=True)
        for f in ("status.json", "report.html", extra):
            (folder / f).write_text("x")
    removed = remove_stale_runs(tmp_path, [Run("nb", {}, "current", "T")])
    assert [p.name for p in removed] == ["old"] and (tmp_path / "runs" / "kept").is_dir()


def test_an_event_study_verdict_takes_its_direction_from_the_estimate():
    """The front page said 'a rise before a settlement' for a significant fall (found by a
    reader's review): the sign decides rise or fall, the p-value only whether to say so."""
    from analysis.narrative import run_verdict

    h = {
        "event_type": "settlement",
        "n_cases": 5,
        "pre_test_estimate": -0.45,
        "pre_test_p_boot": 0.014,
        "post_test_estimate": 0.3,
        "post_test_p_boot": 0.4,
        "placebo_p_pre": 0.94,
        "placebo_p_post": 0.001,
    }
    text = run_verdict("20_event_study", h)
    assert "a fall before a settlement (p = 0.014)" in text and "rise before" not in text
    assert "no detectable change after it" in text and "the two tests disagree" in text
    assert "an acquittal" in run_verdict("20_event_study", {**h, "event_type": "acquittal"})
    old = {k: v for k, v in h.items() if not k.endswith("_estimate")}
    assert run_verdict("20_event_study", old) == "See the report for its numbers."


def test_model_terms_and_yes_no_read_as_words_and_numpy_counts_get_separators():
    import numpy as np
    import pandas as pd

    from analysis.columns import format_value
    from analysis.narrative import readable

    assert format_value("term", "level_change") == "level change at the event"
    assert format_value("term", "loggdppercap_1") == "loggdppercap 1"
    assert format_value("match", np.bool_(True)) == "yes"
    assert format_value("n_placebo", np.int64(3265)) == "3,265"
    frame = pd.DataFrame({"term": ["pre_vs_base"], "conf_low": [-3.7]})
    html = readable(frame, labels={"conf_low": "No-effect range low"}).to_html()
    assert "No-effect range low" in html and "before the event vs the baseline" in html
