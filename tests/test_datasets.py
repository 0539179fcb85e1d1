"""Loading, saving and describing study folders."""

from __future__ import annotations

import string
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis._io import atomic_write
from analysis.datasets import (
    Study,
    case_campaign_links,
    coverage,
    load_activity,
    load_cases,
    load_study,
    make_event_ids,
    save_study,
)
from analysis.errors import DataError, DataWarning
from analysis.schema import DIRECTIONS, EVENT_TYPES, STANCES


def test_load_study_types_every_table(minimal_dir):
    study = load_study(minimal_dir, warn=False)
    assert str(study.legal_events["date"].dtype) == "datetime64[ns]"
    assert str(study.activity["date"].dtype) == "datetime64[ns]"
    assert study.activity["value"].dtype == np.float64
    assert study.campaigns["stance"].tolist() == ["supporting"]
    # extra columns pass through
    assert "summary" in study.cases and "description" in study.legal_events


def test_month_precision_event_is_stored_as_first_day_and_written_back(minimal_dir, tmp_path):
    study = load_study(minimal_dir, warn=False)
    law = study.legal_events.query("case_id == 'new_law'").iloc[0]
    assert law["date"] == pd.Timestamp("2024-05-01") and law["date_precision"] == "month"
    assert law["event_id"] == "new_law:2024-05:bill_passed"
    save_study(study, tmp_path / "out", fmt="csv")
    written = pd.read_csv(tmp_path / "out" / "legal_events.csv", dtype=str)
    assert "2024-05" in written["date"].tolist()
    assert "event_id" not in written


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_every_format_round_trips(minimal_dir, tmp_path, fmt):
    study = load_study(minimal_dir, warn=False)
    save_study(study, tmp_path / fmt, fmt=fmt)
    again = load_study(tmp_path / fmt, warn=False)
    for name, frame in study.tables().items():
        pd.testing.assert_frame_equal(again.tables()[name], frame, check_dtype=False)


def test_two_files_for_one_table_is_an_error(minimal_dir):
    pd.read_csv(minimal_dir / "cases.csv").to_parquet(minimal_dir / "cases.parquet")
    with pytest.raises(
        DataError,
        match=r"'cases\.csv and cases\.parquet' — expected exactly one file for the table cases",
    ):
        load_study(minimal_dir)


def test_a_missing_table_is_named(minimal_dir):
    (minimal_dir / "campaigns.csv").unlink()
    with pytest.raises(DataError) as info:
        load_study(minimal_dir)
    assert info.value.lines() == [
        f"{minimal_dir}: 'no campaigns table' — expected a file named "
        "campaigns.csv, campaigns.parquet, campaigns.xlsx"
    ]


