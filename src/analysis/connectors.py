"""Connectors: build an activity series for any case from public sources.

``python -m analysis fetch SOURCE --campaign ID --query ... --start ... --end ...``
writes a ``campaigns`` row and ``campaign_activity`` rows into a study folder:

``wikipedia``
    Daily page views of one or more articles (``--query`` may repeat; ``--lang``
    picks the edition) from the Wikimedia REST pageviews API, user agent ``user``
    (humans, not bots). Views under an article's earlier titles (its redirects) are
    summed, so a renamed article keeps its early history. Page views exist from
    2015-07-01; days before are unobserved, days after with no views are 0.
``gdelt``
    Daily count of news articles matching a query (``--metric articles``) or their
    share of all articles monitored that day (``--metric share``, percent), from the
    GDELT DOC 2.0 ``timelinevolraw`` API.
``mediacloud``
    Daily story counts (``--metric stories``) or the share of all stories
    (``--metric ratio``) from Media Cloud's search API. Needs an API key in
    ``MEDIACLOUD_API_KEY``.
``google-trends``
    Import of a CSV exported from the Google Trends site (``--file``): its header
    lines, ``<1`` (read as 0.5, the middle of "between 0 and 1"), and weekly rows
    (kept on the week's first day, the other days unobserved — weekly values are not
    daily observations).

Each source's address can be pointed elsewhere (a mirror, a test server):
``PP_WIKIPEDIA_API`` (with ``{lang}``), ``PP_PAGEVIEWS_URL``, ``PP_GDELT_URL``,
``PP_MEDIACLOUD_URL``.

Network discipline: one deadline per request (connecting, waiting and reading), a
64 MB cap on a reply, redirects only within the same host and scheme, up to 4 retries
with exponential backoff on 429 and 5xx (honouring ``Retry-After`` up to 120 s; a longer
wait is reported), a clear error when offline, a polite user agent
(``PP_USER_AGENT`` to add your contact, as Wikimedia asks), and a cache of replies
under ``.cache/http`` so a rerun does not ask the service again (``--refresh`` does).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, cast
from urllib.parse import quote, urljoin, urlsplit

import numpy as np
import pandas as pd

from . import __version__, config
from ._io import atomic_write, locked
from .datasets import (
    FORMATS,
    find_table,
    merge_activity_unlocked,
    parse_table,
    read_raw,
    refuse_derived,
    write_table,
)
from .errors import DataError, Failure, OutputError
from .schema import FIRST_DAY, LAST_DAY, SLUG_EXPECTED, SLUG_RE
from .sources import SOURCES

__all__ = [
    "CONNECTORS",
    "GDELT_DOC",
    "LANG_RE",
    "MAX_REDIRECTS",
    "MAX_REPLY_BYTES",
    "MAX_RETRY_AFTER",
    "MEDIACLOUD_API",
    "PAGEVIEWS_START",
    "RETRY_STATUS",
    "WIKIMEDIA_PAGEVIEWS",
    "WIKIPEDIA_API",
    "Connector",
    "FetchError",
    "FetchedSeries",
    "Gdelt",
    "GoogleTrends",
    "Http",
    "MediaCloud",
    "Request",
    "Wikipedia",
    "default_http",
    "fetch_gdelt",
    "fetch_mediacloud",
    "fetch_wikipedia",
    "import_google_trends",
    "read_google_trends",
    "user_agent",
    "wikipedia_redirects",
    "wikipedia_views",
    "write_series",
]

WIKIMEDIA_PAGEVIEWS = "https://wikimedia.org/api/rest_v1/metrics/pageviews/per-article"
PAGEVIEWS_START = pd.Timestamp("2015-07-01")
GDELT_DOC = "https://api.gdeltproject.org/api/v2/doc/doc"
MEDIACLOUD_API = "https://search.mediacloud.org/api/"
RETRY_STATUS = {429, 500, 502, 503, 504}


class FetchError(RuntimeError):
    """A source could not be reached or answered with something unusable."""


def user_agent() -> str:
    """The User-Agent sent with every request (``PP_USER_AGENT`` adds your contact)."""
    contact = os.environ.get("PP_USER_AGENT", "set PP_USER_AGENT to your contact")
    about = "research on online pressure and legal change"
    return f"pressure-precedent/{__version__} ({about}; {contact})"


#: Largest reply read (bytes); a longer one is refused, not buffered.
MAX_REPLY_BYTES = 64_000_000
#: Longest ``Retry-After`` obeyed (seconds); a service asking for more is reported.
MAX_RETRY_AFTER = 120.0
#: Redirects followed (same host and https only).
MAX_REDIRECTS = 5


@dataclass
class Http:
    """A small HTTP client: a total deadline per request, capped reply size, retries with
    backoff, redirects only within the same host over https, and an on-disk reply cache.

    ``timeout`` bounds a whole request (connecting, waiting and reading), not each read,
    so a server that drips a byte a second cannot hold a fetch for long.
    """

    cache_dir: Path | None = None
    refresh: bool = False
    timeout: float = 30.0
    retries: int = 4
    backoff: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    max_bytes: int = MAX_REPLY_BYTES
    max_retry_after: float = MAX_RETRY_AFTER

    def get_json(
        self, url: str, params: dict[str, Any] | None = None, headers: dict[str, Any] | None = None
    ) -> tuple[int, object]:
        """GET ``url`` and return ``(status, parsed JSON)``; 404 is returned, not raised."""
        status, text = self.get_text(url, params, headers)
        try:
            return status, json.loads(text) if text else None
        except (json.JSONDecodeError, RecursionError) as exc:
            raise FetchError(f"{_host(url)}: the reply is not JSON ({text[:80]!r}…)") from exc

    def get_text(
        self, url: str, params: dict[str, Any] | None = None, headers: dict[str, Any] | None = None
    ) -> tuple[int, str]:
        """GET ``url`` and return ``(status, text)`` (cached unless ``refresh``)."""
        key = hashlib.sha256(json.dumps([url, params or {}], sort_keys=True).encode()).hexdigest()
        cached = self.cache_dir / f"{key}.json" if self.cache_dir else None
        if cached and cached.is_file() and not self.refresh:
            try:
                record = json.loads(cached.read_text())
                return int(record["status"]), str(record["text"])
            except (OSError, ValueError, KeyError, TypeError):
                pass  # a damaged cache entry is asked again
        hdrs = {"User-Agent": user_agent(), "Accept": "application/json", **(headers or {})}
        for attempt in range(self.retries + 1):
            try:
                status, text, reply_headers = self._get_once(url, params, hdrs)
            except _Timeout as exc:
                if attempt == self.retries:
                    raise FetchError(
                        f"{_host(url)}: no complete answer within {self.timeout:g} s"
                    ) from exc
                self.sleep(self.backoff * 2**attempt)
                continue
            if status in RETRY_STATUS and attempt < self.retries:
                self.sleep(self._wait(url, reply_headers.get("Retry-After"), attempt))
                continue
            if status in RETRY_STATUS:
                raise FetchError(
                    f"{_host(url)}: the service answered {status} after {self.retries} retries"
                )
            if status in (401, 403):
                raise FetchError(f"{_host(url)}: access refused ({status}); check the API key")
            if status not in (200, 404):
                raise FetchError(f"{_host(url)}: unexpected answer {status}")
            if cached:
                record = json.dumps({"status": status, "text": text})
                atomic_write(cached, functools.partial(Path.write_text, data=record))
            return status, text
        raise FetchError(f"{url}: gave up")  # pragma: no cover - the loop always returns or raises

    def _wait(self, url: str, retry_after: str | None, attempt: int) -> float:
        if retry_after and retry_after.strip().isdigit():
            wait = float(retry_after.strip())
            if wait > self.max_retry_after:
                raise FetchError(
                    f"{_host(url)}: the service asks to wait {wait:,.0f} s before asking again "
                    f"(more than {self.max_retry_after:g} s): try again later"
                )
            return wait
        return float(self.backoff * 2**attempt)

    def _get_once(
        self, url: str, params: dict[str, Any] | None, headers: dict[str, Any]
    ) -> tuple[int, str, dict[str, Any]]:
        """One request and its redirects, read in chunks under the deadline and size cap."""
        import requests
        import urllib3

        deadline = time.monotonic() + self.timeout
        origin = urlsplit(url)
        for _ in range(MAX_REDIRECTS + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Timeout
            try:
                reply = requests.get(
                    url,
                    params=params,
                    headers=headers,
                    timeout=(min(left, 10.0), min(left, 10.0)),
                    stream=True,
                    allow_redirects=False,
                )
            except requests.Timeout as exc:
                raise _Timeout from exc
            except requests.RequestException as exc:
                raise FetchError(
                    f"cannot reach {_host(url)} (offline?): {exc.__class__.__name__}"
                ) from exc
            with reply:
                if reply.is_redirect:
                    target = urljoin(reply.url, reply.headers.get("Location", ""))
                    parts = urlsplit(target)
                    if parts.scheme != origin.scheme or parts.netloc != origin.netloc:
                        raise FetchError(
                            f"{_host(url)}: redirected to {parts.scheme}://{parts.netloc}, "
                            "another host or scheme; not followed"
                        )
                    url, params = target, None
                    continue
                body = bytearray()
                try:
                    while chunk := reply.raw.read1(65536, decode_content=True):  # as it comes
                        body += chunk
                        if len(body) > self.max_bytes:
                            raise FetchError(
                                f"{_host(url)}: the reply is larger than "
                                f"{self.max_bytes / 1e6:,.0f} MB; ask for a shorter period"
                            )
                        if time.monotonic() > deadline:
                            raise _Timeout
                except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
                    raise _Timeout from exc
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                    raise FetchError(
                        f"{_host(url)}: the reply broke off ({exc.__class__.__name__})"
                    ) from exc
                text = body.decode(reply.encoding or "utf-8", errors="replace")
                return reply.status_code, text, dict(reply.headers)
        raise FetchError(f"{_host(url)}: more than {MAX_REDIRECTS} redirects")


class _Timeout(Exception):
    """The whole request took longer than its deadline."""


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


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


# --------------------------------------------------------------------------- wikipedia


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
        if not pages or pages[0].get("missing"):
            raise FetchError(f"{lang}.wikipedia has no article {title!r}")
        page = pages[0]
        return str(page["title"]), [str(r["title"]) for r in page.get("redirects", [])]
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise FetchError(f"{lang}.wikipedia: malformed reply about {title!r}") from exc


def wikipedia_views(http: Http, lang: str, title: str, days: pd.DatetimeIndex) -> pd.Series:
    """Daily user views of one title (as given; no redirect handling). Missing days are 0."""
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
        return out  # no views recorded for this title in the range
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise FetchError(f"{url}: malformed reply (no 'items' list)")
    views = []
    for item in data["items"]:
        try:
            views.append(
                (pd.Timestamp(str(item["timestamp"])[:8]), _finite(item["views"], "views"))
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise FetchError(f"{url}: malformed item {item!r}") from exc
    return _by_day(views, pd.DatetimeIndex(out.index), 0.0)


def fetch_wikipedia(
    http: Http,
    campaign_id: str,
    queries: Sequence[str],
    start: str | None,
    end: str | None,
    lang: str = "en",
) -> FetchedSeries:
    """Daily page views of the articles, summed over each article's redirects."""
    _check_lang(lang)
    days = _days(start, end)
    total = pd.Series(0.0, index=days[days >= PAGEVIEWS_START])
    titles = []
    for q in queries:
        current, redirects = wikipedia_redirects(http, lang, q)
        for title in [current, *redirects]:
            total = total.add(wikipedia_views(http, lang, title, days), fill_value=0.0)
            titles.append(title)
    values = pd.Series(np.nan, index=days)
    values.loc[total.index] = total.to_numpy()
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


