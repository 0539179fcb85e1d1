"""Reading table files as the user wrote them: CSV (strict), Parquet, Excel; one file per table."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, Failure

__all__ = [
    "FORMATS",
    "file_rows",
    "find_table",
    "max_table_bytes",
    "read_raw",
]

FORMATS: tuple[str, ...] = (".csv", ".parquet", ".xlsx")


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
    if last < 0:
        expected = "a header row naming the columns in row 1 (row 1 of the sheet is empty)"
        return [Failure(file, 1, None, "", expected)]
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


def _excel_cell(value: Any) -> Any:
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
