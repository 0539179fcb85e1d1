"""Wikipedia: daily user page views of articles, summed over their redirects (Wikimedia
REST API).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from urllib.parse import quote

import numpy as np
import pandas as pd

from ..errors import DataError, Failure
from .common import (
    LANG_RE,
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
    "PAGEVIEWS_START",
    "PUBLICATION_DAYS",
    "WIKIMEDIA_PAGEVIEWS",
    "WIKIPEDIA_API",
    "fetch_wikipedia",
    "wikipedia_redirects",
    "wikipedia_views",
]


WIKIMEDIA_PAGEVIEWS = "https://wikimedia.org/api/rest_v1/metrics/pageviews/per-article"


PAGEVIEWS_START = pd.Timestamp("2015-07-01")


#: Where the Wikipedia connector asks (``{lang}`` is the edition); tests point these
#: at a local server.
WIKIPEDIA_API = "https://{lang}.wikipedia.org/w/api.php"


def _check_lang(lang: str) -> None:
    if not LANG_RE.match(lang):
        raise DataError(
            [Failure("--lang", None, None, lang, "a Wikipedia language code such as en or de")]
        )


def wikipedia_redirects(http: Http, lang: str, title: str) -> tuple[str, list[str]]:
    """The article's current title and every title that redirects to it."""
    _check_lang(lang)
    url = (os.environ.get("PP_WIKIPEDIA_API") or WIKIPEDIA_API).format(lang=lang)
    params = {
        "action": "query",
        "titles": title,
        "redirects": 1,
        "prop": "redirects",
        "rdlimit": "max",
        "rdnamespace": 0,
        "format": "json",
        "formatversion": 2,
    }
    status, data = http.get_json(url, params)
    if status == 404 or not isinstance(data, dict) or not isinstance(data.get("query"), dict):
        raise FetchError(f"{lang}.wikipedia: no answer about {title!r}")
    try:
        pages = data["query"].get("pages", [])
        if pages and pages[0].get("invalid"):
            why = pages[0].get("invalidreason", "")
            raise FetchError(f"{lang}.wikipedia: {title!r} is not a valid title ({why})")
        if not pages or pages[0].get("missing"):
            raise FetchError(f"{lang}.wikipedia has no article {title!r}")
        page = pages[0]
        return str(page["title"]), [str(r["title"]) for r in page.get("redirects", [])]
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise FetchError(f"{lang}.wikipedia: malformed reply about {title!r}") from exc


def wikipedia_views(http: Http, lang: str, title: str, days: pd.DatetimeIndex) -> pd.Series:
    """Daily user views of one title (as given; no redirect handling). Missing days are 0,
    and so is every day when the service has no views of the title in the range."""
    views = _views(http, lang, title, days)
    return pd.Series(0.0, index=days[days >= PAGEVIEWS_START]) if views is None else views


def _views(http: Http, lang: str, title: str, days: pd.DatetimeIndex) -> pd.Series | None:
    """:func:`wikipedia_views`, but ``None`` when the service has no views at all (404)."""
    article = quote(title.replace(" ", "_"), safe="")
    lo = max(days[0], PAGEVIEWS_START)
    url = (
        f"{os.environ.get('PP_PAGEVIEWS_URL') or WIKIMEDIA_PAGEVIEWS}/{lang}.wikipedia.org/"
        f"all-access/user/{article}/daily/"
        f"{lo:%Y%m%d}00/{days[-1]:%Y%m%d}00"
    )
    status, data = http.get_json(url)
    out = pd.Series(0.0, index=days[days >= PAGEVIEWS_START])
    if status == 404:
        return None  # no views recorded for this title in the range
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise FetchError(f"{url}: malformed reply (no 'items' list)")
    views = []
    for item in data["items"]:
        try:
            views.append(
                (pd.Timestamp(str(item["timestamp"])[:8]), _finite(item["views"], "views"))
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise FetchError(f"{url}: malformed item {item!r} ({exc})") from exc
    return _by_day(views, pd.DatetimeIndex(out.index), 0.0)


#: Page views of the last days are published with a delay: days this close to today
#: after the last day any title has views are not yet known, not days without views.
PUBLICATION_DAYS = 7


def _unpublished(total: pd.Series, today: pd.Timestamp | None = None) -> pd.Index:
    """The trailing days of ``total`` that the service may not have published yet."""
    today = (today or pd.Timestamp.now(tz="UTC").tz_localize(None)).normalize()
    seen = total.index[total.to_numpy() > 0]
    after = total.index if len(seen) == 0 else total.index[total.index > seen.max()]
    return after[after > today - pd.Timedelta(days=PUBLICATION_DAYS)]


def fetch_wikipedia(
    http: Http,
    campaign_id: str,
    queries: Sequence[str],
    start: str | None,
    end: str | None,
    lang: str = "en",
) -> FetchedSeries:
    """Daily page views of the articles, summed over each article's redirects.

    Days before 2015-07-01 (when the service begins) are unobserved, and so are the last
    days before today that no title has views for yet (:data:`PUBLICATION_DAYS`); other
    days without views are 0. Raises :class:`FetchError` when the service has no views
    of any title in the range, rather than writing a series of zeros.
    """
    _check_lang(lang)
    days = _days(start, end)
    total = pd.Series(0.0, index=days[days >= PAGEVIEWS_START])
    titles, answered = [], 0
    for q in queries:
        current, redirects = wikipedia_redirects(http, lang, q)
        for title in [current, *redirects]:
            views = _views(http, lang, title, days)
            if views is not None:
                total = total.add(views, fill_value=0.0)
                answered += 1
            titles.append(title)
    if len(total) and not answered:
        raise FetchError(
            f"{lang}.wikipedia: the pageviews service has no views of {', '.join(titles)} "
            f"from {total.index[0]:%Y-%m-%d} to {days[-1]:%Y-%m-%d} (an article created "
            "later, or PP_PAGEVIEWS_URL pointing elsewhere); nothing was written"
        )
    values = pd.Series(np.nan, index=days)
    values.loc[total.index] = total.to_numpy()
    values[_unpublished(total)] = np.nan
    source_url = f"https://{lang}.wikipedia.org/wiki/{quote(queries[0].replace(' ', '_'))}"
    campaign = {
        "label": f"Wikipedia: {', '.join(queries)}",
        "platform": "wikipedia",
        "metric": "pageviews",
        "unit": "page views per day",
        "source": "Wikimedia REST API, per-article pageviews (user agent)",
        "license": "CC0-1.0",
        "source_url": source_url,
        "query": json.dumps({"lang": lang, "articles": list(queries), "titles_summed": titles}),
    }
    return FetchedSeries(campaign, _frame(campaign_id, days, values.to_numpy()))
