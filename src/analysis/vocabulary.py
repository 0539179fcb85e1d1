"""The contract's vocabularies as plain constants: what the pandera models of
:mod:`analysis.schema` accept (they import these), importable without pandera by code
that only needs the words (the report batch checks a runs file's event types; counting
an archive needs the contract's date range). Importing pandera's models costs about a
second, most of it pandera importing dask.
"""

from __future__ import annotations

__all__ = [
    "DATE_PRECISIONS",
    "DATE_RANGE_EXPECTED",
    "DIRECTIONS",
    "EVENT_TYPES",
    "FIRST_DAY",
    "LAST_DAY",
    "STANCES",
]

#: Dates the contract accepts (every table): 1900-01-01 to 2099-12-31. A year 1 or 9999
#: is a typo or a placeholder, and two dates more than 292 years apart do not fit
#: pandas' nanosecond arithmetic (a series from 1800 to 2199 overflowed its coverage).
FIRST_DAY, LAST_DAY = "1900-01-01", "2099-12-31"
DATE_RANGE_EXPECTED = f"a date between {FIRST_DAY} and {LAST_DAY}"

DATE_PRECISIONS: tuple[str, ...] = ("day", "month", "year")
DIRECTIONS: tuple[str, ...] = ("favourable", "unfavourable", "neutral")
STANCES: tuple[str, ...] = ("supporting", "counter", "neutral")
EVENT_TYPES: tuple[str, ...] = (
    "arrest",
    "detention",
    "charge",
    "indictment",
    "no_charge",
    "trial_start",
    "hearing",
    "verdict",
    "conviction",
    "acquittal",
    "mistrial",
    "sentence",
    "appeal",
    "appeal_rejected",
    "conviction_overturned",
    "release",
    "pardon",
    "settlement",
    "investigation_opened",
    "investigation_findings",
    "investigation_closed",
    "consent_decree",
    "law_enacted",
    "bill_passed",
    "policy_change",
    "resignation_or_dismissal",
    "international_action",
    "execution",
    "other",
)
