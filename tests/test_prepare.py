"""The bundled real data, converted to the contract: facts about each series."""

from __future__ import annotations

import shutil
import warnings

import pandas as pd
import pytest

from analysis import config
from analysis.datasets import load_study
from analysis.errors import DataError, OutputError
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
        ".pressure-precedent",  # the marker: this folder is the project's, rebuilt whole
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
    from analysis import _io

    _io.write_marker(out, "study", format="parquet")  # an earlier prepare's folder
    (out / "cases.parquet").write_bytes(b"previous good file")
    with pytest.raises(DataError, match=r"legal_events\.csv:\d+:event_type: 'arested'"):
        prepare(out, raw_dir, curated, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [".pressure-precedent", "cases.parquet"]
    assert (out / "cases.parquet").read_bytes() == b"previous good file"


def test_missing_raw_files_say_run_make_data(tmp_path):
    with pytest.raises(DataError, match=r"expected this raw file \(run `make data`\)"):
        build_study(tmp_path / "no-raw", progress=False)


def test_prepare_never_deletes_a_users_own_tables(raw_dir, minimal_dir, capsys):
    """``prepare --out my_study`` used to delete the user's CSV tables there."""
    from analysis.cli import main

    before = {p.name: p.read_bytes() for p in minimal_dir.iterdir()}
    with pytest.raises(OutputError, match="holds files this project did not write"):
        prepare(minimal_dir, raw_dir, progress=False)
    assert {p.name: p.read_bytes() for p in minimal_dir.iterdir()} == before
    assert main(["prepare", "--out", str(minimal_dir), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("prepare: ") and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in minimal_dir.iterdir()} == before
    assert sorted(p.name for p in minimal_dir.parent.iterdir()) == ["study"]  # no stage left


def test_prepare_replaces_its_own_folder_whole_and_keeps_placeholders(raw_dir, tmp_path):
    out = tmp_path / "processed"
    out.mkdir()
    (out / ".gitkeep").write_text("")
    prepare(out, raw_dir, progress=False)
    (out / "cases.csv").write_bytes(b"a table the user put there")
    with pytest.raises(OutputError):  # an extra table file is not ours: refuse, keep it
        prepare(out, raw_dir, progress=False)
    (out / "cases.csv").unlink()
    prepare(out, raw_dir, progress=False)
    assert (out / ".gitkeep").exists() and len(list(out.glob("*.parquet"))) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["processed"]


def test_a_failure_while_writing_keeps_the_previous_study_whole(raw_dir, tmp_path, monkeypatch):
    import analysis.datasets.write as ds  # where save_study finds write_table

    out = tmp_path / "processed"
    prepare(out, raw_dir, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = ds.write_table
    calls = []

    def fail_on_third(frame, path, table):
        calls.append(table)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(frame, path, table)

    monkeypatch.setattr(ds, "write_table", fail_on_third)
    with pytest.raises(OSError, match="No space"):
        prepare(out, raw_dir, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["processed"]


def test_fetched_series_in_data_user_survive_prepare(raw_dir, minimal_dir, tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    for table in ("campaigns", "campaign_activity"):
        shutil.copy(minimal_dir / f"{table}.csv", user / f"{table}.csv")
    study = build_study(raw_dir, user_dir=user, progress=False)
    assert "free_ana" in set(study.campaigns["campaign_id"])
    assert (study.activity["campaign_id"] == "free_ana").sum() == 103
    assert "blacklivesmatter" in set(study.campaigns["campaign_id"])
    clash = pd.read_csv(user / "campaigns.csv")
    clash.loc[0, "campaign_id"] = "blacklivesmatter"
    clash.to_csv(user / "campaigns.csv", index=False)
    with pytest.raises(DataError, match=r"campaigns\.csv:2:campaign_id: 'blacklivesmatter'"):
        build_study(raw_dir, user_dir=user, progress=False)


def test_prepare_never_deletes_folders_named_like_placeholders_or_the_marker(raw_dir, tmp_path):
    for name in (".keep", ".pressure-precedent"):
        out = tmp_path / name.strip(".")
        (out / name).mkdir(parents=True)
        (out / name / "thesis.txt").write_text("precious")
        with pytest.raises(OutputError):
            prepare(out, raw_dir, progress=False)
        assert (out / name / "thesis.txt").read_text() == "precious"


def test_prepare_keeps_desktop_files_and_follows_a_symlinked_folder(raw_dir, tmp_path):
    real = tmp_path / "disk" / "processed"
    real.mkdir(parents=True)
    (real / ".DS_Store").write_bytes(b"finder")
    link = tmp_path / "processed"
    link.symlink_to(real)
    prepare(link, raw_dir, progress=False)
    assert link.is_symlink() and (real / "cases.parquet").is_file()
    assert (real / ".DS_Store").read_bytes() == b"finder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk", "processed"]


def test_glob_characters_in_out_touch_no_sibling(raw_dir, tmp_path):
    from analysis import _io

    box = tmp_path / "gl"
    box.mkdir()
    mine = box / ".mybackup.2024.old"
    mine.mkdir()
    _io.write_marker(mine, "study")
    (mine / "cases.csv").write_text("mine")
    prepare(box / "*", raw_dir, progress=False)
    assert (mine / "cases.csv").read_text() == "mine"


def test_an_old_data_processed_holding_fetched_series_is_not_replaced(raw_dir, minimal_dir):
    from analysis.datasets import save_study

    campaigns = minimal_dir / "campaigns.csv"
    campaigns.write_text(campaigns.read_text().splitlines()[0] + ",fetched_at\n")
    for f in minimal_dir.iterdir():
        if f.name != "campaigns.csv":
            f.unlink()
    study = build_study(raw_dir, progress=False)
    with pytest.raises(OutputError, match="did not write"):
        save_study(study, minimal_dir, legacy_ok=True)
    assert campaigns.read_text().strip().endswith("fetched_at")


def test_user_activity_for_a_bundled_series_is_refused(raw_dir, tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    (user / "campaign_activity.csv").write_text(
        "campaign_id,date,value\nblacklivesmatter,2020-05-26,1\n"
    )
    with pytest.raises(DataError, match=r"campaign_activity\.csv:2:campaign_id"):
        build_study(raw_dir, user_dir=user, progress=False)
    with pytest.raises(OutputError, match="holds the series you fetched"):
        prepare(user, raw_dir, user_dir=user, progress=False)