# --------------------------------------------------------------------------- gdelt


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


# --------------------------------------------------------------------------- media cloud


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


# --------------------------------------------------------------------------- google trends


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


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Request:
    """What ``python -m analysis fetch`` asks of a source (the CLI's options)."""

    campaign: str
    query: tuple[str, ...] = ()
    start: str | None = None
    end: str | None = None
    metric: str | None = None
    lang: str = "en"
    file: Path | None = None


class Connector:
    """One source of activity series. Subclasses set the class attributes and ``fetch``;
    :data:`CONNECTORS` lists them and the ``fetch`` command is built from it."""

    #: The source's name on the command line.
    name: ClassVar[str] = ""
    #: One line for ``fetch --help``.
    summary: ClassVar[str] = ""
    #: Values of ``--metric`` (the first is the default); empty when there is no choice.
    metrics: ClassVar[tuple[str, ...]] = ()

    def fetch(self, http: Http, request: Request) -> FetchedSeries:
        """The series for ``request`` (raises :class:`FetchError` or ``DataError``)."""
        raise NotImplementedError

    def metric(self, request: Request) -> str:
        """``--metric`` or this source's default, checked against :attr:`metrics`."""
        metric = request.metric or self.metrics[0]
        if metric not in self.metrics:
            expected = " or ".join(repr(m) for m in self.metrics)
            raise DataError([Failure("--metric", None, None, metric, expected)])
        return metric

    @staticmethod
    def query(request: Request) -> str:
        """The query text (several ``--query`` joined by spaces); refused when missing."""
        if not request.query:
            raise DataError([Failure("--query", None, None, "", "a query for this source")])
        return " ".join(request.query)


