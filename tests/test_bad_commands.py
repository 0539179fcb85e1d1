"""Every command, fed bad input: one line per problem naming the file, row, column or
option, exit status 2, no traceback, and nothing written.

The table below is the contract: add a row when a new way to go wrong is found.
"""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import pytest

from analysis.cli import main

MINIMAL = Path(__file__).parent / "data" / "minimal_study"


def _study(tmp: Path, edit=None) -> Path:
    folder = tmp / "study"
    if not folder.exists():
        shutil.copytree(MINIMAL, folder)
    if edit:
        name, old, new = edit
        path = folder / name
        path.write_text(path.read_text().replace(old, new, 1))
    return folder


def _archives(tmp: Path) -> Path:
    folder = tmp / "posts"
    folder.mkdir(exist_ok=True)
    (folder / "mixed.csv").write_text(
        "id,created_at\n1,2024-01-01T10:00:00Z\n2,01/02/2024 10:00\n3,2024-01-03\n"
    )
    (folder / "bad.jsonl").write_text('{"created_at": "2024-01-01T10:00:00Z"}\n{bad json\n')
    (folder / "no_time.csv").write_text("id,text\n1,a\n")
    (folder / "stray.csv").write_text(
        "created_at\n2024-01-01T10:00:00Z\n1970-01-01T00:00:00Z\n2024-01-05T10:00:00Z\n"
    )
    with gzip.open(folder / "ids.txt.gz", "wt") as fh:
        fh.write("1346212300863442944\nnot-an-id\n")
    (folder / "no_id.csv").write_text(
        "id,created_at\n1,2024-01-01T10:00:00Z\n,2024-01-01T11:00:00Z\n"
    )
    (folder / "header_only.csv").write_text("id,created_at\n")
    (folder / "nested.jsonl").write_text(
        '{"created_at": "2024-01-01T10:00:00Z", "entities": {"text": "x"}}\n'
    )
    (folder / "epoch.csv").write_text("created_at\n1704067200000\n")
    (folder / "trends.csv").write_text("Category: All categories\n\nnot,a,trends,file\n")
    (folder / "twice.csv").write_text(
        "Category: All categories\n\nDay,racism: (Worldwide),racism: (United States)\n"
        "2024-01-01,10,20\n"
    )
    return folder


