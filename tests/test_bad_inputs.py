"""A corpus of real ways data go wrong (tests/data/bad/, listed in expected.csv).

Each file replaces one table of the minimal example study. It must either end in a
DataError whose message names file, row, column and what was expected, or be accepted
(with a warning where a user would expect one) — and nothing may be written.
"""

from __future__ import annotations

import csv
import shutil
import warnings
from pathlib import Path

import pytest

from analysis import config
from analysis.cli import main
from analysis.datasets import FORMATS, load_study
from analysis.errors import DataError, DataWarning

BAD = Path(__file__).parent / "data" / "bad"
MINIMAL = Path(__file__).parent / "data" / "minimal_study"
CASES = list(csv.DictReader((BAD / "expected.csv").open()))


def _study_with(bad: dict, tmp_path: Path) -> Path:
    folder = tmp_path / "study"
    shutil.copytree(MINIMAL, folder)
    for ext in FORMATS:
        (folder / f"{bad['table']}{ext}").unlink(missing_ok=True)
    source = BAD / bad["file"]
    shutil.copy(source, folder / f"{bad['table']}{source.suffix}")
    return folder


def _snapshot(folder: Path) -> dict:
    if not folder.exists():
        return {}
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_the_corpus_is_large_and_every_file_is_listed():
    files = {p.name for p in BAD.iterdir()} - {"expected.csv"}
    assert files == {c["file"] for c in CASES} and len(files) >= 40


@pytest.mark.parametrize("bad", CASES, ids=[c["file"] for c in CASES])
def test_each_bad_file_is_reported_or_accepted_as_documented(bad, tmp_path):
    folder = _study_with(bad, tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        if bad["outcome"] == "error":
            with pytest.raises(DataError) as info:
                load_study(folder)
            lines = [line.replace(f"{folder}/", "") for line in info.value.lines()]
            assert any(bad["expected"] in line for line in lines), lines
            for f in info.value.failures:  # every failure names its file and what was expected
                assert f.file and f.expected
            return
        study = load_study(folder)
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    if bad["outcome"] == "warning":
        assert any(bad["expected"] in m for m in messages), messages
    assert len(study.cases) >= 1


@pytest.mark.parametrize(
    "bad", [c for c in CASES if c["outcome"] == "error"][::4], ids=lambda c: c["file"]
)
def test_bad_input_writes_nothing(bad, tmp_path, capsys):
    folder = _study_with(bad, tmp_path)
    before = (_snapshot(config.PROCESSED_DATA_DIR), _snapshot(config.REPORTS_DIR))
    out = tmp_path / "timing.csv"
    assert main(["timing", "--data", str(folder), "--n-boot", "99", "--out", str(out)]) == 2
    assert main(["validate", "--data", str(folder)]) == 2
    assert not out.exists() and list(tmp_path.glob("*.tmp")) == []
    assert (_snapshot(config.PROCESSED_DATA_DIR), _snapshot(config.REPORTS_DIR)) == before
    assert "nothing was written" in capsys.readouterr().err


def test_a_hidden_first_sheet_is_not_the_table_and_excel_month_dates_keep_their_month(tmp_path):
    by_file = {c["file"]: c for c in CASES}
    folder = _study_with(by_file["73_activity_xlsx_hidden_first_sheet.xlsx"], tmp_path / "a")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = load_study(folder)
    assert 999 not in set(study.activity["value"])  # the visible sheet's counts
    folder = _study_with(by_file["75_events_xlsx_month_as_date.xlsx"], tmp_path / "b")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        events = load_study(folder).legal_events.set_index("case_id")
    assert events.loc["new_law", "date_precision"] == "month"
    assert events.loc["new_law", "event_id"] == "new_law:2024-05:bill_passed"