class Wikipedia(Connector):
    name = "wikipedia"
    summary = SOURCES["wikipedia"].summary
    metrics = SOURCES["wikipedia"].metrics

    def fetch(self, http: Http, request: Request) -> FetchedSeries:
        self.query(request)
        return fetch_wikipedia(
            http, request.campaign, list(request.query), request.start, request.end, request.lang
        )


class _NewsCounts(Connector):
    """A news source counting the stories that match ``--query`` each day."""

    #: ``fetch_gdelt`` or ``fetch_mediacloud`` (a static method).
    fetcher: ClassVar[Callable[..., FetchedSeries]]

    def fetch(self, http: Http, request: Request) -> FetchedSeries:
        return self.fetcher(
            http,
            request.campaign,
            self.query(request),
            request.start,
            request.end,
            metric=self.metric(request),
        )


class Gdelt(_NewsCounts):
    name = "gdelt"
    summary = SOURCES["gdelt"].summary
    metrics = SOURCES["gdelt"].metrics
    fetcher = staticmethod(fetch_gdelt)


class MediaCloud(_NewsCounts):
    name = "mediacloud"
    summary = SOURCES["mediacloud"].summary
    metrics = SOURCES["mediacloud"].metrics
    fetcher = staticmethod(fetch_mediacloud)


