"""Count post archives into daily activity series with DuckDB, streaming.

Archives may be far larger than memory: CSV, JSON lines or Parquet files of posts
(one row a post, with a timestamp column and optionally a text or hashtag column), or
tweet-ID lists (one ID a line, plain or gzip). DuckDB reads them in a single streaming
pass and aggregates per UTC calendar day, so memory grows with the number of days,
not posts. ``PP_MEMORY_LIMIT`` (or ``memory_limit=``) caps DuckDB's memory; it spills
to a temporary folder when it needs more (only ``distinct=True`` can need more).

A tweet ID carries its creation time: ``(id >> 22) + 1288834974657`` milliseconds
since the Unix epoch, UTC (Twitter's "snowflake" IDs, from November 2010 on).

Layout: reading archives (formats, the DuckDB connection, timestamp expressions, errors
naming a file and line) is :mod:`analysis.archive`; this module counts and checks.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from . import config
from .archive import (
    MEMORY_RANGE,
    TWITTER_EPOCH_MS,
    ArchiveFormat,
    TimestampUnit,
    _archive_error,
    _archive_paths,
    _detect_format,
    _quote,
    _reader,
    _time_expression,
    connect,
    memory_bytes,
    parse_size,
    snowflake_to_datetime,
)
from .errors import DataError, Failure
from .vocabulary import DATE_RANGE_EXPECTED, FIRST_DAY, LAST_DAY

__all__ = [
    "MAX_SILENT_DAYS",
    "MEMORY_RANGE",
    "TWITTER_EPOCH_MS",
    "connect",
    "count_posts",
    "count_tweet_ids",
    "memory_bytes",
    "parse_size",
    "snowflake_to_datetime",
]


#: A run of this many days with no post inside the default window (first to last day
#: with a post) is refused: each such day would be written as an observed zero, while
#: it is far more likely a stray timestamp (epoch 0, a short non-snowflake ID) or a
#: pause in collection. ``--start``/``--end`` say which days were collected.
MAX_SILENT_DAYS = 90


def count_posts(
    paths: Path | str | Sequence[Path | str],
    *,
    timestamp: str = "created_at",
    campaigns: Mapping[str, Sequence[str]] | str,
    match_column: str | None = None,
    unit: TimestampUnit = "auto",
    fmt: ArchiveFormat = "auto",
    distinct: str | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> pd.DataFrame:
    """Count posts per UTC calendar day and campaign, streaming through DuckDB.

    Parameters
    ----------
    paths : path or sequence of paths
        Archive files (glob patterns allowed), all of one format.
    timestamp : str
        Column holding each post's time: ISO 8601 text (an offset is honoured; text
        without one is read as UTC), a timestamp column, epoch numbers (``unit="s"``
        or ``"ms"``) or tweet IDs (``unit="snowflake"``). For ``fmt="ids"`` it is ``id``.
    campaigns : mapping or str
        ``{campaign_id: [term, …]}``: a post counts for a campaign when
        ``match_column`` contains any of its terms (case-insensitive substring, so
        ``#ichbinhanna`` matches ``#IchBinHanna``). A plain string counts every post
        for that one campaign id.
    match_column : str, optional
        Text or hashtag column that terms are matched against (required with a mapping).
    unit : {"auto", "s", "ms", "snowflake"}
        How ``timestamp`` is written (``auto`` = text or timestamp type).
    fmt : {"auto", "csv", "json", "parquet", "ids"}
        Archive format; ``auto`` decides from the file names.
    distinct : str, optional
        Count distinct values of this column (e.g. a post id) instead of rows, so a
        post collected twice counts once. Needs memory for the ids of one day at a time
        at most; DuckDB spills to disk past ``memory_limit``.
    start, end : date-like, optional
        The observation window (inclusive). Days inside it with no post are observed
        zeros; days outside it are dropped. Default: from the first to the last day
        with a post, per campaign.
    memory_limit : str, optional
        DuckDB memory cap such as ``"300MB"`` (default ``$PP_MEMORY_LIMIT``).
    threads : int, optional
        DuckDB threads.

    Returns
    -------
    pandas.DataFrame
        ``campaign_id``, ``date`` (midnight, naive = UTC day) and ``value`` (float
        count), one row per campaign and day of its window, sorted.
    """
    paths = _archive_paths(paths)
    start, end = _window_day(start, "--start"), _window_day(end, "--end")
    if start is not None and end is not None and start > end:
        raise DataError([Failure("--start", None, None, str(start.date()), "a day before --end")])
    if fmt == "auto":
        try:
            fmt = _detect_format(paths)
        except ValueError as exc:
            raise DataError([Failure(str(paths[0]), None, None, "", str(exc))]) from exc
    if fmt == "ids":
        timestamp, unit = "id", "snowflake"
        distinct = distinct or "id"
    campaign_terms = _campaign_terms(campaigns, match_column)
    params: dict[str, object] = {"paths": [str(p) for p in paths]}
    aggregates = _aggregates(campaign_terms, distinct, params)
    sql = _daily_sql(aggregates, fmt, timestamp, unit, match_column, distinct, memory_limit)
    con = connect(memory_limit, threads)
    try:
        wanted = [timestamp, match_column, distinct]
        _check_columns(con, fmt, params["paths"], paths, wanted, match_column)
        daily = con.execute(sql, params).df()
    except duckdb.Error as exc:
        raise _archive_error(exc, paths) from exc
    finally:
        con.close()
    _refuse_unreadable(daily, timestamp, unit)
    if distinct:
        _refuse_missing_ids(daily, distinct)
    ids = list(campaign_terms)
    daily = daily.drop(columns=["n_rows", "raw", "file", "n_no_id"], errors="ignore")
    daily = daily.rename(columns={f"c{i}": cid for i, cid in enumerate(ids)})
    daily["day"] = pd.to_datetime(daily["day"])
    out = _fill_window(daily, ids, start, end)
    if out.empty and start is None and end is None:
        raise DataError(
            [Failure(str(paths[0]), None, None, "", "an archive with at least one post to count")]
        )
    return out


def _daily_sql(
    aggregates: list[str],
    fmt: str,
    timestamp: str,
    unit: TimestampUnit,
    match_column: str | None,
    distinct: str | None,
    memory_limit: str | None,
) -> str:
    """The one streaming query: per UTC day, each campaign's count, the rows read, and
    a sample of the raw timestamp and its file (for error messages)."""
    text = f", lower(CAST({_quote(match_column)} AS VARCHAR)) AS txt" if match_column else ""
    keep = f", {_quote(distinct)}" if distinct and distinct != timestamp else ""
    if distinct == timestamp:
        keep = f", {_quote(timestamp)}"
    limit = memory_limit or config.memory_limit()
    # DuckDB's memory limit governs its buffer manager, not the CSV reader's own buffers
    # (16 MB per thread by default): scale those with the limit so the total stays inside.
    buffer_size = min(16_000_000, max(1_000_000, memory_bytes(limit) // 50)) if limit else None
    if distinct:  # count(DISTINCT x) skips posts without x: find them instead
        d = _quote(distinct)
        aggregates = [
            *aggregates,
            f"count(*) FILTER (WHERE {d} IS NULL OR trim(CAST({d} AS VARCHAR)) = '') AS n_no_id",
        ]
    return (
        f"SELECT day, {', '.join(aggregates)}, count(*) AS n_rows, "
        "any_value(raw) AS raw, any_value(pp_source_file) AS file FROM ("
        f"SELECT {_time_expression(timestamp, unit)} AS day, "
        f"CAST({_quote(timestamp)} AS VARCHAR) AS raw, pp_source_file{text}{keep} "
        f"FROM {_reader(fmt, buffer_size, filename=True)}) GROUP BY day ORDER BY day"
    )


def _refuse_missing_ids(daily: pd.DataFrame, distinct: str) -> None:
    """Posts without the column counted distinct would silently not count: refuse."""
    if daily["n_no_id"].sum() > 0:
        first = daily.loc[daily["n_no_id"] > 0, "file"].iloc[0]
        raise DataError(
            [
                Failure(
                    str(first),
                    None,
                    distinct,
                    "",
                    f"a value in every post to count distinct ({int(daily['n_no_id'].sum()):,} "
                    "posts have none and would not be counted): fill it, or count without "
                    "--distinct",
                )
            ]
        )


def _campaign_terms(
    campaigns: Mapping[str, Sequence[str]] | str, match_column: str | None
) -> dict[str, list[str]]:
    if isinstance(campaigns, str):
        return {campaigns: []}
    terms = {k: list(v) for k, v in campaigns.items()}
    if match_column is None:
        raise ValueError("match_column is required when campaigns maps ids to terms")
    empty = [k for k, v in terms.items() if not v]
    if empty:
        raise ValueError(f"campaigns without terms: {empty}")
    return terms


def _aggregates(
    campaign_terms: dict[str, list[str]], distinct: str | None, params: dict[str, object]
) -> list[str]:
    """One ``count(...) FILTER (...)`` per campaign; its terms are added to ``params``."""
    aggregates = []
    for i, terms in enumerate(campaign_terms.values()):
        where = ""
        if terms:
            conds = []
            for j, term in enumerate(terms):
                params[f"t{i}_{j}"] = term.lower()
                conds.append(f"contains(txt, $t{i}_{j})")
            where = f" FILTER (WHERE {' OR '.join(conds)})"
        what = f"DISTINCT {_quote(distinct)}" if distinct else "*"
        aggregates.append(f"count({what}){where} AS c{i}")
    return aggregates


def _refuse_unreadable(daily: pd.DataFrame, timestamp: str, unit: str) -> None:
    """A DataError naming the first unreadable timestamp (the NULL-day group), if any."""
    unreadable = daily["day"].isna()
    if not unreadable.any():
        return
    bad = daily[unreadable].iloc[0]
    what = {
        "snowflake": "a tweet ID (digits only)",
        "s": "epoch seconds",
        "ms": "epoch milliseconds",
    }.get(unit, "an ISO 8601 timestamp such as 2024-01-31T09:15:00Z")
    raw = "" if pd.isna(bad["raw"]) else str(bad["raw"])
    if unit == "auto" and re.fullmatch(r"\d{9,13}(\.\d*)?", raw):
        what += " (this looks like epoch time: pass --unit s or --unit ms)"
    raise DataError(
        [
            Failure(
                str(bad["file"]),
                None,
                timestamp,
                "" if pd.isna(bad["raw"]) else str(bad["raw"]),
                f"{what} between {FIRST_DAY} and {LAST_DAY} "
                f"({int(bad['n_rows']):,} rows cannot be read; nothing was counted)",
            )
        ]
    )


def _window_day(value: Any, option: str) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    text = str(value)
    try:
        day = pd.Timestamp(value)
    except (ValueError, TypeError):
        day = None
    if day is None or pd.isna(day) or day != day.normalize() or not re.match(r"^\d{4}-", text):
        raise DataError([Failure(option, None, None, text, "a day written YYYY-MM-DD")])
    if not pd.Timestamp(FIRST_DAY) <= day <= pd.Timestamp(LAST_DAY):
        raise DataError([Failure(option, None, None, text, DATE_RANGE_EXPECTED)])
    return day.tz_localize(None) if day.tzinfo else day


def _check_columns(
    con: duckdb.DuckDBPyConnection,
    fmt: str,
    patterns: object,
    paths: Sequence[Path],
    wanted: Sequence[str | None],
    match_column: str | None = None,
) -> None:
    """A clear error for a column the archive does not have (with the closest name)."""
    query = f"DESCRIBE SELECT * FROM {_reader(fmt)}"
    types = {row[0]: str(row[1]) for row in con.execute(query, {"paths": patterns}).fetchall()}
    found = list(types)
    failures = []
    if match_column in types and types[match_column].upper().startswith(("STRUCT", "MAP")):
        failures.append(
            Failure(
                str(paths[0]),
                1,
                match_column,
                types[match_column][:60],
                "a text or list-of-text column to match --term against (a record would "
                "match its field names too)",
            )
        )
    for name in dict.fromkeys(w for w in wanted if w):
        if name not in found:
            close = difflib.get_close_matches(name, found, n=1, cutoff=0.6)
            hint = f" (found {close[0]!r}: a misspelling?)" if close else ""
            failures.append(
                Failure(
                    str(paths[0]),
                    1,
                    name,
                    "",
                    f"a column named {name!r}{hint}; the archive has: "
                    + ", ".join(found[:12])
                    + (" …" if len(found) > 12 else ""),
                )
            )
    if failures:
        raise DataError(failures)


def _fill_window(
    daily: pd.DataFrame, ids: list[str], start: pd.Timestamp | None, end: pd.Timestamp | None
) -> pd.DataFrame:
    frames = []
    for cid in ids:
        counts = daily.set_index("day")[cid]
        counts = counts[counts > 0]
        if start is None or end is None:
            _refuse_silent_stretch(counts, cid, start, end)
        lo = (
            pd.Timestamp(start)
            if start is not None
            else (counts.index.min() if len(counts) else None)
        )
        hi = pd.Timestamp(end) if end is not None else (counts.index.max() if len(counts) else None)
        if lo is None or hi is None:
            continue
        days = pd.date_range(lo.normalize(), hi.normalize(), freq="D")
        series = counts.reindex(days, fill_value=0).astype("float64")
        frames.append(pd.DataFrame({"campaign_id": cid, "date": days, "value": series.to_numpy()}))
    if not frames:
        return pd.DataFrame(
            {
                "campaign_id": pd.Series(dtype="str"),
                "date": pd.Series(dtype="datetime64[ns]"),
                "value": pd.Series(dtype="float64"),
            }
        )
    out = pd.concat(frames, ignore_index=True)
    out["date"] = out["date"].astype("datetime64[ns]")
    return out


def _refuse_silent_stretch(
    counts: pd.Series, cid: str, start: pd.Timestamp | None, end: pd.Timestamp | None
) -> None:
    """Refuse a default window that would write a long silent stretch as observed zeros."""
    days = counts.index
    if start is not None:
        days = days[days >= pd.Timestamp(start)]
    if end is not None:
        days = days[days <= pd.Timestamp(end)]
    if len(days) < 2:
        return
    gaps = np.diff(days.to_numpy()).astype("timedelta64[D]").astype(int) - 1
    worst = int(np.argmax(gaps))
    if gaps[worst] < MAX_SILENT_DAYS:
        return
    before, after = counts[days[: worst + 1]], counts[days[worst + 1 :]]
    small = before if before.sum() <= after.sum() else after
    raise DataError(
        [
            Failure(
                f"--campaign {cid}",
                None,
                None,
                f"{days[worst]:%Y-%m-%d}..{days[worst + 1]:%Y-%m-%d}",
                f"no silent stretch of {MAX_SILENT_DAYS} days or more, but {int(gaps[worst]):,} "
                f"days have no post ({int(small.sum()):,} of {int(counts.sum()):,} posts lie "
                f"on the far side, {small.index.min():%Y-%m-%d}..{small.index.max():%Y-%m-%d}). "
                "Every day of the default window is written as an observed count, so a stray "
                "timestamp or a pause in collection would become zeros: pass --start and "
                "--end to say which days were collected, or ingest the parts one by one",
            )
        ]
    )


def count_tweet_ids(
    paths: Path | str | Sequence[Path | str],
    campaign_id: str,
    *,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    memory_limit: str | None = None,
) -> pd.DataFrame:
    """Daily counts of distinct tweet IDs (one ID a line, plain or gzip).

    The creation day of each ID is decoded from the ID itself (UTC). Duplicated IDs
    count once. See :func:`count_posts` for ``start``/``end`` and the result.
    """
    return count_posts(
        paths, campaigns=campaign_id, fmt="ids", start=start, end=end, memory_limit=memory_limit
    )