def test_semicolon_csv_gets_a_plain_explanation(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_text("case_id;title;country;category;campaign_ids\na;A;USA;x;\n")
    with pytest.raises(
        DataError,
        match=r"cases.csv:1::.*expected comma-separated columns \(this file separates them with semicolons",
    ):
        load_cases(path)


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_bytes(
        "case_id,title,country,category,campaign_ids\na,Caf\xe9,FRA,x,\n".encode("latin-1")
    )
    with pytest.raises(DataError) as info:
        load_cases(path)
    assert info.value.lines() == [
        f"{path}:2:: 'e9 2c 46 52' — expected UTF-8 text (in Excel: Save As 'CSV UTF-8')"
    ]


def test_utf8_with_bom_is_read(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_bytes("\ufeffcase_id,title,country,category,campaign_ids\na,Café,FRA,x,\n".encode())
    assert load_cases(path)["title"].tolist() == ["Café"]


def test_empty_file_is_an_error_and_header_only_is_an_empty_table(tmp_path):
    empty = tmp_path / "cases.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="expected a header row naming the columns"):
        load_cases(empty)
    header = tmp_path / "campaign_activity.csv"
    header.write_text("campaign_id,date,value\n")
    assert len(load_activity(header)) == 0


def test_excel_dates_and_numbers_are_read_as_the_user_sees_them(tmp_path):
    frame = pd.DataFrame(
        {
            "campaign_id": ["a", "a"],
            "date": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "value": [3, None],
        }
    )
    frame.to_excel(tmp_path / "campaign_activity.xlsx", index=False)
    loaded = load_activity(tmp_path / "campaign_activity.xlsx")
    assert loaded["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-01", "2024-01-02"]
    assert loaded["value"].iloc[0] == 3 and np.isnan(loaded["value"].iloc[1])


def test_warnings_are_emitted_and_kept(minimal_dir):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = load_study(minimal_dir)
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert messages == list(study.warnings)
    assert any("free_ana: 1 gap(s)" in m for m in messages)


def test_case_campaign_links_split_and_skip_empty():
    cases = pd.DataFrame({"case_id": ["a", "b", "c"], "campaign_ids": ["x;y", None, "z"]})
    links = case_campaign_links(cases)
    assert links.to_dict("list") == {"case_id": ["a", "a", "c"], "campaign_id": ["x", "y", "z"]}


def test_event_ids_are_unique_even_for_repeats():
    events = pd.DataFrame(
        {
            "case_id": ["a", "a", "a"],
            "date": pd.to_datetime(["2020-01-01"] * 3),
            "date_precision": ["day", "day", "year"],
            "event_type": ["arrest", "arrest", "arrest"],
        }
    )
    assert make_event_ids(events).tolist() == [
        "a:2020-01-01:arrest",
        "a:2020-01-01:arrest:2",
        "a:2020:arrest",
    ]


def test_coverage_matches_a_plain_reindex():
    rng = np.random.default_rng(0)
    days = pd.date_range("2020-01-01", periods=200, freq="D")
    keep = rng.random(200) > 0.3
    keep[[0, -1]] = True
    values = np.where(rng.random(200) > 0.9, np.nan, 1.0)
    values[[0, -1]] = 1.0
    act = pd.DataFrame({"campaign_id": "s", "date": days[keep], "value": values[keep]})
    cov = coverage(act).iloc[0]
    observed = act.dropna().set_index("date")["value"].reindex(days)
    runs = (observed.isna() & ~observed.isna().shift(fill_value=False)).sum()
    assert cov["observed_days"] == observed.notna().sum()
    assert cov["span_days"] == 200
    assert cov["n_gaps"] == runs
    assert cov["pct_observed"] == pytest.approx(100 * observed.notna().mean())


def test_atomic_write_leaves_nothing_when_the_writer_fails(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")

    def broken(p: Path) -> None:
        p.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


# --------------------------------------------------------------------- property-based

slugs = st.text(
    alphabet=string.ascii_lowercase + string.digits + "_", min_size=1, max_size=12
).filter(lambda s: s[0] != "_")
safe_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip() == s and s != "")


@st.composite
def studies(draw) -> Study:
    case_ids = draw(st.lists(slugs, min_size=1, max_size=4, unique=True))
    campaign_ids = draw(st.lists(slugs, min_size=1, max_size=3, unique=True))
    cases = pd.DataFrame(
        {
            "case_id": case_ids,
            "title": [draw(safe_text) for _ in case_ids],
            "country": [draw(st.sampled_from(["USA", "IRN", "DEU", "NGA"])) for _ in case_ids],
            "category": [draw(slugs) for _ in case_ids],
            "campaign_ids": [
                ";".join(draw(st.lists(st.sampled_from(campaign_ids), max_size=2, unique=True)))
                or None
                for _ in case_ids
            ],
        }
    )
    n_events = draw(st.integers(0, 6))
    dates = [
        draw(st.dates(pd.Timestamp("2000-01-01").date(), pd.Timestamp("2030-12-31").date()))
        for _ in range(n_events)
    ]
    precisions = [draw(st.sampled_from(["day", "month", "year"])) for _ in range(n_events)]
    starts = [
        pd.Timestamp(d)
        if p == "day"
        else pd.Timestamp(d.year, d.month, 1)
        if p == "month"
        else pd.Timestamp(d.year, 1, 1)
        for d, p in zip(dates, precisions, strict=True)
    ]
    events = pd.DataFrame(
        {
            "case_id": [draw(st.sampled_from(case_ids)) for _ in range(n_events)],
            "date": pd.to_datetime(starts).astype("datetime64[ns]")
            if n_events
            else pd.Series([], dtype="datetime64[ns]"),
            "date_precision": precisions,
            "event_type": [draw(st.sampled_from(EVENT_TYPES)) for _ in range(n_events)],
            "direction": [draw(st.sampled_from(DIRECTIONS)) for _ in range(n_events)],
            "source_url": [
                draw(st.one_of(st.none(), st.just("https://example.org/x")))
                for _ in range(n_events)
            ],
        }
    )
    events.insert(0, "event_id", make_event_ids(events))
    campaigns = pd.DataFrame(
        {
            "campaign_id": campaign_ids,
            **{
                c: [draw(safe_text) for _ in campaign_ids]
                for c in ("label", "platform", "metric", "unit", "source", "license")
            },
            "stance": [draw(st.sampled_from(STANCES)) for _ in campaign_ids],
        }
    )
    rows = []
    for cid in campaign_ids:
        start = pd.Timestamp(
            draw(st.dates(pd.Timestamp("2010-01-01").date(), pd.Timestamp("2025-01-01").date()))
        )
        n = draw(st.integers(1, 20))
        values = draw(
            st.lists(
                st.one_of(st.none(), st.floats(0, 1e9, allow_nan=False)), min_size=n, max_size=n
            )
        )
        for i, v in enumerate(values):
            rows.append((cid, start + pd.Timedelta(days=i), np.nan if v is None else v))
    activity = pd.DataFrame(rows, columns=["campaign_id", "date", "value"])
    activity["date"] = activity["date"].astype("datetime64[ns]")
    activity = activity.sort_values(["campaign_id", "date"]).reset_index(drop=True)
    for frame in (cases, events, campaigns, activity):
        for col in frame.columns:
            if frame[col].dtype == object:
                frame[col] = pd.Series(frame[col].tolist(), dtype="str", index=frame.index)
    return Study(cases=cases, legal_events=events, campaigns=campaigns, activity=activity)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(study=studies())
def test_random_valid_studies_round_trip(tmp_path_factory, fmt, study):
    folder = tmp_path_factory.mktemp("rt")
    save_study(study, folder, fmt=fmt)
    again = load_study(folder, warn=False)
    for name, frame in study.tables().items():
        got = again.tables()[name]
        pd.testing.assert_frame_equal(got, frame, check_dtype=False, check_exact=False, rtol=1e-12)


CORRUPTIONS = {
    "campaign_activity": [
        ("value", "-1", "≥ 0"),
        ("date", "31/12/2020", "YYYY-MM-DD"),
        ("campaign_id", "Bad Id", "slug"),
    ],
    "cases": [("country", "Atlantis", "ISO 3166"), ("case_id", "no/slash", "slug")],
    "legal_events": [
        ("event_type", "arested", "an event type"),
        ("direction", "good", "favourable"),
    ],
}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(study=studies(), data=st.data())
def test_any_single_corruption_is_reported_at_its_row(tmp_path_factory, study, data):
    folder = tmp_path_factory.mktemp("corrupt")
    save_study(study, folder, fmt="csv")
    tables = [t for t in CORRUPTIONS if len(study.tables()[t])]
    table = data.draw(st.sampled_from(tables))
    column, value, expected = data.draw(st.sampled_from(CORRUPTIONS[table]))
    frame = pd.read_csv(folder / f"{table}.csv", dtype=str, keep_default_na=False)
    row = data.draw(st.integers(0, len(frame) - 1))
    frame.loc[row, column] = value
    frame.to_csv(folder / f"{table}.csv", index=False)
    with pytest.raises(DataError) as info:
        load_study(folder, warn=False)
    hits = [f for f in info.value.failures if f.file.endswith(f"{table}.csv") and f.row == row + 2]
    assert hits and any(expected in f.expected for f in hits), info.value.lines()


def test_subset_keeps_a_case_its_events_and_its_series(minimal_dir):
    study = load_study(minimal_dir, warn=False)
    one = study.subset(["new_law"])
    assert one.cases["case_id"].tolist() == ["new_law"] and len(one.legal_events) == 1
    assert one.campaigns.empty and one.activity.empty
    ana = study.subset(["free_ana"])
    assert ana.campaigns["campaign_id"].tolist() == ["free_ana"] and len(ana.activity) == len(
        study.activity
    )


def test_percent_never_claims_a_whole_series_that_misses_a_day():
    from analysis.study import percent

    assert percent(100 * 3649 / 3650) == "99.9%" and percent(100.0) == "100.0%"
    assert percent(100 * 1 / 5000) == "0.1%" and percent(97.087) == "97.1%"
