"""The registry of sources: one class per source, from which the fetch command is built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..errors import DataError, Failure
from ..sources import SOURCES
from .common import (
    FetchedSeries,
)
from .http import (
    Http,
)
from .news import (
    fetch_gdelt,
    fetch_mediacloud,
)
from .trends import (
    import_google_trends,
)
from .wikipedia import (
    fetch_wikipedia,
)

__all__ = [
    "CONNECTORS",
    "Connector",
    "Gdelt",
    "GoogleTrends",
    "MediaCloud",
    "Request",
    "Wikipedia",
]


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
