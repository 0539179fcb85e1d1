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
    # a level change is a fold change: +120 % reads 2.20x, -10 % 0.90x, +250 % 3.50x
    assert "2.20× the level the trend before it predicts, 95% interval 0.90× to 3.50×" in text
    assert "no detectable change" in text
    huge = narrative.impact_sentence(155194.0, 4, impact, placebo, level_interval=(10, 1e6))
    assert "Level on the event day: 1,553× the level" in huge and "+155194%" not in huge
    assert "Gibbs sampler" in text
    median_forecast = impact.cumulative["observed_sum"] - impact.cumulative["effect"]
    assert f"against a median forecast of {median_forecast:,.0f}" in text
    c = impact.cumulative
    assert (
        f"{narrative.fold(c['ratio'])} the forecast (95% interval {narrative.fold(c['ratio_low'])}"
        in text
    )
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


def test_ratio_conclusion_says_inconclusive_when_the_interval_includes_one():
    row = pd.Series({"odds_ratio": 1.4, "odds_ratio_low": 0.9, "odds_ratio_high": 2.1})
    c = narrative.ratio_conclusion(row, "odds_ratio", "the odds")
    assert "1.40× as high (95% interval 0.90× to 2.10×)" in c.verdict
    assert "inconclusive" in c.verdict
    row = pd.Series({"odds_ratio": 1.4, "odds_ratio_low": 1.1, "odds_ratio_high": 2.1})
    c = narrative.ratio_conclusion(row, "odds_ratio", "the odds")
    assert "inconclusive" not in c.verdict and "not the effect of pressure" in c.caveat


def test_a_conclusion_is_one_escaped_paragraph_with_verdict_and_caveat():
    c = narrative.Conclusion("Rose before <b>x</b>.", "Shared & noisy.")
    html = c._repr_html_()
    assert html.startswith('<p class="verdict"><strong>Verdict:</strong> Rose before &lt;b&gt;')
    assert "<strong>Caveat:</strong> Shared &amp; noisy.</p>" in html
    assert str(c) == "Verdict: Rose before <b>x</b>. Caveat: Shared & noisy."
    assert narrative.fold(0.93) == "0.93×" and narrative.fold(12.44) == "12.4×"
    assert narrative.fold(1553.2) == "1,553×" and narrative.fold(0.0012) == "0.0012×"
    assert narrative.fold(float("nan")) == "n/a"


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
    text = narrative.stacked_sentence(st, of=6)
    assert text.startswith("4 of the 6 event windows have clean control series")
    assert "(9 control windows); 1 of them" in text and "(kept)" in text
    verdict = narrative.stacked_conclusion(st).verdict
    assert verdict == (
        "Against clean series on the same days (wild cluster bootstrap): no detectable "
        "change before the events (p = 0.60), and a rise after them, relative to before "
        "(p = 0.010)."
    )
    st.post_test["p_boot"] = 0.2
    assert "no detectable change after them" in narrative.stacked_conclusion(st).verdict

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
    verdict = narrative.granger_conclusion(found, 0.05).verdict
    assert verdict.startswith("Activity predicts legal events in 1 of 3 pairs")

    panel = pd.DataFrame({"case_id": ["a", "a", "b"], "event": [0, 1, 0], "competing": [0, 0, 1]})
    panel.attrs = {"excluded": {"c": "no criminal process"}, "n_dropped_periods": 2}
    fit = SimpleNamespace(
        tidy=lambda: pd.DataFrame(
            [{"hazard_ratio": 1.2, "hazard_ratio_low": 0.9, "hazard_ratio_high": 1.6}]
        )
    )
    text = narrative.time_to_charge_sentence(panel, fit, 365)
    assert text.startswith("2 criminal cases followed from the incident for at most 365 days")
    assert "Left out: c: no criminal process" in text and "Hazard ratio 1.20" in text
    c = narrative.time_to_charge_conclusion(panel, fit)
    assert "inconclusive" in c.verdict and c.caveat.startswith("1 charges in 2 cases")


def test_main_series_and_not_enough(minimal_dir):
    from analysis.errors import InsufficientData

    study = load_study(minimal_dir, warn=False)
    assert narrative.main_series(study) == "free_ana"
    c = narrative.not_enough("the model", InsufficientData("1 case; <two> needed"))
    assert c.verdict == "Not enough data for the model: 1 case; <two> needed."
    assert "&lt;two&gt;" in c._repr_html_()  # escaped where it is shown


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
    assert format_value("estimate", 0.00027) == "0.00027"  # never e-notation (was 2.7e-04)
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


