"""Parsing raw tables into the typed tables of the contract, collecting every failure."""

from __future__ import annotations

import difflib
import re
import warnings

import numpy as np
import pandas as pd

from ..errors import DataError, DataWarning, Failure
from ..schema import (
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
from ..study import (
    make_event_ids,
)
from .read import _excel_cell, file_rows

__all__ = [
    "DATE_MAX",
    "DATE_MIN",
    "DAY_EXPECTED",
    "EVENT_DATE_EXPECTED",
    "FINITE_EXPECTED",
    "MISSING_SPELLINGS",
    "RANGE_EXPECTED",
    "parse_table",
]

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


def _as_text(column: pd.Series) -> pd.Series:
    """Cells as stripped-of-nothing text; empty/missing → ``""``."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return pd.Series(column.dt.strftime("%Y-%m-%d").fillna(""))
    out = column.astype(object).where(column.notna(), "")
    return out.map(_cell_text).astype(str)


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat") and not isinstance(value, str):
        return str(_excel_cell(value))  # a date cell of a parquet object column
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
        return pd.Series(values.dt.normalize().astype("datetime64[ns]"))
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
