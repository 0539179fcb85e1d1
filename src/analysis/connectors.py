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

Network discipline: a timeout, up to 4 retries with exponential backoff on 429 and
5xx (honouring ``Retry-After``), a clear error when offline, a polite user agent
(``PP_USER_AGENT`` to add your contact, as Wikimedia asks), and a cache of replies
under ``.cache/http`` so a rerun does not ask the service again (``--refresh`` does).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from . import __version__, config
from ._io import locked
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
from .schema import SLUG_EXPECTED, SLUG_RE

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


@dataclass
class Http:
    """A small HTTP client with timeout, retries, backoff and an on-disk reply cache."""

    cache_dir: Path | None = None
    refresh: bool = False
    timeout: float = 30.0
    retries: int = 4
    backoff: float = 1.0
    sleep: object = time.sleep

    def get_json(
        self, url: str, params: dict | None = None, headers: dict | None = None
    ) -> tuple[int, object]:
        """GET ``url`` and return ``(status, parsed JSON)``; 404 is returned, not raised."""
        status, text = self.get_text(url, params, headers)
        try:
            return status, json.loads(text) if text else None
        except json.JSONDecodeError as exc:
            raise FetchError(f"{url}: the reply is not JSON ({text[:80]!r}…)") from exc

    def get_text(
        self, url: str, params: dict | None = None, headers: dict | None = None
    ) -> tuple[int, str]:
        import requests

        key = hashlib.sha256(json.dumps([url, params or {}], sort_keys=True).encode()).hexdigest()
        cached = self.cache_dir / f"{key}.json" if self.cache_dir else None
        if cached and cached.exists() and not self.refresh:
            record = json.loads(cached.read_text())
            return record["status"], record["text"]
        hdrs = {"User-Agent": user_agent(), "Accept": "application/json", **(headers or {})}
        for attempt in range(self.retries + 1):
            try:
                reply = requests.get(url, params=params, headers=hdrs, timeout=self.timeout)
            except requests.ConnectionError as exc:
                raise FetchError(
                    f"cannot reach {url.split('/')[2]} (offline?): {exc.__class__.__name__}"
                ) from exc
            except requests.Timeout as exc:
                if attempt == self.retries:
                    raise FetchError(f"{url}: no answer within {self.timeout:g} s") from exc
                self.sleep(self.backoff * 2**attempt)
                continue
            if reply.status_code in RETRY_STATUS and attempt < self.retries:
                wait = reply.headers.get("Retry-After")
                self.sleep(float(wait) if wait and wait.isdigit() else self.backoff * 2**attempt)
                continue
            if reply.status_code in RETRY_STATUS:
                raise FetchError(
                    f"{url}: the service answered {reply.status_code} after {self.retries} retries"
                )
            if reply.status_code in (401, 403):
                raise FetchError(f"{url}: access refused ({reply.status_code}); check the API key")
            if reply.status_code not in (200, 404):
                raise FetchError(f"{url}: unexpected answer {reply.status_code}")
            if cached:
                cached.parent.mkdir(parents=True, exist_ok=True)
                cached.write_text(json.dumps({"status": reply.status_code, "text": reply.text}))
            return reply.status_code, reply.text
        raise FetchError(f"{url}: gave up")  # pragma: no cover - the loop always returns or raises


@dataclass(frozen=True)
class Series:
    """A fetched series: its ``campaigns`` row and its ``campaign_activity`` rows."""

    campaign: dict
    activity: pd.DataFrame


def _days(start: str, end: str) -> pd.DatetimeIndex:
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    if hi < lo:
        raise FetchError(f"--end {end} is before --start {start}")
    return pd.date_range(lo, hi, freq="D")


def _frame(campaign_id: str, days: pd.DatetimeIndex, values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {"campaign_id": campaign_id, "date": days.astype("datetime64[ns]"), "value": values}
    )


# --------------------------------------------------------------------------- wikipedia


