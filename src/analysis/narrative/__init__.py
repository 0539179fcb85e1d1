"""What the notebooks say: loading, choices of what to show, sentences with their numbers.

Notebooks stay thin: every choice they make (which case has something to show, which
event is a case's key event) and every sentence they print with numbers in it comes
from here, where tests can reach it.

Layout: :mod:`.files` (what is read and written), :mod:`.choose` (what to show),
:mod:`.words` (the sentences and tables) and :mod:`.verdicts` (one quotable sentence per
report); this package re-exports their public names.
"""

from __future__ import annotations

from .choose import (
    busiest_pair,
    case_header,
    case_panels,
    case_series,
    case_window,
    cases_table,
    cases_with_observed_events,
    key_event,
    main_series,
    major_event_types,
    no_series_note,
    overview_tables,
    primary_series,
    series_sources,
    sources_table,
)
from .files import load, reference_source, save_headlines, table_download
from .words import (
    LABEL_WORDS,
    granger_sentence,
    impact_sentence,
    label_breakdown,
    label_counts_by,
    label_summary,
    labels_verdict,
    link,
    md,
    not_enough,
    onset_sentence,
    placebo_counts,
    ratio_verdict,
    readable,
    relative_days,
    run_verdict,
    stacked_sentence,
    time_to_charge_sentence,
    timing_sentence,
    timing_sentences,
)

__all__ = [
    "LABEL_WORDS",
    "busiest_pair",
    "case_header",
    "case_panels",
    "case_series",
    "case_window",
    "cases_table",
    "cases_with_observed_events",
    "granger_sentence",
    "impact_sentence",
    "key_event",
    "label_breakdown",
    "label_counts_by",
    "label_summary",
    "labels_verdict",
    "link",
    "load",
    "main_series",
    "major_event_types",
    "md",
    "no_series_note",
    "not_enough",
    "onset_sentence",
    "overview_tables",
    "placebo_counts",
    "primary_series",
    "ratio_verdict",
    "readable",
    "reference_source",
    "relative_days",
    "run_verdict",
    "save_headlines",
    "series_sources",
    "sources_table",
    "stacked_sentence",
    "table_download",
    "time_to_charge_sentence",
    "timing_sentence",
    "timing_sentences",
]
