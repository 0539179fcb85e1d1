"""The argument parser of ``python -m analysis``, one function per sub-command."""

from __future__ import annotations

import argparse
from typing import Any

from .. import __version__, config
from .args import (
    _bounded,
    _day,
    _Parser,
    _scheduler,
    _size,
    _slug,
    _text,
)
from .commands import (
    cmd_check_pages,
    cmd_data,
    cmd_fetch,
    cmd_ingest,
    cmd_prepare,
    cmd_report,
    cmd_timing,
    cmd_validate,
)

__all__ = [
    "build_parser",
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m analysis`` (one sub-command per stage)."""
    parser = _Parser(
        prog="python -m analysis",
        description=(
            "Pressure & Precedent: did online pressure come before a legal change, or after it?"
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (
        _add_data,
        _add_prepare,
        _add_validate,
        _add_ingest,
        _add_timing,
        _add_report,
        _add_check_pages,
        _add_fetch,
    ):
        add(sub)
    for command in sub.choices.values():  # every other text option: not empty
        for action in command._actions:
            if action.type is None and action.nargs != 0 and action.dest != "help":
                action.type = _text
    return parser


def _add_data(sub: Any) -> None:
    """The ``data`` sub-command."""
    p = sub.add_parser(
        "data",
        help="fetch the third-party raw files and check their hashes",
        description=(
            "Make every file listed in data/raw/sources.toml present under data/raw and check its "
            "sha256. Files are copied from the mirror (PP_DATA_MIRROR, default ../shared/data/raw) "
            "when it has them, else downloaded from their pinned upstream URL."
        ),
    )
    p.add_argument(
        "--dest",
        default=str(config.RAW_DATA_DIR),
        help="folder for raw files (default: %(default)s)",
    )
    p.add_argument(
        "--mirror", help="local mirror folder (default: PP_DATA_MIRROR or ../shared/data/raw)"
    )
    p.add_argument("--no-download", action="store_true", help="only use the mirror; never download")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_data)


def _add_prepare(sub: Any) -> None:
    """The ``prepare`` sub-command."""
    p = sub.add_parser(
        "prepare",
        help="convert the bundled raw data to the data contract (data/processed)",
        description=(
            "Build the bundled study from data/raw (curated cases, events and campaigns; the "
            "third-party activity files), validate it whole, then write Parquet files atomically. "
            "Nothing is written if anything is invalid."
        ),
    )
    p.add_argument(
        "--out",
        default=str(config.PROCESSED_DATA_DIR),
        help=(
            "study folder to create or replace whole (default: %(default)s); a folder holding "
            "files this project did not write is refused"
        ),
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_prepare)


def _add_validate(sub: Any) -> None:
    """The ``validate`` sub-command."""
    p = sub.add_parser(
        "validate",
        help="check a study folder against the data contract and print its coverage",
        description=(
            "Load a study folder (cases, legal_events, campaigns, campaign_activity as .csv, "
            ".parquet or .xlsx), report every problem as file:row:column: value — expected …, "
            "and print cases, events by type and precision, and each series' coverage."
        ),
    )
    p.add_argument(
        "--data", default=str(config.PROCESSED_DATA_DIR), help="study folder (default: %(default)s)"
    )
    p.set_defaults(func=cmd_validate)


def _add_ingest(sub: Any) -> None:
    """The ``ingest`` sub-command."""
    p = sub.add_parser(
        "ingest",
        help="count a post archive (CSV, JSON lines, Parquet, tweet IDs) into daily activity",
        description=(
            "Stream post files through DuckDB and count posts per UTC day for one campaign. "
            "Memory stays bounded (cap it with --memory-limit or PP_MEMORY_LIMIT). Days inside "
            "--start..--end with no post are written as 0 (observed); days outside are not written."
        ),
    )
    p.add_argument("paths", nargs="+", help="archive files or glob patterns")
    p.add_argument(
        "--campaign", required=True, type=_slug, help="campaign_id for the counts (a slug)"
    )
    p.add_argument(
        "--out",
        required=True,
        help=(
            "activity table to add the counts to (.csv, .parquet or .xlsx); other series and "
            "other days in it are kept, this campaign's counted days are replaced"
        ),
    )
    p.add_argument(
        "--timestamp", default="created_at", help="timestamp column (default: %(default)s)"
    )
    p.add_argument(
        "--unit",
        choices=["auto", "s", "ms", "snowflake"],
        default="auto",
        help=(
            "how the timestamp is written: ISO text/timestamp (auto), epoch seconds, "
            "epoch ms, or tweet IDs"
        ),
    )
    p.add_argument(
        "--format",
        choices=["auto", "csv", "json", "parquet", "ids"],
        default="auto",
        help="archive format (default: from the file names)",
    )
    p.add_argument("--match-column", help="text or hashtag column to match --term against")
    p.add_argument(
        "--term",
        action="append",
        help="count only posts whose match column contains this (repeatable)",
    )
    p.add_argument("--distinct", help="count distinct values of this column (e.g. a post id)")
    p.add_argument(
        "--start", type=_day, help="first observed day YYYY-MM-DD (default: first day with a post)"
    )
    p.add_argument(
        "--end", type=_day, help="last observed day YYYY-MM-DD (default: last day with a post)"
    )
    p.add_argument(
        "--memory-limit",
        type=_size,
        help="DuckDB memory cap such as 300MB (default: PP_MEMORY_LIMIT)",
    )
    p.set_defaults(func=cmd_ingest)


def _add_timing(sub: Any) -> None:
    """The ``timing`` sub-command."""
    from ..rules import CLI_PARAMETERS, TimingRule

    d = TimingRule()
    p = sub.add_parser(
        "timing",
        help="label each legal event: did activity rise before it, after it, both, or neither?",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Write one row per (day-precision legal event, linked series) with the numbers "
            "behind its label.\n\n"
            "In plain words: for each legal event we compare the activity in the days "
            "before it with the level before the case began, and the activity on the day "
            "and after it with the last days before it. 'preceded': activity was already up "
            "before the event. 'followed': it went up only on the day or after. 'both', "
            "'neither'. A rise counts when it is at least --threshold times the earlier "
            "level and larger than the series usually moves on days when no case has an "
            "event, so a day with nothing happening is labelled 'neither' with probability "
            "--level. An incident (a killing) is never 'preceded'. 'confounded_by' names "
            "other cases whose events fall in the same days of a shared series; "
            "'borderline' marks labels that change with the windows or the comparison "
            "days; 'preferred' marks the series that answers for the event (the case's own "
            "first). Timing is not proof of cause.\n\n"
            "The rule in full: " + d.describe()
        ),
    )
    p.add_argument(
        "--data", default=str(config.PROCESSED_DATA_DIR), help="study folder (default: %(default)s)"
    )
    p.add_argument(
        "--case",
        action="append",
        metavar="ID",
        help="label only this case's events (repeatable; other cases still count as confounders)",
    )
    for name, (low, high, text) in CLI_PARAMETERS.items():
        default = getattr(d, name)
        p.add_argument(
            "--" + name.replace("_", "-"),
            type=_bounded(type(default), low, high),
            default=default,
            help=f"{text} (default: %(default)s)",
        )
    p.add_argument(
        "--no-incidents",
        action="store_true",
        help="leave out each case's triggering incident (cases.start_date)",
    )
    p.add_argument(
        "--no-stability",
        action="store_true",
        help="skip the stability columns (nine times faster)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", help="CSV file to write (default: standard output)")
    p.set_defaults(func=cmd_timing)


def _add_report(sub: Any) -> None:
    """The ``report`` sub-command."""
    p = sub.add_parser(
        "report",
        help="run every notebook of notebooks/reports.yaml and write reports/index.html",
        description=(
            "Check every run's parameters against its notebook, execute the notebooks with "
            "papermill in worker processes (or on a Dask cluster), render self-contained HTML "
            "into reports/runs/<run>/ and write reports/index.html. Runs whose notebook, "
            "parameters, data and package code are unchanged are skipped; when nothing "
            "changed since the last complete batch, nothing is written. Exits 1 if a run "
            "failed (the others still finish), 2 if reports.yaml is invalid."
        ),
    )
    p.add_argument(
        "--data", default=str(config.PROCESSED_DATA_DIR), help="study folder (default: %(default)s)"
    )
    p.add_argument(
        "--runs",
        default=str(config.NOTEBOOKS_DIR / "reports.yaml"),
        help="run list (default: %(default)s)",
    )
    p.add_argument(
        "--out",
        default=str(config.REPORTS_DIR),
        help=(
            "report folder (default: %(default)s): new, empty, or written by this project "
            "for the same runs file"
        ),
    )
    p.add_argument(
        "--workers", type=_bounded(int, 1, 256), help="worker processes (default: one per core)"
    )
    p.add_argument(
        "--force", action="store_true", help="rerun runs whose cached result is still valid"
    )
    p.add_argument("--show-code", action="store_true", help="keep code cells in the HTML")
    p.add_argument(
        "--scheduler", type=_scheduler, help="tcp://HOST:PORT of a Dask scheduler to run on instead"
    )
    p.add_argument("--only", help="run only runs whose id contains this text")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_report)


def _add_check_pages(sub: Any) -> None:
    """The ``check-pages`` sub-command."""
    p = sub.add_parser(
        "check-pages",
        help="open every report page in headless Chromium at 1280 and 414 px and check it",
        description=(
            "Lay out reports/index.html and every report page in headless Chromium at "
            "desktop (1280 px) and phone (414 px) width; report pages without a real title, "
            "a link back, a footer with commit and licences, pages that show warnings or "
            "scroll sideways, and tables wider than the window; write a screenshot of each "
            "into <out>/screenshots/ for review. Exits 1 if a page has a problem. Needs "
            "Chromium (Debian: apt-get install chromium)."
        ),
    )
    p.add_argument(
        "--out", default=str(config.REPORTS_DIR), help="report folder (default: %(default)s)"
    )
    p.add_argument("--no-screenshots", action="store_true", help="measure only")
    p.set_defaults(func=cmd_check_pages)


def _add_fetch(sub: Any) -> None:
    """The ``fetch`` sub-command."""
    from ..sources import SOURCES

    sources = "; ".join(f"{c.name}: {c.summary}" for c in SOURCES.values())
    p = sub.add_parser(
        "fetch",
        help="build a campaign series from Wikipedia, GDELT, Media Cloud or a Google Trends export",
        description=(
            "Fetch a daily activity series and add it to a study folder (campaigns + "
            "campaign_activity; a rerun updates the same days, other series are kept). By "
            "default the series goes to data/user, which `prepare` merges into "
            f"data/processed and never deletes. Sources — {sources}. Replies are cached in "
            ".cache/http (PP_CACHE_DIR); set PP_USER_AGENT to your contact."
        ),
    )
    p.add_argument("source", choices=list(SOURCES), help="where from")
    p.add_argument("--campaign", type=_slug, help="campaign_id to write (a slug)")
    p.add_argument(
        "--cases",
        nargs="*",
        metavar="CASE_ID",
        type=_slug,
        help="wikipedia only, instead of --campaign/--query: fetch each case's own article "
        "(cases.wikipedia_article) into a series <case_id>_wikipedia linked to that case; "
        "all cases that name one, or those listed. Cases come from --data when it has a "
        "cases table, else from the bundled study",
    )
    p.add_argument(
        "--query",
        action="append",
        default=[],
        help="article title (wikipedia, repeatable), query (gdelt, mediacloud) or column "
        "(google-trends)",
    )
    p.add_argument("--start", type=_day, help="first day YYYY-MM-DD")
    p.add_argument("--end", type=_day, help="last day YYYY-MM-DD")
    p.add_argument(
        "--data",
        default=str(config.USER_DATA_DIR),
        help="study folder to add to (default: %(default)s)",
    )
    p.add_argument("--lang", default="en", help="Wikipedia language edition (default: %(default)s)")
    p.add_argument(
        "--metric",
        help="; ".join(f"{c.name}: {'|'.join(c.metrics)}" for c in SOURCES.values() if c.metrics)
        + " (default: the first)",
    )
    p.add_argument("--file", help="google-trends: the exported CSV")
    p.add_argument(
        "--stance",
        choices=["supporting", "counter", "neutral"],
        help="does the series count as pressure for the case? (default: supporting for a "
        "new series; an updated one keeps its stance)",
    )
    p.add_argument(
        "--refresh", action="store_true", help="ignore cached replies and ask the service again"
    )
    p.set_defaults(func=cmd_fetch)
