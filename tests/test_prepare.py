"""The bundled real data, converted to the contract: facts about each series."""

from __future__ import annotations

import shutil
import warnings

import pandas as pd
import pytest

from analysis import config
from analysis.datasets import load_study
from analysis.errors import DataError
from analysis.prepare import ICHBINHANNA_ARCHIVES, build_study, prepare


def _series(study, campaign_id: str) -> pd.Series:
    act = study.activity
    return act[act["campaign_id"] == campaign_id].set_index("date")["value"]


def test_every_case_and_event_of_the_curated_tables_is_kept(real_study):
    curated_events = pd.read_csv(config.CURATED_DIR / "legal_events.csv")
    curated_cases = pd.read_csv(config.CURATED_DIR / "cases.csv")
    assert len(real_study.legal_events) == len(curated_events) == 164
    assert len(real_study.cases) == len(curated_cases) == 31
    assert real_study.legal_events["event_id"].is_unique


def test_blm_series_equal_the_source_columns(real_study, raw_dir):
    raw = pd.read_csv(raw_dir / "blm_giorgi" / "tweet_counts_per_day.csv")
    for campaign_id, column in (
        ("blacklivesmatter", "blm"),
        ("alllivesmatter", "alm"),
        ("bluelivesmatter", "blulm"),
    ):
        s = _series(real_study, campaign_id)
        assert len(s) == 3287 and s.notna().all()
        assert s.sum() == raw[column].sum()


def test_ferguson_gaps_stay_missing(real_study):
    s = _series(real_study, "ferguson")
    assert len(s) == 86 and (s > 0).all()
    cov = real_study.coverage().set_index("campaign_id").loc["ferguson"]
    assert cov["n_gaps"] == 3 and cov["observed_days"] == 86
    assert pd.Timestamp("2014-09-15") not in s.index  # between the first two windows


def test_mahsaamini_partial_last_day_is_unobserved(real_study):
    for campaign_id in ("mahsaamini", "mahsaamini_original"):
        s = _series(real_study, campaign_id)
        assert s.index.max() == pd.Timestamp("2023-03-07") and pd.isna(s.iloc[-1])
        assert s.notna().sum() == 174
    assert _series(real_study, "mahsaamini").loc["2022-09-16"] == 514469


def test_ichbinhanna_counts_from_ids_agree_with_the_derived_csv(real_study, raw_dir):
    derived = pd.read_csv(
        raw_dir / "ichbinhanna" / "ichbinhanna_tweets_per_day_utc.csv", parse_dates=["date_utc"]
    )
    derived = derived.set_index("date_utc")
    for campaign_id, (column, window) in ICHBINHANNA_ARCHIVES.items():
        ours = _series(real_study, campaign_id)
        theirs = derived[column].reindex(ours.index, fill_value=0)
        assert (ours == theirs).all(), campaign_id
        if window:
            assert ours.index.min() == pd.Timestamp(window[0]) and ours.index.max() == pd.Timestamp(
                window[1]
            )
    # the wave of 10 June 2021
    assert _series(real_study, "ichbinhanna").loc["2021-06-10"] == 8569


def test_navalny_counter_series(real_study):
    s = _series(real_study, "navalny_progov")
    assert len(s) == 226 and s.sum() == 35125
    assert (
        real_study.campaigns.set_index("campaign_id").loc["navalny_progov", "stance"] == "counter"
    )


def test_prepare_writes_parquet_that_loads_back_identically(processed_dir, real_study):
    assert sorted(p.name for p in processed_dir.iterdir()) == [
        "campaign_activity.parquet",
        "campaigns.parquet",
        "cases.parquet",
        "legal_events.parquet",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load_study(processed_dir)
    for name, frame in real_study.tables().items():
        pd.testing.assert_frame_equal(loaded.tables()[name], frame, check_dtype=False)


def test_a_failed_prepare_writes_nothing_and_keeps_old_files(raw_dir, tmp_path):
    curated = tmp_path / "curated"
    shutil.copytree(config.CURATED_DIR, curated)
    events = curated / "legal_events.csv"
    events.write_text(events.read_text().replace(",day,arrest,", ",day,arested,", 1))
    out = tmp_path / "processed"
    out.mkdir()
    (out / "cases.parquet").write_bytes(b"previous good file")
    with pytest.raises(DataError, match=r"legal_events\.csv:\d+:event_type: 'arested'"):
        prepare(out, raw_dir, curated, progress=False)
    assert [p.name for p in out.iterdir()] == ["cases.parquet"]
    assert (out / "cases.parquet").read_bytes() == b"previous good file"


def test_missing_raw_files_say_run_make_data(tmp_path):
    with pytest.raises(DataError, match=r"expected this raw file \(run `make data`\)"):
        build_study(tmp_path / "no-raw", progress=False)
