"""The contract's vocabularies as plain constants: what the pandera models of
:mod:`analysis.schema` accept (they import these), importable without pandera by code
that only needs the words (the report batch checks a runs file's event types).
"""

from __future__ import annotations

__all__ = ["DATE_PRECISIONS", "DIRECTIONS", "EVENT_TYPES", "STANCES"]

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
