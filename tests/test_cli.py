"""The command line: --help everywhere, exit status 2 on bad input, nothing written."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from analysis.cli import build_parser, main

COMMANDS = ["data", "prepare", "validate", "ingest", "timing", "report", "fetch"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m analysis {command}")
    # every option is explained
    parser = build_parser()
    sub = next(a for a in parser._subparsers._group_actions if a.dest == "command").choices[command]
    for action in sub._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, f"{command} {action.option_strings} has no help"


def test_validate_prints_coverage(minimal_dir, capsys):
    assert main(["validate", "--data", str(minimal_dir)]) == 0
    out = capsys.readouterr().out
    assert "cases: 2" in out and "legal events: 4" in out
    assert "free_ana                     2023-12-20  2024-03-31   97.1%      1" in out


def test_validate_bad_folder_exits_2_with_one_line_per_problem(minimal_dir, capsys):
    path = minimal_dir / "cases.csv"
    path.write_text(path.read_text().replace(",ESP,", ",Spain,"))
    assert main(["validate", "--data", str(minimal_dir)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert (
        err[0]
        == f"{path}:2:country: 'Spain' — expected an ISO 3166 alpha-3 country code such as USA, IRN or DEU"
    )
    assert err[-1] == "1 problem found; nothing was written."


def test_module_entry_point_runs(minimal_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "analysis", "validate", "--data", str(minimal_dir / "nope")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "expected a folder holding a study" in proc.stderr


def test_ingest_writes_a_valid_activity_table(tmp_path, capsys):
    posts = tmp_path / "posts.csv"
    pd.DataFrame(
        {
            "created_at": [
                "2024-01-01T10:00:00Z",
                "2024-01-01T23:00:00-02:00",
                "2024-01-03T00:00:00Z",
            ],
            "text": ["#FreeAna now", "#freeana", "unrelated"],
        }
    ).to_csv(posts, index=False)
    out = tmp_path / "campaign_activity.csv"
    code = main(
        [
            "ingest",
            str(posts),
            "--campaign",
            "free_ana",
            "--match-column",
            "text",
            "--term",
            "#freeana",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-03",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    written = pd.read_csv(out)
    assert written["value"].tolist() == [1.0, 1.0, 0.0]  # 23:00 at UTC-2 is 2 January, UTC


def test_data_command_verifies_the_mirror(raw_dir, capsys):
    assert main(["data", "--dest", str(raw_dir), "--no-download", "--quiet"]) == 0
    assert "raw files verified" in capsys.readouterr().out


def test_timing_help_spells_out_the_rule(capsys):
    with pytest.raises(SystemExit):
        main(["timing", "--help"])
    out = capsys.readouterr().out
    assert "In plain words" in out and "never 'preceded'" in out and "--threshold" in out
    assert "confounded_by" in out and "borderline" in out and "--case" in out


def test_timing_writes_the_per_event_table(minimal_dir, tmp_path, capsys):
    out = tmp_path / "timing.csv"
    args = ["timing", "--data", str(minimal_dir), "--window", "7", "--baseline-days", "7"]
    assert main([*args, "--n-boot", "49", "--quiet", "--out", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert table["event_id"].tolist() == [
        "free_ana:2024-01-10:arrest",
        "free_ana:2024-02-01:charge",
        "free_ana:2024-03-15:release",
    ]
    assert table.loc[0, "label"] == "followed"  # the fictional series jumps on the arrest day
    # a 103-day series has too few comparison dates for an empirical p-value: a t tail
    assert table.loc[0, "placebo_kind"].endswith("(t tail)")
    err = capsys.readouterr().err
    assert (
        "labels: " in err
        and "1 event not labelled (date known only to the month): new_law:2024-05:bill_passed"
        in err
    )


def test_timing_for_one_case_and_bad_options_get_one_line(minimal_dir, capsys):
    base = ["timing", "--data", str(minimal_dir), "--quiet", "--no-stability"]
    assert main([*base, "--case", "free_anna"]) == 2
    assert "unknown case 'free_anna' (did you mean 'free_ana'?)" in capsys.readouterr().err
    assert main([*base, "--case", "free_ana"]) == 0
    assert "free_ana:2024-01-10:arrest" in capsys.readouterr().out
    for option, value in [("--level", "nan"), ("--window", "0"), ("--n-boot", "5")]:
        with pytest.raises(SystemExit) as info:
            main([*base, option, value])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert f"argument {option}" in err and "Traceback" not in err


def _list_series(study, *ids: str) -> None:
    """Add campaigns rows, as a user does before counting a new series into a study."""
    campaigns = study / "campaigns.csv"
    row = ",{0},posts,posts,posts per day,an archive,CC0-1.0,supporting\n"
    campaigns.write_text(campaigns.read_text() + "".join(i + row.format(i) for i in ids))


def _ingest(posts, out, campaign="free_ana", start="2024-01-01", end="2024-01-03"):
    return main(
        [
            "ingest",
            str(posts),
            "--campaign",
            campaign,
            "--start",
            start,
            "--end",
            end,
            "--out",
            str(out),
        ]
    )


def test_ingest_into_a_study_table_keeps_every_other_series_and_day(minimal_dir, tmp_path):
    """The README's own example: ``--out my_study/campaign_activity.csv`` adds, never replaces."""
    posts = tmp_path / "posts.csv"
    posts.write_text("created_at\n2024-02-01T10:00:00Z\n2024-02-01T11:00:00Z\n")
    table = minimal_dir / "campaign_activity.csv"
    before = pd.read_csv(table)
    assert _ingest(posts, table, "free_ana_posts", "2024-02-01", "2024-02-02") == 2  # unlisted
    assert pd.read_csv(table).equals(before)
    _list_series(minimal_dir, "free_ana_posts")
    assert _ingest(posts, table, "free_ana_posts", "2024-02-01", "2024-02-02") == 0
    assert _ingest(posts, table, "free_ana_posts", "2024-02-01", "2024-02-02") == 0  # rerun
    after = pd.read_csv(table)
    kept = after[after["campaign_id"] != "free_ana_posts"].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, before)
    new = after[after["campaign_id"] == "free_ana_posts"]
    assert new["value"].tolist() == [2.0, 0.0]  # updated in place, not duplicated


