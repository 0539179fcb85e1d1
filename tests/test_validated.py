"""A study validated once is read back unchanged, without the validation code, until a
byte of its files or of the checking code changes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from analysis import config
from analysis.align import EVENT_COLUMNS
from analysis.datasets import load_study
from analysis.errors import DataError
from analysis.schema import REQUIRED
from analysis.validated import load_trusted, trust_key

MINIMAL = config.PROJ_ROOT / "tests" / "data" / "minimal_study"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "CACHE_DIR", tmp_path / "cache")
    return tmp_path / "cache" / "validated"


def _same(a, b) -> None:
    for name in ("cases", "legal_events", "campaigns", "activity"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.warnings == b.warnings and a.source == b.source


@pytest.mark.parametrize("folder", ["minimal", "processed"])
def test_the_kept_study_equals_a_fresh_validation(folder, cache, processed_dir, tmp_path):
    data = MINIMAL if folder == "minimal" else processed_dir
    first = load_trusted(data)  # validates and keeps
    (entry,) = cache.iterdir()
    assert entry.name == trust_key(data)
    again = load_trusted(data)  # read back from the cache
    _same(again, first)
    _same(again, load_study(data, warn=False))


def test_a_changed_byte_or_a_broken_file_is_validated_again(cache, tmp_path):
    data = tmp_path / "study"
    shutil.copytree(MINIMAL, data)
    load_trusted(data)
    events = data / "legal_events.csv"
    text = events.read_text()
    events.write_text(text.replace("2024-01-10", "2024-01-11", 1))
    dates = set(load_trusted(data).legal_events["date"])
    assert pd.Timestamp("2024-01-11") in dates and pd.Timestamp("2024-01-10") not in dates
    assert len(list(cache.iterdir())) == 2  # a new key, a new entry
    events.write_text(text.replace("2024-01-10", "2024-13-10", 1))  # an impossible date
    with pytest.raises(DataError, match=r"legal_events\.csv"):
        load_trusted(data)


def test_a_damaged_entry_is_replaced_and_entries_respect_the_umask(cache, tmp_path):
    old = os.umask(0o027)
    try:
        load_trusted(MINIMAL)
    finally:
        os.umask(old)
    (entry,) = cache.iterdir()
    assert entry.stat().st_mode & 0o777 == 0o750
    (entry / "cases.parquet").write_bytes(b"not parquet")
    _same(load_trusted(MINIMAL), load_study(MINIMAL, warn=False))
    assert (entry / "meta.json").is_file()  # validated again and kept again


def test_the_second_load_does_not_import_the_validation_code(tmp_path):
    code = (
        "import sys; from analysis.validated import load_trusted; "
        f"load_trusted({str(MINIMAL)!r}); print('pandera' in sys.modules)"
    )
    env = {**os.environ, "PP_CACHE_DIR": str(tmp_path / "cache")}
    runs = [
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        for _ in range(2)
    ]
    assert [r.stdout.strip() for r in runs] == ["True", "False"], [r.stderr for r in runs]


def test_the_studies_event_columns_are_the_contracts():
    assert REQUIRED["legal_events"] == EVENT_COLUMNS
