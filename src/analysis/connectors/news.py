"""News attention: daily article counts or shares from GDELT's DOC 2.0 API and Media
Cloud's search API.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from ..errors import DataError, Failure
from .common import (
    FetchedSeries,
    _by_day,
    _days,
    _finite,
    _frame,
)
from .http import (
    FetchError,
    Http,
)

__all__ = [
    "GDELT_DOC",
    "MEDIACLOUD_API",
    "fetch_gdelt",
    "fetch_mediacloud",
]


GDELT_DOC = "https://api.gdeltproject.org/api/v2/doc/doc"


MEDIACLOUD_API = "https://search.mediacloud.org/api/"


def fetch_gdelt(
    http: Http,
    campaign_id: str,
    query: str,
    start: str | None,
    end: str | None,
    metric: str = "articles",
    base_url: str | None = None,
) -> FetchedSeries:
    """Daily GDELT article counts or volume share for a query.

    Days the reply does not list stay unobserved (NaN), never 0; a reply with a
    non-finite or negative count is refused. ``base_url`` (or ``PP_GDELT_URL``) points
    the request at another server, such as a test server or a mirror.
    """
    if metric not in ("articles", "share"):
        raise DataError([Failure("--metric", None, None, metric, "'articles' or 'share'")])
    days = _days(start, end)
    params = {
        "query": query,
        "mode": "timelinevolraw",
        "format": "json",
        "timelinesmooth": 0,
        "startdatetime": f"{days[0]:%Y%m%d}000000",
        "enddatetime": f"{days[-1]:%Y%m%d}235959",
    }
    status, data = http.get_json(base_url or os.environ.get("PP_GDELT_URL") or GDELT_DOC, params)
    values = pd.Series(np.nan, index=days)
    if status == 404:
        raise FetchError("GDELT answered 404: check the query")
    timeline = (data or {}).get("timeline") if isinstance(data, dict) else None
    if not isinstance(timeline, list):
        raise FetchError("GDELT: malformed reply (no 'timeline')")
    if not timeline:
        raise FetchError(
            "GDELT returned no timeline for this query and period (no matching article, or "
            "days GDELT does not cover); nothing was written"
        )
    got, norm_of = [], []
    try:
        for p in timeline[0]["data"]:
            day = pd.Timestamp(str(p["date"])[:8])
            got.append((day, _finite(p["value"], "value")))
            norm_of.append((day, _finite(p["norm"], "norm") if metric == "share" else 0.0))
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise FetchError(f"GDELT: malformed reply ({exc})") from exc
    counts, norms = _by_day(got, days, 0.0), _by_day(norm_of, days, 0.0)
    returned = pd.Series(days.isin([d for d, _ in got]), index=days)
    # Only days GDELT returned are observed: a day missing from the reply is unknown.
    observed = returned & (norms > 0) if metric == "share" else returned
    values[observed] = (100 * counts / norms)[observed] if metric == "share" else counts[observed]
    unit = "articles per day" if metric == "articles" else "percent of monitored articles"
    campaign = {
        "label": f"GDELT: {query}",
        "platform": "news",
        "metric": metric,
        "unit": unit,
        "source": "GDELT DOC 2.0 API (timelinevolraw)",
        "license": "GDELT terms: free use with citation",
        "source_url": "https://api.gdeltproject.org/api/v2/doc/doc",
        "query": query,
    }
    return FetchedSeries(campaign, _frame(campaign_id, days, values.to_numpy()))


def fetch_mediacloud(
    http: Http,
    campaign_id: str,
    query: str,
    start: str | None,
    end: str | None,
    metric: str = "stories",
    collections: Sequence[int] = (),
    platform: str = "onlinenews-mediacloud",
    base_url: str | None = None,
) -> FetchedSeries:
    """Daily Media Cloud story counts or ratio (needs ``MEDIACLOUD_API_KEY``)."""
    key = os.environ.get("MEDIACLOUD_API_KEY")
    if not key:
        raise FetchError(
            "Media Cloud needs an API key: set MEDIACLOUD_API_KEY (free at search.mediacloud.org)"
        )
    if metric not in ("stories", "ratio"):
        raise DataError([Failure("--metric", None, None, metric, "'stories' or 'ratio'")])
    days = _days(start, end)
    params = {
        "q": query,
        "start": f"{days[0]:%Y-%m-%d}",
        "end": f"{days[-1]:%Y-%m-%d}",
        "platform": platform,
    }
    if collections:
        params["cs"] = ",".join(str(c) for c in collections)
    base = base_url or os.environ.get("PP_MEDIACLOUD_URL") or MEDIACLOUD_API
    _, data = http.get_json(
        base + "search/count-over-time", params, headers={"Authorization": f"Token {key}"}
    )
    got = []
    try:
        for c in cast(Any, data)["count_over_time"]["counts"]:
            day = pd.Timestamp(str(c["date"])[:10])
            got.append((day, _finite(c["count" if metric == "stories" else "ratio"], metric)))
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise FetchError(f"Media Cloud: malformed reply ({exc})") from exc
    values = _by_day(got, days, np.nan, how="last")
    campaign = {
        "label": f"Media Cloud: {query}",
        "platform": "news",
        "metric": metric,
        "unit": "stories per day" if metric == "stories" else "share of all stories",
        "source": f"Media Cloud search API ({platform})",
        "license": "Media Cloud terms of use",
        "source_url": "https://search.mediacloud.org",
        "query": json.dumps({"q": query, "collections": list(collections)}),
    }
    return FetchedSeries(campaign, _frame(campaign_id, days, values.to_numpy()))