def test_ingest_into_a_day_already_there_replaces_only_that_campaigns_days(minimal_dir, tmp_path):
    posts = tmp_path / "posts.csv"
    posts.write_text("created_at\n2024-01-05T10:00:00Z\n")
    table = minimal_dir / "campaign_activity.csv"
    before = pd.read_csv(table)
    assert _ingest(posts, table, "free_ana", "2024-01-05", "2024-01-05") == 0
    after = pd.read_csv(table)
    assert len(after) == len(before) + (0 if "2024-01-05" in set(before["date"]) else 1)
    day = after[(after["campaign_id"] == "free_ana") & (after["date"] == "2024-01-05")]
    assert day["value"].tolist() == [1.0]
    other = after[after["date"] != "2024-01-05"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        other, before[before["date"] != "2024-01-05"].reset_index(drop=True)
    )


def test_ingest_into_a_table_that_is_not_an_activity_table_is_refused(
    minimal_dir, tmp_path, capsys
):
    posts = tmp_path / "posts.csv"
    posts.write_text("created_at\n2024-01-05T10:00:00Z\n")
    cases = minimal_dir / "cases.csv"
    before = cases.read_bytes()
    assert _ingest(posts, cases) == 2
    assert "cases.csv" in capsys.readouterr().err
    assert cases.read_bytes() == before


def test_fetch_and_ingest_refuse_a_folder_that_prepare_rebuilds(processed_dir, tmp_path, capsys):
    from analysis import config

    posts = tmp_path / "posts.csv"
    posts.write_text("created_at\n2024-01-05T10:00:00Z\n")
    before = {p.name: p.read_bytes() for p in processed_dir.iterdir()}
    assert _ingest(posts, processed_dir / "campaign_activity.parquet") == 2
    err = capsys.readouterr().err
    assert "rebuilt whole by `prepare`" in err and "data/user" in err
    assert {p.name: p.read_bytes() for p in processed_dir.iterdir()} == before
    fetch = next(
        a for a in build_parser()._subparsers._group_actions[0].choices.items() if a[0] == "fetch"
    )[1]
    assert fetch.get_default("data") == str(config.USER_DATA_DIR)


def test_ingest_refuses_a_workbook_with_other_sheets_and_keeps_file_modes(minimal_dir, tmp_path):
    import openpyxl

    posts = tmp_path / "posts.csv"
    posts.write_text("created_at\n2024-02-01T10:00:00Z\n")
    book = tmp_path / "campaign_activity.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["campaign_id", "date", "value"])
    wb.active.append(["x", "2024-01-01", 1])
    wb.create_sheet("notes").append(["my notes"])
    wb.save(book)
    before = book.read_bytes()
    assert _ingest(posts, book, "posts", "2024-02-01", "2024-02-01") == 2
    assert book.read_bytes() == before
    table = minimal_dir / "campaign_activity.csv"
    _list_series(minimal_dir, "posts")
    table.chmod(0o640)
    assert _ingest(posts, table, "posts", "2024-02-01", "2024-02-01") == 0
    assert table.stat().st_mode & 0o777 == 0o640


def test_two_ingests_into_one_table_at_once_keep_both(minimal_dir, tmp_path):
    posts = tmp_path / "posts.csv"
    posts.write_text("created_at\n" + "2024-02-01T10:00:00Z\n" * 50)
    table = minimal_dir / "campaign_activity.csv"
    _list_series(minimal_dir, "c_one", "c_two", "c_three")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "analysis",
                "ingest",
                str(posts),
                "--campaign",
                cid,
                "--start",
                "2024-02-01",
                "--end",
                "2024-02-02",
                "--out",
                str(table),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for cid in ("c_one", "c_two", "c_three")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    ids = set(pd.read_csv(table)["campaign_id"])
    assert {"c_one", "c_two", "c_three", "free_ana"} <= ids


def test_timing_out_never_overwrites_a_file_it_did_not_write(minimal_dir, capsys):
    cases = minimal_dir / "cases.csv"
    before = cases.read_bytes()
    base = ["timing", "--data", str(minimal_dir), "--quiet", "--no-stability"]
    assert main([*base, "--out", str(cases)]) == 2
    assert "not a table this command wrote" in capsys.readouterr().err
    assert cases.read_bytes() == before
    out = minimal_dir.parent / "timing.csv"
    assert main([*base, "--out", str(out)]) == 0 and main([*base, "--out", str(out)]) == 0
    assert main([*base, "--out", str(minimal_dir)]) == 2


def test_unwritable_places_get_one_line_not_a_traceback(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    posts = tmp_path / "posts.csv"
    posts.write_text("created_at\n2024-02-01T10:00:00Z\n")
    assert _ingest(posts, afile / "x.csv") == 2
    assert _ingest(posts, tmp_path / "new.txt") == 2
    assert main(["prepare", "--out", str(afile / "sub"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") >= 3