class GoogleTrends(Connector):
    name = "google-trends"
    summary = SOURCES["google-trends"].summary
    metrics = SOURCES["google-trends"].metrics

    def fetch(self, http: Http, request: Request) -> FetchedSeries:
        if request.file is None:
            raise DataError(
                [Failure("--file", None, None, "", "a CSV exported from trends.google.com")]
            )
        return import_google_trends(
            request.campaign,
            Path(request.file),
            request.query[0] if request.query else None,
            start=request.start,
            end=request.end,
        )


#: Every source ``fetch`` knows, by its command-line name.
CONNECTORS: dict[str, Connector] = {
    c.name: c for c in (Wikipedia(), Gdelt(), MediaCloud(), GoogleTrends())
}


# --------------------------------------------------------------------------- writing


def _existing_path(folder: Path, table: str) -> Path:
    try:
        return find_table(folder, table)
    except DataError:
        if any((folder / f"{table}{ext}").exists() for ext in FORMATS):
            raise  # two files hold the table: say so rather than pick one
        return folder / f"{table}.csv"


def _existing(folder: Path, table: str) -> tuple[pd.DataFrame | None, Path]:
    path = _existing_path(folder, table)
    return (parse_table(read_raw(path), table, str(path)) if path.exists() else None), path


def write_series(
    folder: Path, campaign_id: str, series: FetchedSeries, stance: str | None = None
) -> tuple[Path, Path]:
    """Add or update a series in a study folder, safely.

    The ``campaigns`` row is added or replaced (with ``fetched_at``); activity rows of
    this campaign on the fetched days are replaced, other days and campaigns kept, so a
    rerun updates instead of duplicating. Both tables are validated before anything is
    written, and each is written atomically in the folder's existing format.

    ``stance`` (``supporting``, ``counter`` or ``neutral``) says whether the series counts
    as pressure for the case; by default a new series is ``supporting`` (attention to a
    case is pressure in this project's sense) and an updated one keeps its stance.
    """
    if not SLUG_RE.match(campaign_id):
        raise DataError([Failure("--campaign", None, None, campaign_id, SLUG_EXPECTED)])
    folder = Path(folder)
    if folder.is_symlink():
        folder = folder.resolve()
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--data: {folder} is a file; expected a study folder")
    refuse_derived(folder, "--data")
    if folder.resolve() == config.USER_DATA_DIR.resolve():
        _refuse_bundled_id(campaign_id)
    folder.mkdir(parents=True, exist_ok=True)
    with locked(folder):  # the two tables change together; a second fetch waits
        campaigns, camp_path = _existing(folder, "campaigns")
        act_path = _existing_path(folder, "campaign_activity")
        row = {
            "campaign_id": campaign_id,
            **series.campaign,
            "stance": stance or "supporting",
            "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        new_row = pd.DataFrame([row])
        if campaigns is not None:
            keep = campaigns[campaigns["campaign_id"] != campaign_id]
            if campaign_id in set(campaigns["campaign_id"]):
                old = campaigns[campaigns["campaign_id"] == campaign_id].iloc[0]
                new_row["stance"] = stance or old["stance"]
            campaigns = pd.concat([keep, new_row], ignore_index=True)
        else:
            campaigns = new_row
        parse_table(campaigns, "campaigns", str(camp_path))  # validate before writing anything
        # The campaign row first: a kill between the two writes leaves a valid study (a
        # series with no days yet), never days of a series the study does not list.
        write_table(campaigns, camp_path, "campaigns")
        merge_activity_unlocked(act_path, series.activity, "--data")
    return camp_path, act_path


def _refuse_bundled_id(campaign_id: str) -> None:
    """data/user is merged into the bundled study: its ids must be new there."""
    path = config.CURATED_DIR / "campaigns.csv"
    try:
        bundled = set(read_raw(path)["campaign_id"].astype(str))
    except (DataError, OSError, KeyError):
        return
    if campaign_id in bundled:
        raise DataError(
            [
                Failure(
                    "--campaign",
                    None,
                    None,
                    campaign_id,
                    "an id the bundled data do not use (data/user is merged into them)",
                )
            ]
        )


def default_http(refresh: bool = False) -> Http:
    """The client the CLI uses (cache under ``.cache/http``)."""
    return Http(cache_dir=config.CACHE_DIR / "http", refresh=refresh)
