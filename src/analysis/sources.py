"""What each web source of ``fetch`` is, without importing it (the command line is built
from this, so ``python -m analysis --help`` does not load pandas or pandera).

:mod:`analysis.connectors` gives each of these its ``fetch``; a test keeps the two
lists the same.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SOURCES", "Source"]


@dataclass(frozen=True)
class Source:
    """One source: its command-line name, one line for ``--help``, its ``--metric`` values
    (the first is the default; empty when there is no choice)."""

    name: str
    summary: str
    metrics: tuple[str, ...] = ()


#: Every source ``fetch`` knows, by its command-line name.
SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "wikipedia",
            "page views of the --query articles (repeatable; redirects summed), --lang edition",
        ),
        Source(
            "gdelt",
            "news articles matching --query per day (or their share), GDELT DOC 2.0",
            ("articles", "share"),
        ),
        Source(
            "mediacloud",
            "news stories matching --query per day (or their ratio); needs MEDIACLOUD_API_KEY",
            ("stories", "ratio"),
        ),
        Source(
            "google-trends",
            "import of a CSV exported from trends.google.com (--file; --query picks a column)",
        ),
    )
}
