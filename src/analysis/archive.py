"""How post archives are read: their formats, a DuckDB connection under a memory cap,
timestamp expressions, and errors that name the file and line.
"""

from __future__ import annotations

import glob
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
import pandas as pd

from . import config
from .errors import DataError, Failure
from .vocabulary import FIRST_DAY, LAST_DAY

__all__ = [
    "MEMORY_RANGE",
    "TWITTER_EPOCH_MS",
    "ArchiveFormat",
    "TimestampUnit",
    "connect",
    "memory_bytes",
    "parse_size",
    "snowflake_to_datetime",
]


TWITTER_EPOCH_MS = 1288834974657


TimestampUnit = Literal["auto", "s", "ms", "snowflake"]


ArchiveFormat = Literal["auto", "csv", "json", "parquet", "ids"]


def snowflake_to_datetime(ids: Sequence[int] | np.ndarray | pd.Series) -> pd.Series:
    """Creation time (UTC, millisecond precision) encoded in Twitter snowflake IDs.

    Parameters
    ----------
    ids : sequence of int
        Tweet IDs issued from 2010-11-04 on (older IDs carry no time).

    Returns
    -------
    pandas.Series
        ``datetime64[ns, UTC]`` timestamps, ``(id >> 22) + 1288834974657`` ms after
        the Unix epoch.
    """
    arr = np.asarray(ids, dtype=np.uint64)
    ms = (arr >> np.uint64(22)).astype(np.int64) + TWITTER_EPOCH_MS
    return pd.Series(pd.to_datetime(ms, unit="ms", utc=True))


