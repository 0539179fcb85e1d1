"""What every connector shares: the fetched series, day ranges, and checks on the numbers a
reply gives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, Failure

__all__ = [
    "LANG_RE",
    "FetchedSeries",
]


@dataclass(frozen=True)
class FetchedSeries:
    """A fetched series: its ``campaigns`` row and its ``campaign_activity`` rows."""

    campaign: dict[str, Any]
    activity: pd.DataFrame


def _days(start: str | None, end: str | None) -> pd.DatetimeIndex:
    days = []
    for option, value in (("--start", start), ("--end", end)):
        try:
            day = pd.Timestamp(str(value)) if value else None
        except ValueError:
            day = None
        if day is None or pd.isna(day) or day != day.normalize():
            raise DataError([Failure(option, None, None, str(value or ""), "a day YYYY-MM-DD")])
        days.append(day)
    lo, hi = days
    if hi < lo:
        raise DataError([Failure("--end", None, None, str(end), f"a day on or after {start}")])
    return pd.date_range(lo, hi, freq="D")


def _finite(value: Any, what: str) -> float:
    """A number from a reply: finite and ≥ 0, else the reply is malformed."""
    if isinstance(value, bool):  # JSON true is not a count
        raise TypeError(f"{what} {value!r} is not a number")
    number = float(value)  # TypeError/ValueError: the caller reports a malformed reply
    if not np.isfinite(number) or number < 0:
        raise ValueError(f"{what} {value!r} is not a finite count ≥ 0")
    return number


#: Wikipedia editions are named by language codes (``en``, ``de``, ``zh-min-nan``,
#: ``simple``): the code becomes a host name, so nothing else is accepted.
LANG_RE = re.compile(r"^[a-z][a-z0-9]{1,11}(?:-[a-z0-9]{1,12}){0,3}$")


def _by_day(
    pairs: list[tuple[pd.Timestamp, float]],
    days: pd.DatetimeIndex,
    fill: float,
    how: str = "sum",
) -> pd.Series:
    """One value per day of ``days`` from ``(day, value)`` pairs of a reply: their sum
    (``how="sum"``) or the last one given (``"last"``); ``fill`` on days with none, and
    pairs for other days ignored."""
    if not pairs:
        return pd.Series(fill, index=days, dtype=float)
    given = pd.DataFrame(pairs, columns=["day", "value"]).groupby("day")["value"].agg(how)
    return given.reindex(days, fill_value=fill).astype(float)


def _frame(campaign_id: str, days: pd.DatetimeIndex, values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {"campaign_id": campaign_id, "date": days.astype("datetime64[ns]"), "value": values}
    )
