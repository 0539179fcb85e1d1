"""Each case's own attention series: daily page views of the Wikipedia article it names.

A movement hashtag answers for many cases at once: #BlackLivesMatter rose after George
Floyd's killing *and* after every other event of that summer, so its timing cannot say
which case drew the pressure. A case's own Wikipedia article can. The optional
``cases.wikipedia_article`` column names it (a title on English Wikipedia or an
article's address), and ::

    python -m analysis fetch wikipedia --cases            # every case that names one
    python -m analysis fetch wikipedia --cases george_floyd breonna_taylor

fetches, for each case, the article's daily user page views (summed over its
redirects, see :func:`analysis.connectors.fetch_wikipedia`) into a series
``<case_id>_wikipedia`` whose ``campaigns`` row lists the case in ``case_ids``. The
series then links to that case alone, so the timing table and the case study prefer it
to a shared movement series (see :func:`analysis.narrative.primary_series`).

The window of each series runs from :data:`CASE_WINDOW_DAYS` days before the case's
first date (its incident or first legal event) to as many days after its last legal
event (the end of its month or year when only those are known), clipped to the days
page views exist (from 2015-07-01 to yesterday), so the timing label has comparison
dates on both sides of every event. The last days before today that the service has
not published yet are left unobserved.

The cases come from the study folder the series are written to when it has a ``cases``
table (a researcher's own study), else from the bundled curated cases (``data/user``
is merged into the bundled study by ``prepare``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import pandas as pd

from . import config
from .connectors import (
    PAGEVIEWS_START,
    FetchedSeries,
    FetchError,
    Http,
    ServiceError,
    fetch_wikipedia,
    write_series,
)
from .datasets import find_table, parse_table, read_raw
from .errors import DataError, Failure, OutputError, did_you_mean
from .schema import SLUG_MAX, WIKIPEDIA_URL_RE

__all__ = [
    "CASE_WINDOW_DAYS",
    "MAX_SERVICE_FAILURES",
    "CaseFetches",
    "CasePage",
    "article_of",
    "case_series_id",
    "cases_of",
    "fetch_case_page",
    "fetch_cases",
    "plan_case_pages",
]

#: Days of page views fetched before a case's first date and after its last event.
CASE_WINDOW_DAYS = 365

_SUFFIX = "_wikipedia"


@dataclass(frozen=True)
class CasePage:
    """One case's article and the days of page views to fetch for it."""

    case_id: str
    campaign_id: str
    lang: str
    title: str
    start: str
    end: str


def article_of(value: str, lang: str = "en") -> tuple[str, str]:
    """The edition and title of a ``cases.wikipedia_article`` value.

    An address ``https://de.wikipedia.org/wiki/IchBinHanna`` gives ``("de",
    "IchBinHanna")`` (percent-escapes decoded, ``_`` read as a space); a bare title is
    on the ``lang`` edition.
    """
    text = value.strip()
    match = WIKIPEDIA_URL_RE.match(text)
    if match:
        return match.group("lang"), unquote(match.group("title")).replace("_", " ")
    return lang, text


def case_series_id(case_id: str) -> str:
    """The ``campaign_id`` of a case's own page-view series: ``<case_id>_wikipedia``.

    A case id too long for that (ids are at most 64 characters) is shortened and given
    8 hex digits of its hash, so two long ids never share a series.
    """
    name = case_id + _SUFFIX
    if len(name) <= SLUG_MAX:
        return name
    digest = hashlib.sha256(case_id.encode()).hexdigest()[:8]
    return f"{case_id[: SLUG_MAX - len(_SUFFIX) - 9]}_{digest}{_SUFFIX}"


