"""Load, validate and save study folders in the data contract.

A *study folder* holds four tables, each as ``<table>.csv``, ``<table>.parquet`` or
``<table>.xlsx`` (that exact stem): ``cases``, ``legal_events``, ``campaigns`` and
``campaign_activity`` (see :mod:`analysis.schema`). Every ``--data DIR`` option takes
such a folder.

Loading reads every cell as the user wrote it, turns text into types with strict rules
(dates are ``YYYY-MM-DD``; numbers are plain decimals), validates with pandera and
checks the tables against each other. All problems are collected and raised together
as one :class:`~analysis.errors.DataError`. Things that are valid but worth a look
(gaps in a series, events outside a series' observed window, …) become
:class:`~analysis.errors.DataWarning` warnings and are kept on the :class:`Study`.

The package: :mod:`.read` (files to raw tables), :mod:`.parse` (raw to typed tables,
validated), :mod:`.write` (tables and folders, atomically); loading a whole study is here.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from ..errors import DataError, DataWarning, Failure
from ..schema import TABLES
from ..study import (
    Study,
    case_campaign_links,
    coverage,
    cross_check,
    format_event_dates,
    make_event_ids,
    make_study,
    study_warnings,
    to_contract,
)
from .parse import (
    DAY_EXPECTED,
    EVENT_DATE_EXPECTED,
    FINITE_EXPECTED,
    MISSING_SPELLINGS,
    RANGE_EXPECTED,
    parse_table,
)
from .read import (
    FORMATS,
    file_rows,
    find_table,
    max_table_bytes,
    read_raw,
)
from .write import (
    check_study_folder,
    merge_activity_unlocked,
    refuse_derived,
    save_study,
    update_activity,
    write_table,
)

__all__ = [
    "DAY_EXPECTED",
    "EVENT_DATE_EXPECTED",
    "FINITE_EXPECTED",
    "FORMATS",
    "MISSING_SPELLINGS",
    "RANGE_EXPECTED",
    "Study",
    "assemble_study",
    "case_campaign_links",
    "check_study_folder",
    "coverage",
    "cross_check",
    "file_rows",
    "find_table",
    "format_event_dates",
    "load_activity",
    "load_campaigns",
    "load_cases",
    "load_legal_events",
    "load_study",
    "make_event_ids",
    "make_study",
    "max_table_bytes",
    "merge_activity_unlocked",
    "parse_table",
    "read_raw",
    "refuse_derived",
    "save_study",
    "study_warnings",
    "to_contract",
    "update_activity",
    "write_table",
]


def _load(path: Path, table: str) -> pd.DataFrame:
    path = Path(path)
    if path.is_dir():
        path = find_table(path, table)
    return parse_table(read_raw(path), table, str(path))


def load_cases(path: Path) -> pd.DataFrame:
    """Load and validate a ``cases`` table (a file, or a study folder holding one)."""
    return _load(path, "cases")


def load_legal_events(path: Path) -> pd.DataFrame:
    """Load and validate a ``legal_events`` table; adds an ``event_id`` column."""
    return _load(path, "legal_events")


def load_campaigns(path: Path) -> pd.DataFrame:
    """Load and validate a ``campaigns`` table (``stance`` defaults to ``supporting``)."""
    return _load(path, "campaigns")


def load_activity(path: Path) -> pd.DataFrame:
    """Load and validate a ``campaign_activity`` table (``value`` NaN = unobserved day)."""
    return _load(path, "campaign_activity")


def assemble_study(tables: dict[str, pd.DataFrame], files: dict[str, str], source: str) -> Study:
    """:func:`analysis.study.make_study` of tables read from files: a failure's row is the
    file's own line, and no file path travels on into the study's tables (``attrs``).

    Raises
    ------
    DataError
        For every dangling reference between the tables.
    """
    marks = {t: (f.attrs.get("csv_path"), len(f)) for t, f in tables.items()}
    for frame in tables.values():
        frame.attrs = {}  # a file path of the user's must not travel into saved tables
    try:
        return make_study(tables, files, source)
    except DataError as err:
        failures = err.failures
        for path, n_rows in marks.values():
            failures = file_rows(failures, path, n_rows)
        raise DataError(failures) from None


def load_study(data_dir: Path, *, warn: bool = True) -> Study:
    """Load and validate the four tables of a study folder.

    Parameters
    ----------
    data_dir : Path
        A folder with ``cases``, ``legal_events``, ``campaigns`` and
        ``campaign_activity`` as ``.csv``, ``.parquet`` or ``.xlsx``.
    warn : bool
        Emit the study's findings as :class:`DataWarning` warnings (they are kept on
        ``Study.warnings`` either way).

    Returns
    -------
    Study

    Raises
    ------
    DataError
        With every failure of every table, including references between tables.
    """
    data_dir = Path(data_dir)
    failures: list[Failure] = []
    frames: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    for table in TABLES:
        try:
            path = find_table(data_dir, table)
            files[table] = str(path)
            frames[table] = parse_table(read_raw(path), table, str(path))
        except DataError as err:
            failures += err.failures
    if failures:
        raise DataError(failures)
    study = assemble_study(frames, files, str(data_dir))
    if warn:
        for message in study.warnings:
            warnings.warn(message, DataWarning, stacklevel=2)
    return study
