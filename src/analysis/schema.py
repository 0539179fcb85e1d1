"""The data contract as code: vocabularies and pandera models for the four tables.

The tables (one row is …):

``cases``
    one case. ``case_id`` (slug), ``title``, ``country`` (ISO 3166 alpha-3),
    ``category`` (slug), ``campaign_ids`` (``;``-separated campaign ids, may be empty);
    optional ``start_date`` (``YYYY-MM-DD``: the triggering incident, may be empty).
``legal_events``
    one dated legal event of one case. ``case_id``, ``date`` (``YYYY-MM-DD``, ``YYYY-MM``
    or ``YYYY``, stored as the first day of that period), ``date_precision``
    (``day``/``month``/``year``, must match how ``date`` was written), ``event_type``,
    ``direction`` and ``source_url``.
``campaigns``
    one activity series. ``campaign_id`` (slug), ``label``, ``platform``, ``metric``,
    ``unit``, ``source``, ``license``; optional ``stance`` (``supporting``, ``counter``
    or ``neutral``; default ``supporting``) and ``case_ids`` (``;``-separated cases the
    series is about, may be empty): a series links to a case when the case lists it in
    ``campaign_ids`` *or* the series lists the case in ``case_ids`` (``fetch`` writes
    the latter, so a fetched series never needs an edit of the cases table).
``campaign_activity``
    one observed day of one series. ``campaign_id``, ``date`` (a UTC calendar day) and
    ``value`` ≥ 0. A day that was not observed is absent or empty (NaN), never 0.

Columns beyond these are kept and passed through. The models here run on *typed*
frames; turning text into types (and reporting cells that cannot be read) is the job
of :mod:`analysis.datasets`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import pandas as pd
import pandera.pandas as pa
import pycountry
from pandera.typing import Series

from .errors import Failure
from .vocabulary import (
    DATE_PRECISIONS,
    DATE_RANGE_EXPECTED,
    DIRECTIONS,
    EVENT_TYPES,
    FIRST_DAY,
    LAST_DAY,
    STANCES,
)

__all__ = [
    "COUNTRY_CODES",
    "DATE_PRECISIONS",
    "DATE_RANGE_EXPECTED",
    "DIRECTIONS",
    "EVENT_TYPES",
    "FIRST_DAY",
    "LAST_DAY",
    "MAX_VALUE",
    "MODELS",
    "NULLABLE",
    "OPTIONAL_DAYS",
    "OPTIONAL_DEFAULTS",
    "REQUIRED",
    "SLUG_EXPECTED",
    "SLUG_MAX",
    "SLUG_PATTERN",
    "SLUG_RE",
    "STANCES",
    "TABLES",
    "WIKIPEDIA_ARTICLE_EXPECTED",
    "WIKIPEDIA_URL_RE",
    "CampaignActivity",
    "Campaigns",
    "Cases",
    "LegalEvents",
    "check_table",
    "is_wikipedia_article",
]

TABLES: tuple[str, ...] = ("cases", "legal_events", "campaigns", "campaign_activity")

#: Ids become file and folder names (a report per case): at most 64 characters.
SLUG_MAX = 64
SLUG_PATTERN = rf"^[a-z0-9][a-z0-9_]{{0,{SLUG_MAX - 1}}}$"
SLUG_RE = re.compile(SLUG_PATTERN)
SLUG_EXPECTED = (
    "a slug: lower-case letters, digits and '_', starting with a letter or digit, "
    f"at most {SLUG_MAX} characters"
)

#: Largest value a daily measure may take (a count of posts, views or articles per day,
#: or a share): beyond it sums and means of a window overflow.
MAX_VALUE = 1e15

COUNTRY_CODES: frozenset[str] = frozenset(c.alpha_3 for c in pycountry.countries)


#: A Wikipedia article's address: ``https://<lang>.wikipedia.org/wiki/<Title>``.
WIKIPEDIA_URL_RE = re.compile(
    r"^https://(?P<lang>[a-z][a-z0-9]{1,11}(?:-[a-z0-9]{1,12}){0,3})(?:\.m)?"
    r"\.wikipedia\.org/wiki/(?P<title>[^?#]+)$"
)
#: Characters a Wikipedia title cannot hold (and control characters).
_TITLE_FORBIDDEN = re.compile(r"[#<>\[\]|{}\x00-\x1f\x7f]")
WIKIPEDIA_ARTICLE_EXPECTED = (
    "a Wikipedia article: its title on English Wikipedia (at most 255 bytes, none of "
    "# < > [ ] | { }) or its address https://<lang>.wikipedia.org/wiki/<Title>"
)


def is_wikipedia_article(value: object) -> bool:
    """Whether ``value`` names a Wikipedia article (see ``cases.wikipedia_article``)."""
    if not isinstance(value, str) or not value.strip():
        return False
    text = value.strip()
    if text.lower().startswith(("http:", "https:", "//")):
        match = WIKIPEDIA_URL_RE.match(text)
        if match is None:
            return False
        text = unquote(match.group("title")).replace("_", " ").strip()
    # MediaWiki's limit is 255 bytes of UTF-8; '%' escapes are checked once decoded
    return 0 < len(text.encode()) <= 255 and not _TITLE_FORBIDDEN.search(text)


def _one_of(values: tuple[str, ...]) -> str:
    return "one of: " + ", ".join(values)


def _is_slug(s: pd.Series) -> pd.Series:
    return s.str.fullmatch(SLUG_PATTERN).fillna(False).astype(bool)


_KEY_PREFIX = "key:"


def _keyed(columns: tuple[str, ...], text: str) -> str:
    """Error text of a row-level check on several columns (reported once per row)."""
    return f"{_KEY_PREFIX}{','.join(columns)}|{text}"


def _split_ids(value: object) -> list[str]:
    if not isinstance(value, str) or value.strip() == "":
        return []
    return [part.strip() for part in value.split(";")]


def _are_slug_lists(s: pd.Series) -> pd.Series:
    return s.map(lambda v: all(SLUG_RE.match(p) for p in _split_ids(v))).astype(bool)


class _CaseKey(pa.DataFrameModel):
    """Shared by the tables keyed by a case: ``case_id`` is a slug."""

    case_id: Series[str]

    @pa.check("case_id", error=SLUG_EXPECTED)
    def _case_id_slug(cls, s: Series[str]) -> pd.Series[bool]:
        return _is_slug(s)


class _CampaignKey(pa.DataFrameModel):
    """Shared by the tables keyed by a series: ``campaign_id`` is a slug."""

    campaign_id: Series[str]

    @pa.check("campaign_id", error=SLUG_EXPECTED)
    def _campaign_id_slug(cls, s: Series[str]) -> pd.Series[bool]:
        return _is_slug(s)


class Cases(_CaseKey):
    """One row per case. ``start_date`` (optional) is the triggering incident."""

    title: Series[str]
    country: Series[str]
    category: Series[str]
    campaign_ids: Series[str] = pa.Field(nullable=True)
    start_date: Series[pd.Timestamp] | None = pa.Field(nullable=True)
    wikipedia_article: Series[str] | None = pa.Field(nullable=True)

    @pa.check("case_id", error="a case_id used by no other row")
    def _case_id_unique(cls, s: Series[str]) -> pd.Series[bool]:
        return ~s.duplicated(keep="first")

    @pa.check("country", error="an ISO 3166 alpha-3 country code such as USA, IRN or DEU")
    def _country_iso(cls, s: Series[str]) -> pd.Series[bool]:
        return s.isin(COUNTRY_CODES)

    @pa.check("category", error=SLUG_EXPECTED)
    def _category_slug(cls, s: Series[str]) -> pd.Series[bool]:
        return _is_slug(s)

    @pa.check(
        "campaign_ids",
        error="campaign ids separated by ';' (each " + SLUG_EXPECTED + "), or an empty cell",
    )
    def _campaign_ids_format(cls, s: Series[str]) -> pd.Series[bool]:
        return _are_slug_lists(s)

    @pa.check("wikipedia_article", error=WIKIPEDIA_ARTICLE_EXPECTED)
    def _wikipedia_article_format(cls, s: Series[str]) -> pd.Series[bool]:
        return s.isna() | s.map(is_wikipedia_article).astype(bool)


class LegalEvents(_CaseKey):
    """One row per dated legal event (``date`` already parsed to the period's first day)."""

    date: Series[pd.Timestamp]
    date_precision: Series[str]
    event_type: Series[str]
    direction: Series[str]
    source_url: Series[str] = pa.Field(nullable=True)

    @pa.check("date_precision", error=_one_of(DATE_PRECISIONS))
    def _precision_vocab(cls, s: Series[str]) -> pd.Series[bool]:
        return s.isin(DATE_PRECISIONS)

    @pa.check("event_type", error="an event type, " + _one_of(EVENT_TYPES))
    def _event_type_vocab(cls, s: Series[str]) -> pd.Series[bool]:
        return s.isin(EVENT_TYPES)

    @pa.check("direction", error=_one_of(DIRECTIONS))
    def _direction_vocab(cls, s: Series[str]) -> pd.Series[bool]:
        return s.isin(DIRECTIONS)


class Campaigns(_CampaignKey):
    """One row per activity series. ``stance`` may be left out (default ``supporting``)."""

    label: Series[str]
    platform: Series[str]
    metric: Series[str]
    unit: Series[str]
    source: Series[str]
    license: Series[str]
    # a column left out is filled with this value (an empty cell is still refused);
    # pandera's own ``default`` would fill empty cells, so the value is metadata
    stance: Series[str] = pa.Field(metadata={"fill_when_absent": "supporting"})
    case_ids: Series[str] | None = pa.Field(nullable=True)

    @pa.check("campaign_id", error="a campaign_id used by no other row")
    def _campaign_id_unique(cls, s: Series[str]) -> pd.Series[bool]:
        return ~s.duplicated(keep="first")

    @pa.check("stance", error=_one_of(STANCES))
    def _stance_vocab(cls, s: Series[str]) -> pd.Series[bool]:
        return s.isin(STANCES)

    @pa.check(
        "case_ids", error="case ids separated by ';' (each " + SLUG_EXPECTED + "), or an empty cell"
    )
    def _case_ids_format(cls, s: Series[str]) -> pd.Series[bool]:
        return _are_slug_lists(s)


class CampaignActivity(_CampaignKey):
    """One row per observed day of one series (``value`` NaN = not observed)."""

    date: Series[pd.Timestamp]
    value: Series[float] = pa.Field(nullable=True)

    @pa.check("value", error="a count or measure ≥ 0 (leave the cell empty for an unobserved day)")
    def _value_nonnegative(cls, s: Series[float]) -> pd.Series[bool]:
        return s.isna() | (s >= 0)

    @pa.dataframe_check(
        error=_keyed(
            ("campaign_id", "date"),
            "one row per (campaign_id, date): this series already has this day on an earlier row",
        )
    )
    def _one_row_per_day(cls, df: pd.DataFrame) -> pd.Series[bool]:
        return ~df.duplicated(["campaign_id", "date"], keep="first")


MODELS: dict[str, type[pa.DataFrameModel]] = {
    "cases": Cases,
    "legal_events": LegalEvents,
    "campaigns": Campaigns,
    "campaign_activity": CampaignActivity,
}

# The contract's constants, derived from the models above (their single source).
_COLUMNS = {t: m.to_schema().columns for t, m in MODELS.items()}


def _absent_fill(column: pa.Column) -> str | None:
    return (column.metadata or {}).get("fill_when_absent")


#: Required columns of each table, in the order they are written.
REQUIRED: dict[str, tuple[str, ...]] = {
    t: tuple(n for n, c in cols.items() if c.required and not _absent_fill(c))
    for t, cols in _COLUMNS.items()
}

#: Optional columns holding a calendar day (``YYYY-MM-DD``; empty when unknown).
#: ``cases.start_date`` is the triggering incident (a killing, an arrest that began the
#: campaign): the timing rule measures a run-up since it and a baseline before it.
OPTIONAL_DAYS: dict[str, tuple[str, ...]] = {
    t: days
    for t, cols in _COLUMNS.items()
    if (days := tuple(n for n, c in cols.items() if not c.required and "datetime" in str(c.dtype)))
}

#: Optional columns the project knows, with their default value.
OPTIONAL_DEFAULTS: dict[str, dict[str, str]] = {
    t: defaults
    for t, cols in _COLUMNS.items()
    if (defaults := {n: str(_absent_fill(c)) for n, c in cols.items() if _absent_fill(c)})
}

#: Columns that may be empty.
NULLABLE: dict[str, frozenset[str]] = {
    t: frozenset(n for n in REQUIRED[t] if cols[n].nullable) for t, cols in _COLUMNS.items()
}


_BUILTIN_EXPECTED = {
    "not_nullable": "a value (this column may not be empty)",
    "column_in_dataframe": "this column to be present",
}


def check_table(
    frame: pd.DataFrame, table: str, file: str, raw: pd.DataFrame | None = None
) -> list[Failure]:
    """Validate one typed table against its pandera model, collecting every failure.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table, already typed (dates as timestamps, values as floats), with a
        default ``RangeIndex`` in file order and every required column present.
    table : str
        One of :data:`TABLES`.
    file : str
        The file name to put in each failure.
    raw : pandas.DataFrame, optional
        The same table as the user wrote it (text); when given, failures show the
        user's own spelling of a value rather than its parsed form.

    Returns
    -------
    list of Failure
        Empty when the table is valid. Row numbers are spreadsheet rows (index + 2).
    """
    try:
        MODELS[table].validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        return _failures_from_pandera(err.failure_cases, file, raw)
    return []


def _shown(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _failures_from_pandera(
    cases: pd.DataFrame, file: str, raw: pd.DataFrame | None
) -> list[Failure]:
    failures = []
    for rec in cases.to_dict("records"):
        check = str(rec["check"])
        column = None if pd.isna(rec["column"]) else str(rec["column"])
        index = rec["index"]
        row = None if index is None or pd.isna(index) else int(index)
        if check.startswith(_KEY_PREFIX):
            keys, expected = check[len(_KEY_PREFIX) :].split("|", 1)
            key_columns = keys.split(",")
            if column != key_columns[-1]:
                continue  # one failure per row, on the last key column
            value = " ".join(_cell(raw, cases, row, c, rec) for c in key_columns)
            failures.append(
                Failure(
                    file, None if row is None else row + 2, "+".join(key_columns), value, expected
                )
            )
            continue
        if check == "column_in_dataframe":
            name = str(rec["failure_case"])
            failures.append(Failure(file, None, name, "", f"a column named '{name}'"))
            continue
        if check.startswith("dtype("):
            expected = f"values of type {check[6:-1]}"
        else:
            expected = _BUILTIN_EXPECTED.get(check, check)
        value = _cell(raw, cases, row, column, rec)
        failures.append(Failure(file, None if row is None else row + 2, column, value, expected))
    return failures


def _cell(
    raw: pd.DataFrame | None,
    cases: pd.DataFrame,
    row: int | None,
    column: str | None,
    rec: dict[Any, Any],
) -> str:
    """The user's own text for a cell when we have it, else pandera's failure case."""
    if raw is not None and row is not None and column in raw.columns and row in raw.index:
        return _shown(raw.at[row, column])
    if column == rec["column"]:
        return _shown(rec["failure_case"])
    match = cases[(cases["index"] == row) & (cases["column"] == column)]
    return _shown(match["failure_case"].iloc[0]) if len(match) else ""
