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
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ._io import (
    MARKER,
    PLACEHOLDERS,
    atomic_write,
    foreign_entries,
    locked,
    read_marker,
    recover_folder,
    refuse_foreign_marker,
    replace_folder,
    stage_folder,
    write_marker,
)
from .errors import DataError, DataWarning, Failure, OutputError
from .schema import (
    DATE_RANGE_EXPECTED,
    FIRST_DAY,
    LAST_DAY,
    MAX_VALUE,
    NULLABLE,
    OPTIONAL_DAYS,
    OPTIONAL_DEFAULTS,
    REQUIRED,
    TABLES,
    check_table,
)
from .study import (  # re-exported: the study model used to live here
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

FORMATS: tuple[str, ...] = (".csv", ".parquet", ".xlsx")

_DAY_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]00:00(?::00(?:\.0+)?)?)?$")
_EVENT_DATE_RES = {
    "day": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "month": re.compile(r"^\d{4}-\d{2}$"),
    "year": re.compile(r"^\d{4}$"),
}
DAY_EXPECTED = "a calendar day written YYYY-MM-DD (UTC)"

DATE_MIN, DATE_MAX = pd.Timestamp(FIRST_DAY), pd.Timestamp(LAST_DAY)
RANGE_EXPECTED = DATE_RANGE_EXPECTED


def _drop_out_of_range(
    dates: pd.Series, text: pd.Series, file: str, name: str, failures: list[Failure]
) -> pd.Series:
    """NaT (and a failure naming the cell) for dates outside ``DATE_MIN..DATE_MAX``."""
    outside = dates.notna() & ((dates < DATE_MIN) | (dates > DATE_MAX))
    for idx in dates.index[outside]:
        failures.append(Failure(file, idx + 2, name, str(text[idx]), RANGE_EXPECTED))
    return dates.mask(outside).astype("datetime64[ns]")


EVENT_DATE_EXPECTED = "a date written YYYY-MM-DD, YYYY-MM or YYYY"


# --------------------------------------------------------------------------- reading


def find_table(folder: Path, table: str) -> Path:
    """Return the one file holding ``table`` in a study folder.

    Raises
    ------
    DataError
        If no file or more than one file (say ``cases.csv`` and ``cases.xlsx``) holds it.
    """
    folder = Path(folder)
    found = [folder / f"{table}{ext}" for ext in FORMATS if (folder / f"{table}{ext}").is_file()]
    if not found:
        names = ", ".join(f"{table}{ext}" for ext in FORMATS)
        if not folder.is_dir():
            raise DataError([Failure(str(folder), None, None, "", "a folder holding a study")])
        raise DataError(
            [Failure(str(folder), None, None, f"no {table} table", f"a file named {names}")]
        )
    if len(found) > 1:
        names = " and ".join(p.name for p in found)
        raise DataError(
            [Failure(str(folder), None, None, names, f"exactly one file for the table {table}")]
        )
    return found[0]