def wikipedia_redirects(http: Http, lang: str, title: str) -> tuple[str, list[str]]:
    """The article's current title and every title that redirects to it."""
    url = f"https://{lang}.wikipedia.org/w/api.php"
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
    if status == 404 or not isinstance(data, dict) or "query" not in data:
        raise FetchError(f"{lang}.wikipedia: no answer about {title!r}")
    pages = data["query"].get("pages", [])
    if not pages or pages[0].get("missing"):
        raise FetchError(f"{lang}.wikipedia has no article {title!r}")
    page = pages[0]
    return page["title"], [r["title"] for r in page.get("redirects", [])]


def wikipedia_views(http: Http, lang: str, title: str, days: pd.DatetimeIndex) -> pd.Series:
    """Daily user views of one title (as given; no redirect handling). Missing days are 0."""
    article = quote(title.replace(" ", "_"), safe="")
    lo = max(days[0], PAGEVIEWS_START)
    url = (
        f"{WIKIMEDIA_PAGEVIEWS}/{lang}.wikipedia.org/all-access/user/{article}/daily/"
        f"{lo:%Y%m%d}00/{days[-1]:%Y%m%d}00"
    )
    status, data = http.get_json(url)
    out = pd.Series(0.0, index=days[days >= PAGEVIEWS_START])
    if status == 404:
        return out  # no views recorded for this title in the range
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise FetchError(f"{url}: malformed reply (no 'items' list)")
    for item in data["items"]:
        try:
            day = pd.Timestamp(str(item["timestamp"])[:8])
            views = float(item["views"])
        except (KeyError, ValueError, TypeError) as exc:
            raise FetchError(f"{url}: malformed item {item!r}") from exc
        if day in out.index:
            out[day] += views
    return out


def fetch_wikipedia(
    http: Http, campaign_id: str, queries: Sequence[str], start: str, end: str, lang: str = "en"
) -> Series:
    """Daily page views of the articles, summed over each article's redirects."""
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
    return Series(campaign, _frame(campaign_id, days, values.to_numpy()))


# --------------------------------------------------------------------------- gdelt


def fetch_gdelt(
    http: Http, campaign_id: str, query: str, start: str, end: str, metric: str = "articles"
) -> Series:
    """Daily GDELT article counts or volume share for a query."""
    if metric not in ("articles", "share"):
        raise FetchError("gdelt --metric is 'articles' or 'share'")
    days = _days(start, end)
    params = {
        "query": query,
        "mode": "timelinevolraw",
        "format": "json",
        "timelinesmooth": 0,
        "startdatetime": f"{days[0]:%Y%m%d}000000",
        "enddatetime": f"{days[-1]:%Y%m%d}235959",
    }
    status, data = http.get_json(GDELT_DOC, params)
    values = pd.Series(np.nan, index=days)
    if status == 404:
        raise FetchError("GDELT answered 404: check the query")
    timeline = (data or {}).get("timeline") if isinstance(data, dict) else None
    if timeline is None:
        raise FetchError("GDELT: malformed reply (no 'timeline')")
    points = timeline[0]["data"] if timeline else []
    counts = pd.Series(0.0, index=days)
    norms = pd.Series(0.0, index=days)
    for p in points:
        try:
            day = pd.Timestamp(str(p["date"])[:8])
            value, norm = float(p["value"]), float(p.get("norm", np.nan))
        except (KeyError, ValueError, TypeError) as exc:
            raise FetchError(f"GDELT: malformed point {p!r}") from exc
        if day in counts.index:
            counts[day] += value
            norms[day] += norm
    observed = norms > 0 if metric == "share" else pd.Series(True, index=days)
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
    return Series(campaign, _frame(campaign_id, days, values.to_numpy()))


# --------------------------------------------------------------------------- media cloud