def connect(
    memory_limit: str | None = None, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection in UTC with a memory cap and a spill folder.

    Parameters
    ----------
    memory_limit : str, optional
        e.g. ``"300MB"``; default ``$PP_MEMORY_LIMIT`` or DuckDB's own default (80 % of RAM).
    threads : int, optional
        Worker threads (default: DuckDB's, one per core).
    """
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # DuckDB draws its progress bar on standard output, which would corrupt piped output.
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")
    limit = memory_limit or config.memory_limit()
    if limit:
        con.execute("SET memory_limit = ?", [f"{memory_bytes(limit)}B"])
    spill = Path(tempfile.gettempdir()) / "pressure-precedent-duckdb"
    spill.mkdir(parents=True, exist_ok=True)
    con.execute("SET temp_directory = ?", [str(spill)])
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _detect_format(paths: Sequence[Path]) -> ArchiveFormat:
    names = {p.name.lower() for p in paths}
    formats: tuple[tuple[ArchiveFormat, tuple[str, ...]], ...] = (
        ("parquet", (".parquet",)),
        ("json", (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")),
        ("csv", (".csv", ".csv.gz", ".tsv", ".tsv.gz")),
        ("ids", (".txt", ".txt.gz")),
    )
    for fmt, endings in formats:
        if all(n.endswith(endings) for n in names):
            return fmt
    raise ValueError(
        "cannot tell the archive format from the file names "
        f"{sorted(names)}: pass fmt='csv', 'json', 'parquet' or 'ids'"
    )


def parse_size(text: str) -> int:
    """Bytes in a size such as ``300MB``, ``1.5GB`` or ``512KiB``."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)(i?)B?\s*", text, flags=re.I)
    if not match:
        raise ValueError(f"not a size: {text!r} (expected e.g. 300MB)")
    number, prefix, binary = match.groups()
    base = 1024 if binary else 1000
    return int(float(number) * base ** " KMGT".index(prefix.upper() or " "))


#: DuckDB's memory cap must lie in this range (bytes): below it nothing can be counted.
MEMORY_RANGE = (10_000_000, 1 << 50)


def memory_bytes(text: str, option: str = "PP_MEMORY_LIMIT") -> int:
    """Bytes of a memory cap such as ``300MB``, checked against :data:`MEMORY_RANGE`.

    Raises
    ------
    DataError
        Naming ``option`` when the text is no size or the size is out of range.
    """
    try:
        size = parse_size(text)
    except ValueError:
        raise DataError([Failure(option, None, None, text, "a size such as 300MB")]) from None
    lo, hi = MEMORY_RANGE
    if not lo <= size <= hi:
        raise DataError([Failure(option, None, None, text, "a size between 10MB and 1PB")])
    return size


def _reader(fmt: str, buffer_size: int | None = None, filename: bool = False) -> str:
    buf = f", buffer_size = {int(buffer_size)}" if buffer_size else ""
    name = ", filename = 'pp_source_file'" if filename else ""
    return {
        "csv": f"read_csv($paths, header = true, all_varchar = true{buf}{name})",
        "json": f"read_json($paths, format = 'newline_delimited'{name})",
        "parquet": f"read_parquet($paths{name})",
        "ids": f"read_csv($paths, header = false, columns = {{'id': 'VARCHAR'}}{buf}{name})",
    }[fmt]


def _time_expression(column: str, unit: TimestampUnit) -> str:
    """SQL for a post's UTC day; NULL when the cell cannot be read as ``unit``.

    Days outside the contract's 1900..2099 are NULL too (a year 1 or 9999 is a typo).
    """
    col = _quote(column)
    if unit == "snowflake":
        ts = f"epoch_ms(CAST((TRY_CAST({col} AS UBIGINT) >> 22) + {TWITTER_EPOCH_MS} AS BIGINT))"
    elif unit == "s":
        seconds = f"TRY_CAST({col} AS DOUBLE)"
        ts = f"CASE WHEN abs({seconds}) < 7e9 THEN to_timestamp({seconds}) END"
    elif unit == "ms":
        ms = f"TRY_CAST({col} AS BIGINT)"
        ts = f"CASE WHEN abs({ms}) < 7e12 THEN epoch_ms({ms}) END"
    else:  # ISO text or a timestamp column; text without an offset is taken as UTC.
        ts = f"TRY_CAST({col} AS TIMESTAMPTZ)"
    day = f"TRY_CAST({ts} AS DATE)"
    return f"CASE WHEN {day} BETWEEN DATE '{FIRST_DAY}' AND DATE '{LAST_DAY}' THEN {day} END"


def _archive_paths(paths: Path | str | Sequence[Path | str]) -> list[Path]:
    """The archive paths, each an existing file or a pattern matching files."""
    if isinstance(paths, str | Path):
        paths = [paths]
    out = [Path(p) for p in paths]
    for p in out:
        if any(ch in str(p) for ch in "*?["):
            if not glob.glob(str(p)):
                raise DataError([Failure(str(p), None, None, "", "a pattern matching files")])
        elif not p.is_file():
            raise DataError([Failure(str(p), None, None, "", "an archive file that exists")])
    return out


def _archive_error(exc: Exception, paths: Sequence[Path]) -> DataError:
    """DuckDB's complaint about an archive as one line naming the file and line."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    file = re.search(r'file "?([^"\s,]+)"?', message)
    line = re.search(r"line (\d+)", message)
    name = file.group(1) if file else str(paths[0])
    row = int(line.group(1)) if line else None
    if "Out of Memory" in message:
        return DataError(
            [
                Failure(
                    name,
                    None,
                    None,
                    "",
                    "an archive that can be counted within the memory cap: raise "
                    "--memory-limit or PP_MEMORY_LIMIT (DuckDB ran out of memory)",
                )
            ]
        )
    if "Malformed JSON" in message:
        row = _first_bad_json_line(Path(name)) or row  # DuckDB's count is off by one
        message = "Malformed JSON"
    return DataError([Failure(name, row, None, "", f"an archive DuckDB can read ({message})")])


def _first_bad_json_line(path: Path) -> int | None:
    """Line number of the first line of a JSON-lines file that is not JSON (None if none)."""
    import gzip
    import json

    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            for number, text in enumerate(fh, start=1):
                if text.strip():
                    try:
                        json.loads(text)
                    except ValueError:
                        return number
    except OSError:
        return None
    return None