def cases_of(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame | None, str]:
    """The cases (and their legal events) whose pages ``fetch wikipedia --cases`` fetches.

    Returns
    -------
    cases, legal_events, where
        The study folder's own tables, or the bundled curated ones for ``data/user``;
        ``legal_events`` is ``None`` when that folder has none; ``where`` names the
        cases file.

    Raises
    ------
    DataError
        When another folder has no cases table, or two (``cases.csv`` and
        ``cases.xlsx``): the bundled cases are never used in its place.
    OutputError
        When ``folder`` is a file.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--data: {folder} is a file; expected a study folder")
    bundled = folder.resolve() == config.USER_DATA_DIR.resolve()
    source = config.CURATED_DIR if bundled else folder
    if not bundled and not _has_table(folder, "cases"):
        # a misnamed, doubled or missing cases table is said, never replaced by the
        # bundled cases (whose series would then not belong to this study)
        if folder.is_dir():
            find_table(folder, "cases")  # raises the precise DataError
        raise DataError(
            [
                Failure(
                    str(folder),
                    None,
                    None,
                    "",
                    "a study folder with a cases table (leave --data out to fetch for the "
                    "bundled cases into data/user)",
                )
            ]
        )
    path = find_table(source, "cases")
    cases = parse_table(read_raw(path), "cases", str(path))
    events = None
    if _has_table(source, "legal_events"):
        epath = find_table(source, "legal_events")
        events = parse_table(read_raw(epath), "legal_events", str(epath))
    return cases, events, str(path)


def _has_table(folder: Path, table: str) -> bool:
    try:
        find_table(folder, table)
    except DataError:
        return False
    return True


def _window(
    case: pd.Series, events: pd.DataFrame | None, today: pd.Timestamp
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """Days to fetch for one case, or ``None`` when the case has no date at all."""
    dates = []
    if "start_date" in case.index and pd.notna(case["start_date"]):
        dates.append(case["start_date"])
    ends = list(dates)
    if events is not None:
        mine = events[events["case_id"] == case["case_id"]]
        dates += list(mine["date"])
        ends += [
            _period_end(d, p) for d, p in zip(mine["date"], mine["date_precision"], strict=True)
        ]
    if not dates:
        return None
    margin = pd.Timedelta(days=CASE_WINDOW_DAYS)
    return min(dates) - margin, max(ends) + margin


def _period_end(day: pd.Timestamp, precision: str) -> pd.Timestamp:
    """The last day an event dated at ``precision`` may fall on (``2024`` → 31 Dec)."""
    if precision == "year":
        return pd.Timestamp(year=day.year, month=12, day=31)
    if precision == "month":
        return day + pd.offsets.MonthEnd(0)
    return day


def plan_case_pages(
    cases: pd.DataFrame,
    events: pd.DataFrame | None = None,
    case_ids: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    lang: str = "en",
    today: pd.Timestamp | None = None,
) -> tuple[list[CasePage], list[str]]:
    """Which articles to fetch, for which days: one :class:`CasePage` per case.

    Parameters
    ----------
    cases, events : pandas.DataFrame
        Typed ``cases`` and ``legal_events`` tables (``events`` may be ``None``).
    case_ids : sequence of str, optional
        Only these cases; each must exist and name an article. Default: every case
        with a ``wikipedia_article``.
    start, end : str, optional
        ``YYYY-MM-DD`` for every case instead of its own window (see the module).
    lang : str
        Edition of articles given as bare titles.
    today : pandas.Timestamp, optional
        The first day not fetched (default: today, UTC); page views of today are not
        complete.

    Returns
    -------
    pages, skipped
        The pages to fetch, and one sentence per case left out and why.

    Raises
    ------
    DataError
        For a requested case id the table does not have (with the closest ids), or
        that names no article.
    """
    today = (today or pd.Timestamp.now(tz="UTC").tz_localize(None)).normalize()
    known = list(cases["case_id"])
    articles = (
        cases.set_index("case_id")["wikipedia_article"]
        if "wikipedia_article" in cases.columns
        else pd.Series(None, index=known, dtype=object)
    )
    failures = _refuse_requested(case_ids, known, articles)
    if failures:
        raise DataError(failures)
    pages, skipped = [], []
    for _, case in cases.iterrows():
        case_id = case["case_id"]
        if case_ids is not None and case_id not in case_ids:
            continue
        article = articles.get(case_id)
        if not isinstance(article, str) or not article.strip():
            skipped.append(f"{case_id}: no wikipedia_article")
            continue
        window = _window(case, events, today)
        if window is None and not (start and end):
            skipped.append(f"{case_id}: no start_date or legal event to centre a window on")
            continue
        lo = pd.Timestamp(start) if start else window[0]  # type: ignore[index]
        hi = pd.Timestamp(end) if end else window[1]  # type: ignore[index]
        lo, hi = max(lo, PAGEVIEWS_START), min(hi, today - pd.Timedelta(days=1))
        if lo > hi:
            skipped.append(
                f"{case_id}: page views exist from {PAGEVIEWS_START:%Y-%m-%d} to yesterday; "
                "this case's window lies outside them"
            )
            continue
        edition, title = article_of(article, lang)
        pages.append(
            CasePage(
                case_id, case_series_id(case_id), edition, title, f"{lo:%Y-%m-%d}", f"{hi:%Y-%m-%d}"
            )
        )
    return pages, skipped


def _refuse_requested(
    case_ids: Sequence[str] | None, known: list[str], articles: pd.Series
) -> list[Failure]:
    failures = []
    for case_id in case_ids or ():
        if case_id not in known:
            expected = "a case_id of the study" + did_you_mean(case_id, known)
        elif not isinstance(articles.get(case_id), str):
            expected = "a case whose wikipedia_article is filled in"
        else:
            continue
        failures.append(Failure("--cases", None, None, case_id, expected))
    return failures


def fetch_case_page(http: Http, page: CasePage, case_title: str | None = None) -> FetchedSeries:
    """Fetch one case's page views; the ``campaigns`` row links the case (``case_ids``).

    Raises
    ------
    FetchError
        When the edition has no such article or the service fails.
    """
    series = fetch_wikipedia(http, page.campaign_id, [page.title], page.start, page.end, page.lang)
    about = f" ({case_title})" if case_title else ""
    campaign = {
        **series.campaign,
        "label": f"Wikipedia: {page.title}",
        "case_ids": page.case_id,
        "description": f"Daily user page views of the {page.lang}.wikipedia article "
        f"{page.title!r}, summed over its redirects: the attention to case "
        f"{page.case_id}{about} alone.",
    }
    return FetchedSeries(campaign, series.activity)


#: After this many cases in a row fail because the service itself failed (unreachable,
#: too slow, erring), the remaining cases are not asked: each would wait as long.
MAX_SERVICE_FAILURES = 3


@dataclass
class CaseFetches:
    """What :func:`fetch_cases` did: series written, cases failed, cases not asked."""

    written: list[tuple[CasePage, int, Path]] = field(default_factory=list)
    failed: list[tuple[CasePage, str]] = field(default_factory=list)
    not_asked: list[CasePage] = field(default_factory=list)


def fetch_cases(
    http: Http,
    folder: Path,
    pages: Sequence[CasePage],
    titles: dict[str, str] | None = None,
    stance: str | None = None,
    progress: bool = True,
) -> CaseFetches:
    """Fetch each page and write its series into ``folder``, one case at a time.

    A case that fails (no such article, a malformed reply) is reported and the others
    go on; each written series is complete (see
    :func:`analysis.connectors.write_series`). After :data:`MAX_SERVICE_FAILURES`
    service failures in a row the rest are not asked.
    """
    from tqdm.auto import tqdm

    done = CaseFetches()
    in_a_row = 0
    for i, page in enumerate(tqdm(pages, desc="page views", unit="case", disable=not progress)):
        try:
            series = fetch_case_page(http, page, (titles or {}).get(page.case_id))
        except FetchError as exc:
            done.failed.append((page, str(exc)))
            in_a_row = in_a_row + 1 if isinstance(exc, ServiceError) else 0
            if in_a_row >= MAX_SERVICE_FAILURES:
                done.not_asked = list(pages[i + 1 :])
                break
            continue
        in_a_row = 0
        _, act = write_series(Path(folder), page.campaign_id, series, stance=stance)
        done.written.append((page, int(series.activity["value"].notna().sum()), act))
    return done