def test_an_onset_on_a_shared_series_before_the_incident_is_not_this_cases(real_study):
    """#BlackLivesMatter rose on 28 April 2020, during Ahmaud Arbery's case: on George
    Floyd's page that rise must not read as attention to his case (killed 25 May)."""
    from analysis.timing import onsets

    case = narrative.case_header(real_study, "george_floyd")
    o = onsets(real_study, cases=["george_floyd"], n_boot=0).iloc[0]
    assert o["onset"] < pd.Timestamp("2020-05-25")
    c = narrative.onset_conclusion(real_study, case, "blacklivesmatter", o)
    assert "before the incident (25 May 2020)" in c.verdict
    assert "not attention to this case" in c.verdict
    assert "Killing of Ahmaud Arbery" in c.caveat and "shared with" in c.caveat
    # a case's own series: its onset is attention to the case, with the band's caveat
    own = narrative.case_header(real_study, "mahsa_amini")
    mo = onsets(real_study, cases=["mahsa_amini"], n_boot=19).iloc[0]
    c = narrative.onset_conclusion(real_study, own, mo["campaign_id"], mo)
    assert (
        c.verdict.startswith("Attention to this case (#MahsaAmini")
        and "its own series" in c.verdict
    )
    assert "bootstrap band" in c.caveat
    none = narrative.onset_conclusion(real_study, own, None, None)
    assert none.verdict.startswith("No activity series covers")


def test_the_timing_conclusion_counts_the_answering_labels_and_their_caveats(real_study):
    table = timing_table(real_study, TimingRule(n_boot=19), cases=["george_floyd"]).table
    case = narrative.case_header(real_study, "george_floyd")
    c = narrative.timing_conclusion(table, case)
    legal = table[table["preferred"] & (table["event_type"] != "incident")]
    counts = legal["label"].value_counts()
    before = int(counts.get("preceded", 0) + counts.get("both", 0))
    assert f"Of this case's {len(legal)} legal events" in c.verdict
    assert f"attention rose before {before} (preceded or both)" in c.verdict
    assert f"{len(legal)} of the {len(legal)} labels rest on a series other cases share" in c.caveat


def test_one_sample_for_every_section_of_an_event_study(real_study):
    """The page states one N: the windows the sample counts are exactly those the
    leads-and-lags regression (one fixed effect per window) and the placebo test use."""
    from analysis.event_study import event_time_curves, leads_lags, placebo_test

    sample = narrative.event_sample(real_study, "charge", 14, 28)
    ll = leads_lags(real_study, window=14, event_types=["charge"], n_boot=0)
    placebo = placebo_test(real_study, window=14, event_types=["charge"], n_draws=9)
    curves = event_time_curves(real_study, window=14, event_types=["charge"], n_boot=9)
    assert sample["n_windows"] == ll.spec["n_fixed_effects"] == placebo.n_rows
    assert sample["n_cases"] == ll.n_clusters == curves["n_cases"].max()
    c = narrative.event_sample_conclusion(sample, "charge")
    assert c.verdict.startswith(f"{sample['n_windows']} 'charge' event windows in")
    assert f"Left out, of the events of this type: {sample['n_unobserved']} without" in c.caveat


def test_weaker_sources_are_flagged_and_the_rows_licence_stated(real_study):
    assert narrative.source_kind("https://en.wikipedia.org/wiki/X") == "an encyclopedia"
    assert narrative.source_kind("https://boingboing.net/2021/06/25/x") != ""
    assert narrative.source_kind("https://www.justice.gov/opa/x") == ""
    assert narrative.source_kind("javascript:alert(1)") == ""
    page = narrative.sources_table(real_study, "george_floyd")
    assert page.count("weaker source:") == 2  # latimesnow and Boing Boing
    assert "MIT licence" in page and "2 of them cite" in page
    assert "<td>26 May 2020</td>" in page and "<td>resignation or dismissal</td>" in page


def test_the_overview_conclusion_names_what_kind_of_attention_the_data_hold(real_study):
    c = narrative.overview_conclusion(real_study, real_study.coverage())
    assert "on twitter" in c.verdict
    assert "page views, search interest and news coverage are not in this study" in c.caveat


