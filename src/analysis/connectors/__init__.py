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

from .common import LANG_RE, FetchedSeries
from .http import (
    MAX_REDIRECTS,
    MAX_REPLY_BYTES,
    MAX_RETRY_AFTER,
    RETRY_STATUS,
    FetchError,
    Http,
    ServiceError,
    default_http,
    user_agent,
)
from .news import GDELT_DOC, MEDIACLOUD_API, fetch_gdelt, fetch_mediacloud
from .registry import CONNECTORS, Connector, Gdelt, GoogleTrends, MediaCloud, Request, Wikipedia
from .trends import import_google_trends, read_google_trends
from .wikipedia import (
    PAGEVIEWS_START,
    WIKIMEDIA_PAGEVIEWS,
    WIKIPEDIA_API,
    fetch_wikipedia,
    wikipedia_redirects,
    wikipedia_views,
)
from .write import write_series

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
    "ServiceError",
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