def read_raw(path: Path) -> pd.DataFrame:
    """Read a CSV, Parquet or Excel file with every cell as the user wrote it.

    Returns
    -------
    pandas.DataFrame
        Text cells (``""`` for an empty cell) for CSV; for Parquet and Excel the
        cells keep the type the file stores (dates, numbers), which the parsers accept.

    Raises
    ------
    DataError
        If the file cannot be read as a table at all (encoding, delimiter, empty file).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    _refuse_huge(path)
    if suffix == ".csv":
        return _read_csv(path)
    if suffix == ".parquet":
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise DataError(
                [Failure(str(path), None, None, "", f"a Parquet file ({first})")]
            ) from exc
    if suffix == ".xlsx":
        try:
            sheet, header, formulas = _excel_formulas(path)
            frame = pd.read_excel(path, sheet_name=sheet, dtype=object, engine="openpyxl")
        except DataError:
            raise
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(
                [Failure(str(path), None, None, "", f"an .xlsx workbook ({first})")]
            ) from exc
        failures = _excel_header(str(path), header)
        for row, column, text, kind in formulas:
            if kind == "e" and text.upper() == "#N/A" and row - 2 < len(frame):
                frame.at[row - 2, column] = "#N/A"
                continue
            expected = (
                "a value, not a formula (copy the column and paste it back as values)"
                if kind == "f"
                else "a value, not an Excel error (fix the cell, or leave it empty for an "
                "unobserved day)"
            )
            failures.append(Failure(str(path), row, column, text, expected))
        if failures:
            raise DataError(failures)
        return frame.map(_excel_cell)
    raise DataError([Failure(str(path), None, None, suffix, "a .csv, .parquet or .xlsx file")])


def max_table_bytes() -> int:
    """Largest table file read (``PP_MAX_TABLE_BYTES``, default 1 GiB).

    A study's tables are daily counts (a decade of 1,000 series is ~200 MB of CSV);
    a larger file is almost always a post archive, which ``ingest`` counts in chunks.
    """
    try:
        return int(os.environ.get("PP_MAX_TABLE_BYTES", 1 << 30))
    except ValueError:
        return 1 << 30


def _human_size(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def _refuse_huge(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError:
        return  # reading it reports the problem
    limit = max_table_bytes()
    if size > limit:
        raise DataError(
            [
                Failure(
                    str(path),
                    None,
                    None,
                    _human_size(size),
                    f"a table file of at most {_human_size(limit)} (a file of posts is "
                    "counted into daily activity by `python -m analysis ingest`; "
                    "PP_MAX_TABLE_BYTES raises the limit)",
                )
            ]
        )


def _excel_header(file: str, header: list[str]) -> list[Failure]:
    """Failures of a header row that pandas would silently mend: an empty name before a
    named column (pandas calls it ``Unnamed: 2``) and a name used twice (``value.1``)."""
    failures = []
    names = [h.strip() for h in header]
    last = max((i for i, h in enumerate(names) if h), default=-1)
    for i, name in enumerate(names[: last + 1]):
        letter = _column_letter(i)
        if not name:
            failures.append(
                Failure(file, 1, f"column {letter}", "", "a name for every column in row 1")
            )
        elif names.index(name) != i:
            failures.append(Failure(file, 1, name, name, "each column name once in the header row"))
    return failures


def _column_letter(i: int) -> str:
    letters = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def _excel_formulas(path: Path) -> tuple[str, list[str], list[tuple[int, str, str, str]]]:
    """The sheet read (the first *visible* one), its header row, and (row, column name,
    text, kind) of every formula (``f``) and error (``e``) cell on it.

    pandas reads a formula's cached result, which is empty when the workbook was written
    by a program that does not compute formulas, and reads an error value such as
    ``#DIV/0!`` as an empty cell: either way a count would silently become an unobserved
    day. Formulas and errors are therefore refused (``#N/A`` is read as the text
    ``#N/A``, an unobserved day with a warning, as in a CSV file).
    """
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=False)
    visible = [ws for ws in book.worksheets if ws.sheet_state == "visible"]
    if not visible:
        raise DataError([Failure(str(path), None, None, "", "a workbook with a visible sheet")])
    sheet = visible[0]  # a hidden first sheet (old numbers, lookups) is not the table
    found = []
    header: list[str] = []
    for r, row in enumerate(sheet.iter_rows(), start=1):
        if r == 1:
            header = ["" if cell.value is None else str(cell.value) for cell in row]
            continue
        for c, cell in enumerate(row):
            kind = getattr(cell, "data_type", None)
            if kind == "f" or kind == "e":  # text starting with '=' is fine
                name = header[c] if c < len(header) else f"column {c + 1}"
                found.append((r, name, str(cell.value), kind))
    return sheet.title, header, found


def _excel_cell(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, pd.Timestamp | np.datetime64) or hasattr(value, "isoformat"):
        ts = pd.Timestamp(value)
        return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.isoformat()
    return value


def _read_csv(path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    name = str(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            [
                Failure(
                    name,
                    line,
                    None,
                    data[exc.start : exc.start + 4].hex(" "),
                    "UTF-8 text (in Excel: Save As 'CSV UTF-8')",
                )
            ]
        ) from exc
    if not text.strip():
        raise DataError([Failure(name, 1, None, "", "a header row naming the columns")])
    header = text.splitlines()[0]
    if "," not in header:
        for sep, word in ((";", "semicolons"), ("\t", "tabs")):
            if sep in header:
                raise DataError(
                    [
                        Failure(
                            name,
                            1,
                            None,
                            header,
                            f"comma-separated columns (this file separates them with {word}; "
                            "in Excel choose 'CSV UTF-8 (Comma delimited)')",
                        )
                    ]
                )
    names = next(csv.reader([header]))
    repeated = sorted({n.strip() for n in names if [m.strip() for m in names].count(n.strip()) > 1})
    if repeated:
        raise DataError(
            [
                Failure(name, 1, col, col, "each column name once in the header row")
                for col in repeated
            ]
        )
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.ParserError as exc:
        match = re.search(r"line (\d+)", str(exc))
        row = int(match.group(1)) if match else None
        raise DataError([Failure(name, row, None, "", f"a well-formed CSV row ({exc})")]) from exc
    # Blank lines are skipped and quoted cells may span lines: row numbers in messages
    # must still be the file's own line numbers (see :func:`file_rows`).
    if len(frame) + 1 != text.count("\n") + (not text.endswith("\n")):
        frame.attrs["csv_path"] = name
    return frame


def _csv_record_lines(path: str) -> list[int] | None:
    """Line number on which each record of a CSV file starts (header first).

    Skips the lines pandas skips (empty or whitespace-only); ``None`` if the file
    cannot be read again.
    """
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    reader = csv.reader(io.StringIO(text, newline=""))
    starts, previous = [], 0
    try:
        for row in reader:
            if row and not (len(row) == 1 and not row[0].strip()):
                starts.append(previous + 1)
            previous = reader.line_num
    except csv.Error:
        return None  # the rows keep their record numbers
    return starts


def file_rows(failures: list[Failure], path: str | None, n_rows: int) -> list[Failure]:
    """Rewrite row numbers (``index + 2``) of a CSV-read table as the file's line numbers.

    Only tables read from a CSV file whose records are not one per line (blank lines,
    cells spanning lines) need it: :func:`read_raw` marks those with the ``csv_path``
    attribute. ``path`` None returns ``failures`` as they are.
    """
    if not path or not failures:
        return failures
    starts = _csv_record_lines(path)
    if starts is None or len(starts) != n_rows + 1:
        return failures
    return [
        Failure(f.file, starts[f.row - 1], f.column, f.value, f.expected)
        if f.file == path and f.row is not None and 2 <= f.row <= len(starts)
        else f
        for f in failures
    ]


# --------------------------------------------------------------------------- parsing


def _as_text(column: pd.Series) -> pd.Series:
    """Cells as stripped-of-nothing text; empty/missing → ``""``."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.dt.strftime("%Y-%m-%d").fillna("")
    out = column.astype(object).where(column.notna(), "")
    return out.map(_cell_text).astype(str)


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat") and not isinstance(value, str):
        return _excel_cell(value)  # a date cell of a parquet object column
    return str(value)


def _missing_columns(raw: pd.DataFrame, table: str, file: str) -> list[Failure]:
    failures = []
    present = [str(c) for c in raw.columns]
    for col in REQUIRED[table]:
        if col not in present:
            close = difflib.get_close_matches(col, present, n=1, cutoff=0.6)
            hint = f" (found '{close[0]}': a misspelling?)" if close else ""
            failures.append(
                Failure(file, 1, col, "", f"a column named '{col}' in the header row{hint}")
            )
    duplicated = sorted({c for c in present if present.count(c) > 1})
    for col in duplicated:
        failures.append(Failure(file, 1, col, col, "each column name once in the header row"))
    return failures


_CONTRACT_COLUMNS = {
    t: {*REQUIRED[t], *OPTIONAL_DAYS.get(t, ()), *OPTIONAL_DEFAULTS.get(t, {})} for t in TABLES
}
#: Names the analyses join or align the tables on (``label``, ``stance`` and ``value``
#: travel with series into event rows).
_JOIN_NAMES = frozenset({"case_id", "campaign_id", "date", "value", "label", "stance"})
_TYPED_COLUMNS = {"legal_events": ("date",), "campaign_activity": ("date", "value")}


def _parse_text_columns(
    raw: pd.DataFrame, table: str, file: str, failures: list[Failure]
) -> pd.DataFrame:
    out = pd.DataFrame(index=raw.index)
    for col in raw.columns:
        col = str(col)
        if col in _TYPED_COLUMNS.get(table, ()):
            continue
        text = _as_text(raw[col])
        empty = text.str.strip() == ""
        if col in REQUIRED[table] and col not in NULLABLE[table]:
            for idx in text.index[empty]:
                failures.append(
                    Failure(file, idx + 2, col, text[idx], "a value (this column may not be empty)")
                )
        out[col] = text.mask(empty)
    return out


def _parse_day_column(
    column: pd.Series, file: str, name: str, failures: list[Failure]
) -> pd.Series:
    """Strict ``YYYY-MM-DD`` → midnight timestamps (UTC calendar days)."""
    if pd.api.types.is_datetime64_any_dtype(column):
        values = column.dt.tz_convert("UTC").dt.tz_localize(None) if column.dt.tz else column
        values = _drop_out_of_range(values, values.astype(str), file, name, failures)
        not_midnight = values.notna() & (values != values.dt.normalize())
        for idx in values.index[not_midnight]:
            failures.append(
                Failure(file, idx + 2, name, str(values[idx]), DAY_EXPECTED + ", not a time")
            )
        missing = column.isna()
        for idx in values.index[missing]:
            failures.append(Failure(file, idx + 2, name, "", DAY_EXPECTED))
        return values.dt.normalize().astype("datetime64[ns]")
    text = _as_text(column).str.strip()
    shape_ok = text.str.match(_DAY_RE)
    parsed = pd.to_datetime(
        text.str.slice(0, 10).where(shape_ok), format="%Y-%m-%d", errors="coerce"
    )
    for idx in text.index[~shape_ok.astype(bool)]:
        failures.append(Failure(file, idx + 2, name, text[idx], DAY_EXPECTED))
    for idx in text.index[shape_ok.astype(bool) & parsed.isna()]:
        failures.append(
            Failure(file, idx + 2, name, text[idx], "a date that exists in the calendar")
        )
    return _drop_out_of_range(parsed, text, file, name, failures)


def _parse_optional_day(
    column: pd.Series, file: str, name: str, failures: list[Failure]
) -> pd.Series:
    """An optional day column: empty cells (or NA spellings) stay NaT, others as for ``date``."""
    text = _as_text(column).str.strip()
    present = (text != "") & ~text.str.lower().isin(MISSING_SPELLINGS)
    out = pd.Series(pd.NaT, index=column.index, dtype="datetime64[ns]")
    if present.any():
        out[present] = _parse_day_column(column[present], file, name, failures)
    return out


def _parse_event_dates(
    raw: pd.DataFrame, parsed: pd.DataFrame, file: str, failures: list[Failure]
) -> pd.Series:
    """Dates of legal events at their stated precision → first day of the period."""
    if pd.api.types.is_datetime64_any_dtype(raw["date"]):
        # A typed date column (Parquet, Excel): the event's own calendar day. A time zone
        # is the court's, so the local day is kept (converting to UTC would move an
        # evening verdict in UTC+ zones a day early); a time of day is refused, as in CSV.
        local = raw["date"].dt.tz_localize(None) if raw["date"].dt.tz else raw["date"]
        timed = local.notna() & (local != local.dt.normalize())
        for idx in local.index[timed]:
            failures.append(
                Failure(
                    file,
                    idx + 2,
                    "date",
                    str(raw["date"][idx]),
                    "a date without a time of day (the event's local calendar day)",
                )
            )
        local = local.mask(timed)
        text = _as_text(local)
        precision_from_text = pd.Series("day", index=raw.index).mask(local.isna())
    else:
        text = _as_text(raw["date"]).str.strip()
        timed = pd.Series(False, index=raw.index)
        precision_from_text = pd.Series(pd.NA, index=raw.index, dtype="object")
        for prec, pattern in _EVENT_DATE_RES.items():
            precision_from_text = precision_from_text.mask(text.str.match(pattern), prec)
    # Excel turns a typed "2024-05" into the date 2024-05-01: with a stated month (or
    # year) precision, the first day of that month (or year) is read as the month (year).
    stated = parsed["date_precision"]
    first = precision_from_text.eq("day") & text.str.endswith("-01")
    month = first & stated.eq("month")
    year = first & stated.eq("year") & text.str.slice(5, 7).eq("01")
    text = text.mask(month, text.str.slice(0, 7)).mask(year, text.str.slice(0, 4))
    precision_from_text = precision_from_text.mask(month, "month").mask(year, "year")
    padded = text.copy()
    padded[precision_from_text == "month"] = text + "-01"
    padded[precision_from_text == "year"] = text + "-01-01"
    dates = pd.to_datetime(
        padded.where(precision_from_text.notna()), format="%Y-%m-%d", errors="coerce"
    )
    for idx in text.index[precision_from_text.isna() & ~timed]:
        failures.append(Failure(file, idx + 2, "date", text[idx], EVENT_DATE_EXPECTED))
    for idx in text.index[precision_from_text.notna() & dates.isna()]:
        failures.append(
            Failure(file, idx + 2, "date", text[idx], "a date that exists in the calendar")
        )
    stated = parsed["date_precision"]
    mismatch = precision_from_text.notna() & stated.notna() & (stated != precision_from_text)
    mismatch &= stated.isin(_EVENT_DATE_RES)
    for idx in text.index[mismatch]:
        failures.append(
            Failure(
                file,
                idx + 2,
                "date_precision",
                stated[idx],
                f"'{precision_from_text[idx]}', as the date {text[idx]!r} is written",
            )
        )
    return _drop_out_of_range(dates, text, file, "date", failures)


#: Spellings of "not observed" that spreadsheets and R/pandas write; read as NaN (warned).
MISSING_SPELLINGS = frozenset({"na", "n/a", "nan", "null", "none", "#n/a"})


FINITE_EXPECTED = f"a finite number below {MAX_VALUE:.0e} (inf, 1e400 or 1e308 is no daily count)"


def _parse_values(column: pd.Series, file: str, failures: list[Failure]) -> pd.Series:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.astype("float64")
        for idx in values.index[~(np.abs(values.to_numpy()) < MAX_VALUE) & values.notna()]:
            failures.append(Failure(file, idx + 2, "value", str(values[idx]), FINITE_EXPECTED))
        return values
    text = _as_text(column).str.strip()
    spelled = text.str.lower().isin(MISSING_SPELLINGS)
    if spelled.any():
        first = int(text.index[spelled][0]) + 2
        warnings.warn(
            f"{file}: {int(spelled.sum())} value(s) written as {text[spelled].iloc[0]!r} "
            f"(first on row {first}) were read as unobserved days",
            DataWarning,
            stacklevel=2,
        )
        text = text.mask(spelled, "")
    numbers = pd.to_numeric(text.where(text != ""), errors="coerce")
    big = ~(np.abs(numbers.to_numpy(dtype="float64")) < MAX_VALUE) & numbers.notna().to_numpy()
    for idx in text.index[big]:
        failures.append(Failure(file, idx + 2, "value", text[idx], FINITE_EXPECTED))
    for idx in text.index[(text != "") & numbers.isna()]:
        failures.append(
            Failure(
                file,
                idx + 2,
                "value",
                text[idx],
                "a plain number such as 1234 or 0.5 (leave the cell empty for an unobserved day)",
            )
        )
    return numbers.astype("float64")


def _reserved(table: str, column: str) -> str:
    """Why ``column`` may not be an extra column of ``table`` ('' when it may).

    Extra columns are kept, but the analyses join the tables on their contract columns:
    an extra column named like another table's column (``campaign_id`` in
    ``legal_events``) would be taken for it. ``event_id`` is made by the project.
    """
    if column in REQUIRED[table] or column in OPTIONAL_DAYS.get(table, ()):
        return ""
    if column in OPTIONAL_DEFAULTS.get(table, {}):
        return ""
    if column == "event_id":
        return (
            "no column named 'event_id': the project makes event ids from case_id, date "
            "and event_type (rename yours, e.g. to 'source_event_id')"
        )
    owners = [t for t in TABLES if t != table and column in _CONTRACT_COLUMNS[t]]
    owners = owners if column in _JOIN_NAMES else []
    if owners:
        return (
            f"no extra column named {column!r}: it is a column of {owners[0]}, and the "
            f"tables are joined on such names (rename yours, e.g. to 'my_{column}')"
        )
    return ""


def parse_table(raw: pd.DataFrame, table: str, file: str) -> pd.DataFrame:
    """Turn a raw table into the typed frame of the contract, validating it.

    Parameters
    ----------
    raw : pandas.DataFrame
        As returned by :func:`read_raw`.
    table : str
        One of ``cases``, ``legal_events``, ``campaigns``, ``campaign_activity``.
    file : str
        Name to use in error messages.

    Returns
    -------
    pandas.DataFrame
        Required columns first (typed), then any extra columns as text.

    Raises
    ------
    DataError
        Listing every failure in the table (cross-table checks are not done here).
    """
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; expected one of {TABLES}")
    source = raw
    raw = raw.reset_index(drop=True)
    raw.columns = [str(c).strip() for c in raw.columns]
    failures = _missing_columns(raw, table, file)
    failures += [
        Failure(file, 1, col, col, _reserved(table, col))
        for col in raw.columns
        if _reserved(table, col)
    ]
    if failures:
        raise DataError(failures)
    for col, default in OPTIONAL_DEFAULTS.get(table, {}).items():
        if col not in raw.columns:
            raw[col] = default
    parsed = _parse_text_columns(raw, table, file, failures)
    if table == "legal_events":
        parsed["date"] = _parse_event_dates(raw, parsed, file, failures)
    elif table == "campaign_activity":
        parsed["date"] = _parse_day_column(raw["date"], file, "date", failures)
        parsed["value"] = _parse_values(raw["value"], file, failures)
    for col in OPTIONAL_DAYS.get(table, ()):
        if col in raw.columns:
            parsed[col] = _parse_optional_day(raw[col], file, col, failures)
    order = list(REQUIRED[table]) + [c for c in raw.columns if c not in REQUIRED[table]]
    parsed = parsed[order]
    unreadable = {(f.row, f.column) for f in failures}
    # Rows whose cells could not be parsed are checked by pandera on what is left.
    failures += [
        f
        for f in check_table(parsed, table, file, raw=_as_text_frame(raw))
        if (f.row, f.column) not in unreadable
    ]
    if failures:
        raise DataError(file_rows(failures, source.attrs.get("csv_path"), len(source)))
    if table == "legal_events":
        parsed.insert(0, "event_id", make_event_ids(parsed))
    parsed.attrs = {"csv_path": source.attrs["csv_path"]} if "csv_path" in source.attrs else {}
    return parsed


def _as_text_frame(raw: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({c: _as_text(raw[c]) for c in raw.columns}, index=raw.index)


# --------------------------------------------------------------------------- loaders


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


# --------------------------------------------------------------------------- saving


def write_table(frame: pd.DataFrame, path: Path, table: str) -> Path:
    """Write one contract table atomically as ``.csv``, ``.parquet`` or ``.xlsx``."""
    path = Path(path)
    out = to_contract(table, frame)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return atomic_write(path, lambda p: out.to_csv(p, index=False, date_format="%Y-%m-%d"))
    if suffix == ".parquet":
        return atomic_write(path, lambda p: out.to_parquet(p, index=False))
    if suffix == ".xlsx":
        return atomic_write(path, lambda p: _write_xlsx(out, p))
    raise ValueError(f"cannot write {path}: expected .csv, .parquet or .xlsx")


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    """One sheet; text that starts with ``=`` stays text (never a live formula)."""
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        frame.to_excel(writer, index=False)
        for row in next(iter(writer.sheets.values())).iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"


def _has_fetched_series(path: Path) -> bool:
    """A campaigns table holding series added with ``fetch`` (they carry ``fetched_at``)."""
    if not path.name.startswith("campaigns."):
        return False
    try:
        return "fetched_at" in read_raw(path).columns
    except (DataError, OSError, ValueError):
        return True  # unreadable: not ours to replace


def refuse_derived(folder: Path, what: str) -> None:
    """Refuse to add rows to a study folder that ``prepare`` replaces whole.

    Raises
    ------
    OutputError
        If ``folder`` carries the marker of a study written by :func:`save_study`:
        what was added there would vanish at the next ``prepare``.
    """
    marker = read_marker(Path(folder))
    if marker is not None and marker.get("kind") == "study":
        raise OutputError(
            f"{what}: {folder} is rebuilt whole by `prepare`, so what is added there would "
            "be lost; nothing was written. Add series to data/user (the default of `fetch`, "
            "merged by `prepare`) or to a study folder of your own (a copy of a prepared "
            f"study becomes yours once you delete its {MARKER} file)"
        )


def update_activity(path: Path, new: pd.DataFrame, *, what: str = "--out") -> Path:
    """Add or update days of series in an activity table file, keeping every other row.

    Rows of ``new`` replace the rows of the same campaign on the same day; every other
    row of the file (other campaigns, other days) is kept, so writing one series into a
    study's ``campaign_activity`` table never loses the others. The result is validated
    before it is written (atomically, in the file's format).

    Raises
    ------
    DataError
        If the existing file is not a valid ``campaign_activity`` table.
    OutputError
        If the file sits in a folder that ``prepare`` rebuilds (see :func:`refuse_derived`).
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    if path.suffix.lower() not in FORMATS:
        raise OutputError(f"{what}: {path} — expected a .csv, .parquet or .xlsx file name")
    if path.parent.exists() and not path.parent.is_dir():
        raise OutputError(f"{what}: {path.parent} is a file; expected a folder")
    refuse_derived(path.parent, what)
    twins = [
        path.with_suffix(ext).name
        for ext in FORMATS
        if ext != path.suffix.lower() and path.with_suffix(ext).exists()
    ]
    if twins and path.stem in TABLES:
        raise OutputError(
            f"{what}: {path.parent} already holds {', '.join(twins)}; a study folder has one "
            f"file per table, so write to that one"
        )
    if path.is_dir():
        raise OutputError(f"{what}: {path} is a folder; expected a table file")
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path.parent):  # concurrent updates take turns instead of losing rows
        return merge_activity_unlocked(path, new, what)


def merge_activity_unlocked(path: Path, new: pd.DataFrame, what: str) -> Path:
    """The read-merge-write of :func:`update_activity`; the caller holds the folder lock."""
    if path.exists():
        _refuse_workbook_with_sheets(path, what)
        old = parse_table(read_raw(path), "campaign_activity", str(path))
        keys = pd.MultiIndex.from_frame(new[["campaign_id", "date"]])
        same = pd.MultiIndex.from_frame(old[["campaign_id", "date"]]).isin(keys)
        new = pd.concat([old[~same], new], ignore_index=True)
    merged = new.sort_values(["campaign_id", "date"], kind="stable").reset_index(drop=True)
    parse_table(merged, "campaign_activity", str(path))
    return write_table(merged, path, "campaign_activity")


def _refuse_workbook_with_sheets(path: Path, what: str) -> None:
    """Rewriting a workbook keeps one sheet: refuse one that holds more."""
    if path.suffix.lower() != ".xlsx":
        return
    import openpyxl

    try:
        sheets = openpyxl.load_workbook(path, read_only=True).sheetnames
    except Exception:  # not a readable workbook: read_raw says why
        return
    if len(sheets) > 1:
        raise OutputError(
            f"{what}: {path} has {len(sheets)} sheets ({', '.join(sheets[:3])}); rewriting it "
            "would keep only the table. Nothing was written: use a .csv or .parquet table, "
            "or a workbook with one sheet"
        )


def save_study(
    study: Study, folder: Path, fmt: str = "parquet", *, legacy_ok: bool = False
) -> list[Path]:
    """Write a study's four tables as ``<table>.<fmt>``, replacing ``folder`` whole.

    The tables are written into a new folder beside ``folder`` and switched in with one
    atomic exchange, so a reader (or a kill at any moment) sees the previous study whole
    or the new one whole, never a mixture. ``folder`` must be new, empty, or a study
    folder this function wrote (it carries the project's marker); a folder holding
    anything else is refused, since its files would be lost.

    Parameters
    ----------
    study : Study
        The study to write.
    folder : Path
        The study folder to create or replace.
    fmt : {"parquet", "csv", "xlsx"}
        File format of every table.
    legacy_ok : bool
        Accept an unmarked folder that holds only contract tables (a folder written
        before markers existed, such as the project's own ``data/processed``).

    Raises
    ------
    OutputError
        If ``folder`` is a file, another kind of output, or holds files the project
        did not write.
    """
    folder = Path(folder)
    if folder.is_symlink():  # replace what the link points to, keep the link
        folder = folder.resolve()
    check_study_folder(folder, legacy_ok=legacy_ok)  # before creating anything
    folder.parent.mkdir(parents=True, exist_ok=True)
    with locked(folder.parent):  # one prepare at a time may replace this folder
        return _save_study(study, folder, fmt, legacy_ok)


def _save_study(study: Study, folder: Path, fmt: str, legacy_ok: bool) -> list[Path]:
    recover_folder(folder)
    check_study_folder(folder, legacy_ok=legacy_ok)
    stage = stage_folder(folder)
    try:
        write_marker(stage, "study", format=fmt)
        for keep in PLACEHOLDERS:
            if (folder / keep).is_file():
                shutil.copy2(folder / keep, stage / keep)
        for table, frame in study.tables().items():
            write_table(frame, stage / f"{table}.{fmt}", table)
        replace_folder(stage, folder, old_is_ours=True)  # checked above: only ours
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return [folder / f"{table}.{fmt}" for table in study.tables()]


def check_study_folder(folder: Path, *, legacy_ok: bool = False) -> None:
    """Refuse a study folder that :func:`save_study` may not replace (before any work).

    Raises
    ------
    OutputError
        ``folder`` is a file, another kind of output, or holds files the project did
        not write.
    """
    folder = Path(folder).resolve() if Path(folder).is_symlink() else Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is a file; expected a folder for the study")
    if folder.parent.exists() and not folder.parent.is_dir():
        raise OutputError(f"{folder.parent} is a file; expected a folder to hold {folder.name}")
    refuse_foreign_marker(folder, "--out")
    marker = read_marker(folder)
    # what an earlier save wrote: the marker says in which format (before markers: any)
    written = [f".{marker['format']}"] if marker and marker.get("format") else FORMATS
    tables = {f"{table}{ext}" for table in TABLES for ext in written}
    others = [p.name for p in foreign_entries(folder) if p.name not in tables or p.is_dir()]
    if marker is not None and marker.get("kind") != "study":
        raise OutputError(f"{folder} holds {marker['kind']}, not a study; choose another folder")
    if marker is None and legacy_ok and not others:
        others = [p.name for p in foreign_entries(folder) if _has_fetched_series(p)]
    if others or (marker is None and foreign_entries(folder) and not legacy_ok):
        listed = ", ".join((others or [p.name for p in foreign_entries(folder)])[:4])
        raise OutputError(
            f"{folder} holds files this project did not write ({listed}); the study folder "
            "is replaced whole, so they would be lost. Nothing was written: choose a new or "
            "empty folder, or move those files elsewhere"
        )