def test_an_impact_conclusion_says_when_the_prior_decides(monkeypatch):
    from types import SimpleNamespace

    cum = {"ratio": 1.08, "ratio_low": 0.07, "ratio_high": 6.45, "n_post_days": 28}
    impact = SimpleNamespace(cumulative=cum)
    ci = SimpleNamespace(cumulative={**cum, "ratio": 1.37, "ratio_low": 1.05, "ratio_high": 1.78})
    none = pd.DataFrame({"placebo_date": [], "effect": [], "excludes_zero": []})
    c = narrative.impact_conclusion(impact, none, ci, shared=True)
    assert "1.08× the forecast" in c.verdict and "inconclusive" in c.verdict
    assert "CausalImpact's default prior" in c.caveat and "shared" in c.caveat
    agree = narrative.impact_conclusion(impact, none, impact)
    assert "no earlier date had enough observed days" in agree.caveat
    quiet = pd.DataFrame({"placebo_date": [1, 2], "effect": [0.1, 0.2], "excludes_zero": [0, 0]})
    assert "no 'effect' at 2 earlier dates" in narrative.impact_conclusion(impact, quiet).caveat


def test_the_cross_correlation_verdict_counts_crossings_against_chance():
    lags = np.arange(-14, 15)
    few = pd.DataFrame({"lag": lags, "outside_band": np.isin(lags, [1, 11])})
    c = narrative.xcorr_conclusion(few, "Death of X")
    assert "2 of 29 lags cross the band" in c.verdict and "no more than chance" in c.verdict
    assert "1 day (legal events first), 11 days (legal events first)" in c.verdict
    many = pd.DataFrame({"lag": lags, "outside_band": np.isin(lags, [-7, -6, -5, -4, -3])})
    c = narrative.xcorr_conclusion(many, "Death of X")
    assert (
        "5 of 29 lags" in c.verdict and "more than chance would produce (up to 4 of 29" in c.verdict
    )


def test_front_page_verdicts_give_units_intervals_and_readable_event_words():
    from analysis.narrative import run_verdict

    h = {"logit_or_pre_pressure": 1.63, "logit_or_low": 1.06, "logit_or_high": 2.51, "logit_n": 77}
    text = run_verdict("40_outcomes", h)
    assert text.startswith("Each e-fold (2.7×) rise of activity in the run-up over its baseline")
    assert "1.63× the odds" in text and "(95% CI 1.06–2.51)" in text
    h = {
        "discoveries_activity_to_events": 0,
        "discoveries_events_to_activity": 1,
        "pairs": 22,
        "alpha": 0.05,
        "event_rate_ratio": 2.31,
        "event_rate_low": 1.5,
        "event_rate_high": 3.6,
        "event_rate_p": 0.0001,
    }
    assert "for each standard deviation of higher activity" in run_verdict("30_lead_lag", h)
    h = {
        "event_type": "no_charge",
        "n_cases": 8,
        "n_windows": 12,
        "pre_test_estimate": 0.1,
        "pre_test_p_boot": 0.5,
        "post_test_estimate": 0.2,
        "post_test_p_boot": 0.6,
    }
    text = run_verdict("20_event_study", h)
    assert "before a decision not to charge" in text and "12 event windows in 8 cases" in text


def test_an_onset_near_the_start_of_the_data_says_it_may_have_begun_earlier(real_study):
    from analysis.timing import onsets

    case = narrative.case_header(real_study, "mahsa_amini")
    o = onsets(real_study, cases=["mahsa_amini"], n_boot=0).iloc[0]
    c = narrative.onset_conclusion(real_study, case, o["campaign_id"], o)
    assert "it may have begun before the data do" in c.caveat
    assert "(16 legal events (" not in narrative.case_line(case)
    assert "dated to the day, the rest to the month or year" in narrative.case_line(case)


def test_held_rises_are_the_clean_rises_before_legal_events_the_breakdown_counts():
    """The front page names the rises that hold: preceded or both, a legal event (not the
    incident), no other case's event in the windows, not borderline, not a second row."""
    day = pd.Timestamp

    def row(event_type, label, date, confounded="", borderline=False, preferred=True):
        return {
            "event_type": event_type,
            "label": label,
            "date": day(date),
            "confounded_by": confounded,
            "borderline": borderline,
            "preferred": preferred,
            "series_scope": "case",
        }

    timing = pd.DataFrame(
        [
            row("verdict", "both", "2021-04-20"),
            row("no_charge", "preceded", "2020-06-03"),
            row("incident", "preceded", "2020-05-25"),  # the incident: not a legal event
            row("charge", "preceded", "2020-05-29", confounded="ahmaud_arbery"),
            row("arrest", "preceded", "2020-05-29", borderline=True),
            row("release", "followed", "2020-10-07"),
            row("sentence", "preceded", "2021-06-25", preferred=False),  # not the answering row
        ]
    )
    held = narrative.held_rises(timing)
    assert held == [
        {"event": "decision not to charge", "date": "2020-06-03"},
        {"event": "verdict", "date": "2021-04-20"},
    ]
    clean = narrative.label_breakdown(timing)["clean"]
    assert sum(clean.get(k, 0) for k in ("preceded", "both")) == len(held)