def fetch_mediacloud(
    http: Http,
    campaign_id: str,
    query: str,
    start: str,
    end: str,
    metric: str = "stories",
    collections: Sequence[int] = (),
    platform: str = "onlinenews-mediacloud",
) -> Series:
    """Daily Media Cloud story counts or ratio (needs ``MEDIACLOUD_API_KEY``)."""
    key = os.environ.get("MEDIACLOUD_API_KEY")
    if not key:
        raise FetchError(
            "Media Cloud needs an API key: set MEDIACLOUD_API_KEY (free at search.mediacloud.org)"
        )
    if metric not in ("stories", "ratio"):
        raise FetchError("mediacloud --metric is 'stories' or 'ratio'")
    days = _days(start, end)
    params = {
        "q": query,
        "start": f"{days[0]:%Y-%m-%d}",
        "end": f"{days[-1]:%Y-%m-%d}",
        "platform": platform,
    }
    if collections:
        params["cs"] = ",".join(str(c) for c in collections)
    _, data = http.get_json(
        MEDIACLOUD_API + "search/count-over-time", params, headers={"Authorization": f"Token {key}"}
    )
    try:
        counts = data["count_over_time"]["counts"]
    except (TypeError, KeyError) as exc:
        raise FetchError("Media Cloud: malformed reply (no count_over_time.counts)") from exc
    values = pd.Series(np.nan, index=days)
    for c in counts:
        day = pd.Timestamp(str(c["date"])[:10])
        if day in values.index:
            values[day] = (
                float(c["count"]) if metric == "stories" else float(c.get("ratio", np.nan))
            )
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
    return Series(campaign, _frame(campaign_id, days, values.to_numpy()))


# --------------------------------------------------------------------------- google trends


def read_google_trends(text: str, column: str | None = None) -> tuple[pd.Series, str, str]:
    """Parse a Google Trends CSV export: ``(values by date, granularity, column name)``."""
    lines = text.lstrip("\ufeff").splitlines()
    header_at = next(
        (
            i
            for i, line in enumerate(lines)
            if line.split(",")[0].strip() in ("Day", "Week", "Month")
        ),
        None,
    )
    if header_at is None:
        raise FetchError("not a Google Trends export: no 'Day', 'Week' or 'Month' header line")
    frame = pd.read_csv(io.StringIO("\n".join(lines[header_at:])), dtype=str)
    granularity = frame.columns[0].lower()
    terms = list(frame.columns[1:])
    if column is None:
        if len(terms) != 1:
            raise FetchError(f"the export has several terms {terms}: choose one with --query")
        column = terms[0]
    match = [t for t in terms if t == column or t.split(":")[0].strip() == column]
    if not match:
        raise FetchError(f"no column {column!r} in the export; it has {terms}")
    raw = frame[match[0]].str.strip()
    values = pd.to_numeric(raw.replace("<1", "0.5"), errors="coerce")
    bad = raw[values.isna() & raw.ne("")]
    if len(bad):
        raise FetchError(f"unreadable values in the export: {sorted(set(bad))[:5]}")
    dates = pd.to_datetime(
        frame[frame.columns[0]], format="%Y-%m-%d" if granularity != "month" else "%Y-%m"
    )
    return pd.Series(values.to_numpy(), index=dates), granularity, match[0]


def import_google_trends(campaign_id: str, path: Path, query: str | None = None) -> Series:
    """A campaign series from a Google Trends CSV export (weekly rows on their first day)."""
    values, granularity, column = read_google_trends(
        Path(path).read_text(encoding="utf-8-sig"), query
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
    return Series(campaign, frame)


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


def write_series(folder: Path, campaign_id: str, series: Series) -> tuple[Path, Path]:
    """Add or update a series in a study folder, safely.

    The ``campaigns`` row is added or replaced (with ``fetched_at``); activity rows of
    this campaign on the fetched days are replaced, other days and campaigns kept, so a
    rerun updates instead of duplicating. Both tables are validated before anything is
    written, and each is written atomically in the folder's existing format.
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
            "stance": "supporting",
            "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        new_row = pd.DataFrame([row])
        if campaigns is not None:
            keep = campaigns[campaigns["campaign_id"] != campaign_id]
            if campaign_id in set(campaigns["campaign_id"]):
                old = campaigns[campaigns["campaign_id"] == campaign_id].iloc[0]
                new_row["stance"] = old["stance"]
            campaigns = pd.concat([keep, new_row], ignore_index=True)
        else:
            campaigns = new_row
        parse_table(campaigns, "campaigns", str(camp_path))  # validate before writing anything
        merge_activity_unlocked(act_path, series.activity, "--data")
        write_table(campaigns, camp_path, "campaigns")
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
