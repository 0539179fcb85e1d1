"""Every rule of the data contract has a failing example with its exact message.

Each case edits one cell (or header) of a copy of the minimal example study and checks
the exact line the loader reports (paths shown relative to the study folder).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.datasets import load_study
from analysis.errors import DataError
from analysis.schema import EVENT_TYPES

SLUG = (
    "a slug: lower-case letters, digits and '_', starting with a letter or digit, "
    "at most 64 characters"
)


def edit(folder: Path, table: str, row: int, column: str, value: str) -> None:
    """Set one cell; ``row`` is the spreadsheet row (header = 1)."""
    path = folder / f"{table}.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.loc[row - 2, column] = value
    df.to_csv(path, index=False)


def problems(folder: Path) -> list[str]:
    with pytest.raises(DataError) as info:
        load_study(folder, warn=False)
    return [line.replace(f"{folder}/", "") for line in info.value.lines()]


CELL_RULES = [
    # cases
    ("cases", 2, "case_id", "Free Ana", f"cases.csv:2:case_id: 'Free Ana' — expected {SLUG}"),
    (
        "cases",
        3,
        "case_id",
        "free_ana",
        "cases.csv:3:case_id: 'free_ana' — expected a case_id used by no other row",
    ),
    (
        "cases",
        2,
        "title",
        "",
        "cases.csv:2:title: '' — expected a value (this column may not be empty)",
    ),
    (
        "cases",
        2,
        "title",
        "   ",
        "cases.csv:2:title: '   ' — expected a value (this column may not be empty)",
    ),
    (
        "cases",
        2,
        "country",
        "Spain",
        "cases.csv:2:country: 'Spain' — expected an ISO 3166 alpha-3 country code such as USA, IRN or DEU",
    ),
    (
        "cases",
        2,
        "country",
        "XYZ",
        "cases.csv:2:country: 'XYZ' — expected an ISO 3166 alpha-3 country code such as USA, IRN or DEU",
    ),
    (
        "cases",
        2,
        "category",
        "Political Prisoner",
        f"cases.csv:2:category: 'Political Prisoner' — expected {SLUG}",
    ),
    (
        "cases",
        2,
        "campaign_ids",
        "free_ana, other",
        f"cases.csv:2:campaign_ids: 'free_ana, other' — expected campaign ids separated by ';' (each {SLUG}), or an empty cell",
    ),
    (
        "cases",
        2,
        "campaign_ids",
        "free_ana;free_bob",
        "cases.csv:2:campaign_ids: 'free_bob' — expected campaign ids listed in campaigns.csv",
    ),
    # legal_events
    (
        "legal_events",
        2,
        "case_id",
        "Free-Ana",
        f"legal_events.csv:2:case_id: 'Free-Ana' — expected {SLUG}",
    ),
    (
        "legal_events",
        2,
        "case_id",
        "free_bob",
        "legal_events.csv:2:case_id: 'free_bob' — expected a case_id listed in cases.csv",
    ),
    (
        "legal_events",
        2,
        "date",
        "10/01/2024",
        "legal_events.csv:2:date: '10/01/2024' — expected a date written YYYY-MM-DD, YYYY-MM or YYYY",
    ),
    (
        "legal_events",
        2,
        "date",
        "2024-02-30",
        "legal_events.csv:2:date: '2024-02-30' — expected a date that exists in the calendar",
    ),
    (
        "legal_events",
        2,
        "date",
        "2024-01",
        "legal_events.csv:2:date_precision: 'day' — expected 'month', as the date '2024-01' is written",
    ),
    (
        "legal_events",
        2,
        "date_precision",
        "week",
        "legal_events.csv:2:date_precision: 'week' — expected one of: day, month, year",
    ),
    (
        "legal_events",
        2,
        "event_type",
        "arested",
        f"legal_events.csv:2:event_type: 'arested' — expected an event type, one of: {', '.join(EVENT_TYPES)}",
    ),
    (
        "legal_events",
        2,
        "direction",
        "good",
        "legal_events.csv:2:direction: 'good' — expected one of: favourable, unfavourable, neutral",
    ),
    (
        "legal_events",
        2,
        "event_type",
        "",
        "legal_events.csv:2:event_type: '' — expected a value (this column may not be empty)",
    ),
    # campaigns
    (
        "campaigns",
        2,
        "campaign_id",
        "#FreeAna",
        f"campaigns.csv:2:campaign_id: '#FreeAna' — expected {SLUG}",
    ),
    (
        "campaigns",
        2,
        "stance",
        "against",
        "campaigns.csv:2:stance: 'against' — expected one of: supporting, counter, neutral",
    ),
    (
        "campaigns",
        2,
        "license",
        "",
        "campaigns.csv:2:license: '' — expected a value (this column may not be empty)",
    ),
    # campaign_activity
    (
        "campaign_activity",
        5,
        "campaign_id",
        "FreeAna",
        f"campaign_activity.csv:5:campaign_id: 'FreeAna' — expected {SLUG}",
    ),
    (
        "campaign_activity",
        5,
        "campaign_id",
        "free_bob",
        "campaign_activity.csv:5:campaign_id: 'free_bob' — expected a campaign_id listed in campaigns.csv (1 rows use this id)",
    ),
    (
        "campaign_activity",
        5,
        "date",
        "23/12/2023",
        "campaign_activity.csv:5:date: '23/12/2023' — expected a calendar day written YYYY-MM-DD (UTC)",
    ),
    (
        "campaign_activity",
        5,
        "date",
        "2023-12-23T14:00:00+01:00",
        "campaign_activity.csv:5:date: '2023-12-23T14:00:00+01:00' — expected a calendar day written YYYY-MM-DD (UTC)",
    ),
    (
        "campaign_activity",
        5,
        "date",
        "2023-13-01",
        "campaign_activity.csv:5:date: '2023-13-01' — expected a date that exists in the calendar",
    ),
    (
        "campaign_activity",
        5,
        "date",
        "2023-12-22",
        "campaign_activity.csv:5:campaign_id+date: 'free_ana 2023-12-22' — expected one row per (campaign_id, date): this series already has this day on an earlier row",
    ),
    (
        "campaign_activity",
        5,
        "value",
        "1,234",
        "campaign_activity.csv:5:value: '1,234' — expected a plain number such as 1234 or 0.5 (leave the cell empty for an unobserved day)",
    ),
    (
        "campaign_activity",
        5,
        "value",
        "-3",
        "campaign_activity.csv:5:value: '-3' — expected a count or measure ≥ 0 (leave the cell empty for an unobserved day)",
    ),
]


@pytest.mark.parametrize(("table", "row", "column", "value", "expected"), CELL_RULES)
def test_each_rule_reports_its_exact_message(minimal_dir, table, row, column, value, expected):
    edit(minimal_dir, table, row, column, value)
    assert problems(minimal_dir) == [expected]


def test_the_unedited_example_is_valid(minimal_dir):
    study = load_study(minimal_dir, warn=False)
    assert len(study.cases) == 2 and len(study.legal_events) == 4


def test_a_misspelled_header_is_named_with_a_hint(minimal_dir):
    path = minimal_dir / "legal_events.csv"
    path.write_text(path.read_text().replace("event_type", "even_type", 1))
    assert problems(minimal_dir) == [
        "legal_events.csv:1:event_type: '' — expected a column named 'event_type' in the header row "
        "(found 'even_type': a misspelling?)"
    ]


def test_a_missing_column_without_a_near_match(minimal_dir):
    df = pd.read_csv(minimal_dir / "campaigns.csv").drop(columns=["unit"])
    df.to_csv(minimal_dir / "campaigns.csv", index=False)
    assert problems(minimal_dir) == [
        "campaigns.csv:1:unit: '' — expected a column named 'unit' in the header row"
    ]


def test_every_failure_is_reported_at_once(minimal_dir):
    edit(minimal_dir, "cases", 2, "country", "Spain")
    edit(minimal_dir, "legal_events", 3, "direction", "good")
    edit(minimal_dir, "campaign_activity", 7, "value", "many")
    lines = problems(minimal_dir)
    assert len(lines) == 3
    assert [line.split(":")[0] for line in lines] == [
        "campaign_activity.csv",
        "cases.csv",
        "legal_events.csv",
    ]


def test_an_empty_value_is_an_unobserved_day_not_an_error(minimal_dir):
    study = load_study(minimal_dir, warn=False)
    gap = study.activity.set_index("date").loc["2024-02-20":"2024-02-22", "value"]
    assert gap.isna().all() and len(gap) == 3