# (name, argv with {study} {posts} {tmp} placeholders, optional study edit, expected text)
CASES = [
    # validate
    ("validate: no such folder", ["validate", "--data", "{tmp}/nowhere"], None,
     "expected a folder holding a study"),
    ("validate: date out of range", ["validate", "--data", "{study}"],
     ("legal_events.csv", "2024-01-10", "0001-01-01"), "legal_events.csv:2:date: '0001-01-01'"),
    ("validate: extra column named like a key", ["validate", "--data", "{study}"],
     ("legal_events.csv", "description", "campaign_id"), "legal_events.csv:1:campaign_id"),
    # timing
    ("timing: window 0", ["timing", "--data", "{study}", "--window", "0"], None,
     "argument --window: 0 is outside"),
    ("timing: n-boot 5", ["timing", "--data", "{study}", "--n-boot", "5"], None,
     "argument --n-boot: 5 is outside"),
    ("timing: level 1.5", ["timing", "--data", "{study}", "--level", "1.5"], None,
     "argument --level: 1.5 is outside"),
    ("timing: threshold nan", ["timing", "--data", "{study}", "--threshold", "nan"], None,
     "argument --threshold: nan is outside"),
    ("timing: unknown case", ["timing", "--data", "{study}", "--case", "free_anna"], None,
     "free_ana"),
    ("timing: out is a folder", ["timing", "--data", "{study}", "--out", "{tmp}"], None,
     "timing: "),
    # report
    ("report: invalid study", ["report", "--data", "{study}", "--out", "{tmp}/rep"],
     ("cases.csv", "ESP", "Spain"), "cases.csv:2:country: 'Spain'"),
    ("report: no runs file", ["report", "--runs", "{tmp}/none.yaml", "--out", "{tmp}/rep"], None,
     "none.yaml"),
    ("report: --only matches nothing", ["report", "--only", "10_case_studdy", "--data", "{study}", "--out", "{tmp}/rep"],
     None, "did you mean 10_case_study--free_ana"),
    ("report: workers 0", ["report", "--workers", "0"], None, "argument --workers"),
    # ingest
    ("ingest: no archive", ["ingest", "{tmp}/nope.csv", "--campaign", "c", "--out",
                            "{tmp}/a.csv"], None, "nope.csv: '' — expected an archive file"),
    ("ingest: empty glob", ["ingest", "{tmp}/none*.csv", "--campaign", "c", "--out",
                            "{tmp}/a.csv"], None, "expected a pattern matching files"),
    ("ingest: mixed timestamps", ["ingest", "{posts}/mixed.csv", "--campaign", "c", "--out",
                                  "{tmp}/a.csv"], None, "created_at: '01/02/2024 10:00'"),
    ("ingest: bad JSON line", ["ingest", "{posts}/bad.jsonl", "--campaign", "c", "--out",
                               "{tmp}/a.csv"], None, "bad.jsonl:2:"),
    ("ingest: missing column", ["ingest", "{posts}/no_time.csv", "--campaign", "c", "--out",
                                "{tmp}/a.csv"], None, "no_time.csv:1:created_at"),
    ("ingest: non-numeric tweet id", ["ingest", "{posts}/ids.txt.gz", "--campaign", "c",
                                      "--out", "{tmp}/a.csv"], None, "id: 'not-an-id'"),
    ("ingest: stray 1970 timestamp", ["ingest", "{posts}/stray.csv", "--campaign", "c", "--out",
                                      "{tmp}/a.csv"], None, "1970-01-01..2024-01-01"),
    ("ingest: bad --start", ["ingest", "{posts}/stray.csv", "--campaign", "c", "--out",
                             "{tmp}/a.csv", "--start", "2024-02-30"], None, "argument --start"),
    ("ingest: bad --campaign", ["ingest", "{posts}/stray.csv", "--campaign", "Free Ana",
                                "--out", "{tmp}/a.csv"], None, "argument --campaign"),
    ("ingest: --out not a table", ["ingest", "{posts}/stray.csv", "--campaign", "c", "--out",
                                   "{tmp}/a.txt"], None, "a.txt — expected a .csv"),
    ("ingest: --match-column alone", ["ingest", "{posts}/stray.csv", "--campaign", "c",
                                      "--out", "{tmp}/a.csv", "--match-column", "text"], None,
     "--match-column needs at least one --term"),
    # fetch
    ("fetch: host from --lang", ["fetch", "wikipedia", "--campaign", "c", "--query", "A",
                                 "--start", "2020-01-01", "--end", "2020-01-02", "--lang",
                                 "evil.example/x", "--data", "{tmp}/s"], None, "--lang:"),
    ("fetch: end before start", ["fetch", "gdelt", "--campaign", "c", "--query", "A", "--start",
                                 "2021-01-01", "--end", "2020-01-01", "--data", "{tmp}/s"],
     None, "--end: '2020-01-01'"),
    ("fetch: bad metric", ["fetch", "gdelt", "--campaign", "c", "--query", "A", "--start",
                           "2020-01-01", "--end", "2020-01-02", "--metric", "likes", "--data",
                           "{tmp}/s"], None, "--metric: 'likes'"),
    ("fetch: trends file missing", ["fetch", "google-trends", "--campaign", "c", "--file",
                                    "{tmp}/none.csv", "--data", "{tmp}/s"], None, "none.csv"),
    ("fetch: not a trends export", ["fetch", "google-trends", "--campaign", "c", "--file",
                                    "{posts}/trends.csv", "--data", "{tmp}/s"], None,
     "trends.csv: '' — expected a Google Trends CSV export (not a Google"),
    ("fetch: a query matching two columns", ["fetch", "google-trends", "--campaign", "c",
                                             "--file", "{posts}/twice.csv", "--query", "racism",
                                             "--data", "{tmp}/s"], None, "match 'racism'"),
    # found by a hostile review (helper, 2026-11-25)
    ("timing: negative seed", ["timing", "--data", "{study}", "--seed", "-1"], None,
     "argument --seed: -1 is outside"),
    ("report: scheduler not an address", ["report", "--scheduler", "nonsense", "--out",
                                          "{tmp}/rep"], None, "argument --scheduler"),
    ("report: scheduler unreachable", ["report", "--scheduler", "tcp://127.0.0.1:9", "--only",
                                       "00_data_overview", "--data", "{study}", "--out",
                                       "{tmp}/rep"], None,
     "cannot reach the Dask scheduler"),
    ("report: --only empty", ["report", "--only", "", "--out", "{tmp}/rep"], None,
     "argument --only: is empty"),
    ("validate: --data empty", ["validate", "--data", ""], None, "argument --data: is empty"),
    ("fetch: --data empty", ["fetch", "google-trends", "--campaign", "c", "--file",
                             "{posts}/twice.csv", "--data", ""], None, "argument --data: is empty"),
    ("ingest: --term empty", ["ingest", "{posts}/stray.csv", "--campaign", "c", "--out",
                              "{tmp}/a.csv", "--match-column", "created_at", "--term", ""], None,
     "argument --term: is empty"),
    ("ingest: memory cap out of range", ["ingest", "{posts}/stray.csv", "--campaign", "c",
                                         "--out", "{tmp}/a.csv", "--memory-limit",
                                         "99999999999999TB"], None, "between 10MB and 1PB"),
    ("ingest: distinct ids missing", ["ingest", "{posts}/no_id.csv", "--campaign", "c", "--out",
                                      "{tmp}/a.csv", "--distinct", "id"], None,
     "posts have none and would not be counted"),
    ("ingest: no post at all", ["ingest", "{posts}/header_only.csv", "--campaign", "c",
                                "--out", "{tmp}/a.csv"], None, "at least one post to count"),
    ("ingest: match column is a record", ["ingest", "{posts}/nested.jsonl", "--campaign", "c",
                                          "--out", "{tmp}/a.csv", "--match-column", "entities",
                                          "--term", "x"], None, "a record would match"),
    ("ingest: series not listed in the study", ["ingest", "{posts}/stray.csv", "--campaign",
                                                "unlisted", "--start", "2024-01-01", "--end",
                                                "2024-01-05", "--out",
                                                "{study}/campaign_activity.csv"], None,
     "expected a campaign_id listed in"),
    ("ingest: epoch numbers without --unit", ["ingest", "{posts}/epoch.csv", "--campaign", "c",
                                              "--out", "{tmp}/a.csv"], None,
     "looks like epoch time: pass --unit s or --unit ms"),
    ("fetch: trends window holds no row", ["fetch", "google-trends", "--campaign", "c", "--file",
                                           "{posts}/twice.csv", "--query", "racism: (Worldwide)",
                                           "--start", "2025-01-01", "--end", "2025-01-02",
                                           "--data", "{tmp}/s"], None, "inside --start..--end"),
    # prepare and data
    ("prepare: --out is a file", ["prepare", "--out", "{posts}/mixed.csv"], None, "prepare: "),
    ("data: no mirror, no download", ["data", "--dest", "{tmp}/raw", "--mirror",
                                      "{tmp}/no_mirror", "--no-download", "--quiet"], None,
     "expected this file in the data mirror"),
]  # fmt: skip


SLOW = {"report: scheduler unreachable"}  # waits for the connection to time out
PARAMS = [pytest.param(*c, marks=pytest.mark.slow) if c[0] in SLOW else c for c in CASES]


@pytest.mark.parametrize(("name", "argv", "edit", "expected"), PARAMS, ids=[c[0] for c in CASES])
def test_every_command_answers_bad_input_in_one_line_with_exit_2(
    name, argv, edit, expected, tmp_path, capsys
):
    study = _study(tmp_path, edit)
    posts = _archives(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    snapshot = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    args = [a.format(study=study, posts=posts, tmp=tmp_path) for a in argv]
    try:
        code = main(args)
    except SystemExit as exc:  # argparse
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, (code, err)
    assert "Traceback" not in err and expected in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    summary = re.compile(r"^\d+ problems? found; nothing was written\.$")
    problems = [line for line in lines if not summary.match(line)]
    assert problems and all(len(line) < 1200 for line in problems), lines
    if len(problems) > 1:  # several lines only for several problems, one a line
        assert "problems found; nothing was written" in err, lines
    # nothing written, nothing touched
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == snapshot
