"""Google Trends: import of a CSV exported from the Google Trends site."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from ..errors import DataError, Failure
from ..schema import FIRST_DAY, LAST_DAY
from .common import (
    FetchedSeries,
    _days,
    _frame,
)
from .http import (
    FetchError,
)

__all__ = [
    "import_google_trends",
    "read_google_trends",
]


def read_google_trends(text: str, column: str | None = None) -> tuple[pd.Series, str, str]:
    """Parse a Google Trends CSV export: ``(values by date, granularity, column name)``."""
    lines = text.lstrip("\ufeff").splitlines()
    header_at = next(
        (
            i
            for i, line in enumerate(lines)
            if line.split(",")[0].strip().strip('"') in ("Day", "Week", "Month")
        ),
        None,
    )
    if header_at is None:
        raise FetchError("not a Google Trends export: no 'Day', 'Week' or 'Month' header line")
    try:
        frame = pd.read_csv(io.StringIO("\n".join(lines[header_at:])), dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise FetchError(f"not a readable Google Trends export ({exc})") from exc
    granularity = frame.columns[0].lower()
    terms = list(frame.columns[1:])
    if column is None:
        if len(terms) != 1:
            raise FetchError(f"the export has several terms {terms}: choose one with --query")
        column = terms[0]
    match = [t for t in terms if t == column] or [
        t for t in terms if t.split(":")[0].strip() == column
    ]
    if not match:
        raise FetchError(f"no column {column!r} in the export; it has {terms}")
    if len(match) > 1:
        raise FetchError(
            f"{len(match)} columns of the export match {column!r} ({match}): give the whole "
            "column name with --query"
        )
    raw = frame[match[0]].fillna("").str.strip()
    values = pd.to_numeric(raw.replace("<1", "0.5"), errors="coerce")
    bad = raw[(values.isna() & raw.ne("")) | (values < 0) | (values > 100)]
    if len(bad):
        raise FetchError(f"unreadable values in the export: {sorted(set(bad))[:5]}")
    fmt = "%Y-%m-%d" if granularity != "month" else "%Y-%m"
    dates = pd.to_datetime(frame[frame.columns[0]], format=fmt, errors="coerce")
    if dates.isna().any() or not dates.between(FIRST_DAY, LAST_DAY).all():
        first = frame[frame.columns[0]][dates.isna()].iloc[0] if dates.isna().any() else ""
        raise FetchError(f"unreadable date {first!r} in the export (expected {fmt})")
    if dates.duplicated().any():
        raise FetchError("the export lists a date twice")
    return pd.Series(values.to_numpy(), index=dates), granularity, match[0]


def import_google_trends(
    campaign_id: str,
    path: Path,
    query: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> FetchedSeries:
    """A campaign series from a Google Trends CSV export (weekly rows on their first day).

    ``start``/``end`` (``YYYY-MM-DD``, optional) keep only the rows inside that window.
    Raises :class:`~analysis.errors.DataError` when no row is left.
    """
    try:
        if Path(path).stat().st_size > 64_000_000:
            raise DataError(
                [Failure(str(path), None, None, "", "a Google Trends export (at most 64 MB)")]
            )
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError([Failure(str(path), None, None, "", "UTF-8 text (a CSV export)")]) from exc
    except OSError as exc:
        raise DataError(
            [Failure(str(path), None, None, "", f"a readable file ({exc.strerror})")]
        ) from exc
    try:
        values, granularity, column = read_google_trends(text, query)
    except FetchError as exc:  # the file, not a service, is at fault: bad input
        raise DataError(
            [Failure(str(path), None, None, "", f"a Google Trends CSV export ({exc})")]
        ) from exc
    if start or end:
        days = _days(start or FIRST_DAY, end or LAST_DAY)
        values = values[(values.index >= days[0]) & (values.index <= days[-1])]
    if values.empty:
        raise DataError(
            [Failure(str(path), None, None, "", "an export with rows (inside --start..--end)")]
        )
    frame = _frame(campaign_id, pd.DatetimeIndex(values.index), values.to_numpy())
    campaign = {
        "label": f"Google Trends: {column}",
        "platform": "google_trends",
        "metric": "search_interest",
        "unit": f"index 0-100 ({granularity}ly values, '<1' read as 0.5)".replace("dayly", "daily"),
        "source": "Google Trends CSV export",
        "license": "Google Trends terms of service",
        "source_url": "https://trends.google.com",
        "query": column,
    }
    return FetchedSeries(campaign, frame)
