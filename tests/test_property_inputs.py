"""Open-ended classes of bad input, as properties: whatever text a cell holds, loading a
study or counting an archive ends in a result or a DataError naming the file, never in
another exception."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.datasets import load_study
from analysis.errors import DataError
from analysis.ingest import count_posts

# hundreds of studies loaded: `make test`, not `make test-fast`
pytestmark = pytest.mark.slow

MINIMAL = Path(__file__).parent / "data" / "minimal_study"
TABLES = {p.stem: list(csv.reader(p.open())) for p in MINIMAL.glob("*.csv")}

# text a spreadsheet user could type, with the characters that break parsers
CELL = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "", " ", "0001-01-01", "9999-12-31", "2262-05-01", "1e400", "-inf", "NaN", "#DIV/0!",
            "=1+1", "1,5", "2024-02-30", "2024-01-10T23:00:00-05:00", "\ufeffx", "a\nb", '"',
            "../../etc", "x" * 300, "0x10", "१२३", "２０２４-０１-１０", "2024/01/10", "Infinity",
        ]
    ),
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    table=st.sampled_from(sorted(TABLES)),
    data=st.data(),
    value=CELL,
)
def test_any_cell_text_loads_or_is_a_clear_data_error(table, data, value):
    rows = [list(r) for r in TABLES[table]]
    row = data.draw(st.integers(0, len(rows) - 1), label="row")  # the header too
    col = data.draw(st.integers(0, len(rows[0]) - 1), label="column")
    rows[row][col] = value
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "study"
        shutil.copytree(MINIMAL, folder)
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        (folder / f"{table}.csv").write_text(buffer.getvalue())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                study = load_study(folder)
        except DataError as err:
            assert err.failures and all(f.file and f.expected for f in err.failures)
            return
    assert len(study.cases) >= 1
    assert study.activity["value"].dropna().between(0, 1e15).all()
    assert study.legal_events["date"].between("1900-01-01", "2099-12-31").all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stamps=st.lists(CELL, min_size=1, max_size=6))
def test_any_timestamp_text_counts_or_is_a_clear_data_error(stamps):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "posts.csv"
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["created_at"])
        writer.writerows([[s] for s in ["2024-01-01T10:00:00Z", *stamps]])
        path.write_text(buffer.getvalue())
        try:
            daily = count_posts(path, campaigns="c")
        except DataError as err:
            assert err.failures and all(f.expected for f in err.failures)
            return
    assert daily["value"].notna().all() and len(daily) < 100_000


# every name the package uses for a column: an extra column of the user's named like one
NAMES = sorted(
    {
        m
        for f in (Path(__file__).parents[1] / "src" / "analysis").glob("*.py")
        for m in __import__("re").findall(r'"([a-z][a-z0-9_]{1,30})"', f.read_text())
    }
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=st.sampled_from(sorted(TABLES)), name=st.sampled_from(NAMES))
def test_an_extra_column_of_any_name_is_refused_or_never_meets_a_join(table, name):
    from analysis import narrative
    from analysis.align import case_panel, event_windows
    from analysis.timing import onsets, timing_table

    rows = [list(r) for r in TABLES[table]]
    if name in rows[0]:
        return
    rows[0].append(name)
    for r in rows[1:]:
        r.append("2024-01-01")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "study"
        shutil.copytree(MINIMAL, folder)
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        (folder / f"{table}.csv").write_text(buffer.getvalue())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                study = load_study(folder)
        except DataError as err:
            from analysis.schema import MODELS

            if name in MODELS[table].to_schema().columns:  # an optional contract column:
                assert all(f.column == name for f in err.failures), err.lines()  # its values
                return
            assert all(f.row == 1 and f.column == name for f in err.failures), err.lines()
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            timing = timing_table(study, stability=False).table
            assert len(timing) == 3
            assert len(onsets(study, n_boot=0)) == 1
            assert len(event_windows(study).values) >= 1
            assert len(case_panel(study)) > 0
            assert narrative.cases_with_observed_events(study) == ["free_ana"]
            assert narrative.primary_series(study, "free_ana") == "free_ana"
