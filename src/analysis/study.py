"""The study: four validated tables in memory, and the pure helpers every analysis uses.

Nothing here reads or writes a file: :mod:`analysis.datasets` turns files into the typed
tables and :func:`make_study` (through :func:`analysis.datasets.load_study`) turns those
into a :class:`Study`. The studies (``align``, ``timing``, ``event_study``, ``causality``,
``its``, ``outcomes``), ``narrative`` and ``simulate`` import this module, never the file
layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath
from typing import cast

import pandas as pd

from .errors import DataError, Failure, did_you_mean

__all__ = [
    "Study",
    "case_campaign_links",
    "coverage",
    "cross_check",
    "format_event_dates",
    "make_event_ids",
    "make_study",
    "study_warnings",
    "to_contract",
]


@dataclass(frozen=True)
class Study:
    """The four validated tables of one study.

    Attributes
    ----------
    cases, legal_events, campaigns, activity : pandas.DataFrame
        Typed tables as described in :mod:`analysis.schema`. ``legal_events`` has an
        extra ``event_id`` column; ``activity`` is sorted by campaign and date.
    warnings : tuple of str
        Valid-but-notable findings (gaps, events outside observed windows, …).
    source : str
        Where the study was loaded from.
    """

    cases: pd.DataFrame
    legal_events: pd.DataFrame
    campaigns: pd.DataFrame
    activity: pd.DataFrame
    warnings: tuple[str, ...] = field(default=())
    source: str = ""

    def case_campaigns(self) -> pd.DataFrame:
        """Long table of (``case_id``, ``campaign_id``) links, in case order (see
        :func:`case_campaign_links`)."""
        return case_campaign_links(self.cases, self.campaigns)

    def coverage(self) -> pd.DataFrame:
        """Observed coverage of every series; see :func:`coverage`."""
        return coverage(self.activity, self.campaigns)

    def subset(self, case_ids: list[str]) -> Study:
        """The same study restricted to some cases (and the series they link).

        Raises
        ------
        KeyError
            For case ids the study does not have (with the closest known ids): a
            misspelt id would otherwise give an empty study.
        """
        unknown = [c for c in case_ids if c not in set(self.cases["case_id"])]
        if unknown:
            known = list(self.cases["case_id"])
            hints = [f"{c!r}{did_you_mean(c, known)}" for c in unknown]
            raise KeyError(f"unknown case_id {', '.join(hints)}")
        cases = self.cases[self.cases["case_id"].isin(case_ids)].reset_index(drop=True)
        links = self.case_campaigns()
        keep = set(links.loc[links["case_id"].isin(case_ids), "campaign_id"])
        events = self.legal_events[self.legal_events["case_id"].isin(case_ids)].reset_index(
            drop=True
        )
        campaigns = self.campaigns[self.campaigns["campaign_id"].isin(keep)].reset_index(drop=True)
        activity = self.activity[self.activity["campaign_id"].isin(keep)].reset_index(drop=True)
        return Study(cases, events, campaigns, activity, self.warnings, self.source)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The four tables by their contract names."""
        return {
            "cases": self.cases,
            "legal_events": self.legal_events,
            "campaigns": self.campaigns,
            "campaign_activity": self.activity,
        }


def _split_links(frame: pd.DataFrame, key: str, column: str, other: str) -> pd.DataFrame:
    ids = frame[column].fillna("").astype(str).str.split(";")
    links = pd.DataFrame({key: frame[key], other: ids}).explode(other)
    links[other] = links[other].str.strip()
    return links[links[other] != ""]


def case_campaign_links(cases: pd.DataFrame, campaigns: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (``case_id``, ``campaign_id``) link.

    A case links a series it lists in ``cases.campaign_ids``; when ``campaigns`` is
    given and has the optional ``case_ids`` column, a series also links every case it
    lists there (what ``fetch wikipedia --cases`` writes). Rows are in case order, a
    case's ``campaign_ids`` first; a link made both ways, or listed twice, is one row.
    """
    links = _split_links(cases, "case_id", "campaign_ids", "campaign_id")
    if campaigns is not None and "case_ids" in campaigns.columns:
        back = _split_links(campaigns, "campaign_id", "case_ids", "case_id")
        order = {c: i for i, c in enumerate(cases["case_id"])}
        back = back[back["case_id"].isin(order)][["case_id", "campaign_id"]]
        links = pd.concat([links, back], ignore_index=True)
        rank = links["case_id"].map(order)
        links = links.iloc[rank.argsort(kind="stable")]
    # a series listed twice for one case is one link (it counted every event twice)
    return links.drop_duplicates().reset_index(drop=True)


def make_event_ids(events: pd.DataFrame) -> pd.Series:
    """Stable ids ``case_id:date:event_type`` (``:2``, ``:3`` … for repeats).

    The date is written at its precision (``2020-05``), so an id never claims a day
    that the data do not know.
    """
    dates = format_event_dates(events)
    base = events["case_id"].astype(str) + ":" + dates + ":" + events["event_type"].astype(str)
    repeat = base.groupby(base).cumcount() + 1
    return base.where(repeat == 1, base + ":" + repeat.astype(str))


def format_event_dates(events: pd.DataFrame) -> pd.Series:
    """Write event dates back at their precision (``YYYY-MM-DD``/``YYYY-MM``/``YYYY``)."""
    day = events["date"].dt.strftime("%Y-%m-%d")
    out = day.copy()
    out[events["date_precision"] == "month"] = events["date"].dt.strftime("%Y-%m")
    out[events["date_precision"] == "year"] = events["date"].dt.strftime("%Y")
    return pd.Series(out)


def to_contract(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` as it is written to disk (event dates at their precision)."""
    out = frame.copy()
    if table == "legal_events":
        out["date"] = format_event_dates(out)
        out = out.drop(columns=["event_id"], errors="ignore")
    return out


def coverage(activity: pd.DataFrame, campaigns: pd.DataFrame | None = None) -> pd.DataFrame:
    """Observed coverage of each activity series.

    Parameters
    ----------
    activity : pandas.DataFrame
        ``campaign_activity`` rows (``value`` NaN = unobserved).
    campaigns : pandas.DataFrame, optional
        When given, its ``label`` is added.

    Returns
    -------
    pandas.DataFrame
        One row per series with an observed day: ``campaign_id``, ``first_day`` and
        ``last_day`` (first/last observed day), ``span_days`` (calendar days from
        first to last, inclusive), ``observed_days``, ``pct_observed`` (percent of the
        span), ``n_gaps`` (runs of unobserved days inside the span) and
        ``longest_gap_days``.
    """
    obs = activity.loc[activity["value"].notna(), ["campaign_id", "date"]]
    obs = obs.drop_duplicates().sort_values(["campaign_id", "date"])
    step = obs.groupby("campaign_id")["date"].diff().dt.days
    obs = obs.assign(gap=(step - 1).clip(lower=0).fillna(0).astype(int))
    cov = obs.groupby("campaign_id", sort=True).agg(
        first_day=("date", "min"),
        last_day=("date", "max"),
        observed_days=("date", "size"),
        n_gaps=("gap", lambda g: int((g > 0).sum())),
        longest_gap_days=("gap", "max"),
    )
    cov["span_days"] = (cov["last_day"] - cov["first_day"]).dt.days + 1
    cov["pct_observed"] = 100.0 * cov["observed_days"] / cov["span_days"]
    cov = cov.reset_index()[
        [
            "campaign_id",
            "first_day",
            "last_day",
            "span_days",
            "observed_days",
            "pct_observed",
            "n_gaps",
            "longest_gap_days",
        ]
    ]
    if campaigns is not None:
        cov.insert(1, "label", cov["campaign_id"].map(campaigns.set_index("campaign_id")["label"]))
    return cov


def _dangling_ids(
    frame: pd.DataFrame, column: str, known: set[str], file: str, expected: str
) -> list[Failure]:
    """A failure per id in a ``;``-list column that ``known`` lacks."""
    if column not in frame.columns:
        return []
    return [
        Failure(file, cast(int, idx) + 2, column, part, expected)
        for idx, value in frame[column].items()
        for part in (p.strip() for p in (value.split(";") if isinstance(value, str) else []))
        if part and part not in known
    ]


def cross_check(
    cases: pd.DataFrame,
    legal_events: pd.DataFrame,
    campaigns: pd.DataFrame,
    activity: pd.DataFrame,
    files: dict[str, str],
) -> list[Failure]:
    """Checks between tables: every reference points at a row that exists.

    Returns one failure per dangling reference, with the row of the referring table.
    """
    failures = []
    known_cases = set(cases["case_id"])
    bad = ~legal_events["case_id"].isin(known_cases)
    for idx in legal_events.index[bad]:
        failures.append(
            Failure(
                files["legal_events"],
                cast(int, idx) + 2,
                "case_id",
                str(legal_events.at[idx, "case_id"]),
                f"a case_id listed in {PurePath(files['cases']).name}",
            )
        )
    known_campaigns = set(campaigns["campaign_id"])
    failures += _dangling_ids(
        cases,
        "campaign_ids",
        known_campaigns,
        files["cases"],
        f"campaign ids listed in {PurePath(files['campaigns']).name}",
    )
    failures += _dangling_ids(
        campaigns,
        "case_ids",
        known_cases,
        files["campaigns"],
        f"case ids listed in {PurePath(files['cases']).name}",
    )
    bad = ~activity["campaign_id"].isin(known_campaigns)
    # One failure per unknown id (first row), not one per day of a long series.
    first_rows = activity.loc[bad].drop_duplicates("campaign_id")
    for idx, value in first_rows["campaign_id"].items():
        n = int((activity["campaign_id"] == value).sum())
        failures.append(
            Failure(
                files["campaign_activity"],
                cast(int, idx) + 2,
                "campaign_id",
                value,
                f"a campaign_id listed in {PurePath(files['campaigns']).name} "
                f"({n} rows use this id)",
            )
        )
    return failures


def make_study(tables: dict[str, pd.DataFrame], files: dict[str, str], source: str) -> Study:
    """Check four parsed tables against each other and make them a :class:`Study`.

    Parameters
    ----------
    tables : dict of pandas.DataFrame
        The four typed tables by contract name (as :func:`analysis.datasets.parse_table`
        returns them).
    files : dict of str
        The file each table came from, named in error messages.
    source : str
        Where the study came from (kept on ``Study.source``).

    Raises
    ------
    DataError
        For every dangling reference between the tables (see :func:`cross_check`); row
        numbers are ``index + 2``.
    """
    failures = cross_check(
        tables["cases"],
        tables["legal_events"],
        tables["campaigns"],
        tables["campaign_activity"],
        files,
    )
    if failures:
        raise DataError(failures)
    activity = (
        tables["campaign_activity"]
        .sort_values(["campaign_id", "date"], kind="stable")
        .reset_index(drop=True)
    )
    study = Study(
        cases=tables["cases"],
        legal_events=tables["legal_events"],
        campaigns=tables["campaigns"],
        activity=activity,
        source=source,
    )
    return Study(**{**study.__dict__, "warnings": tuple(study_warnings(study))})


def percent(share: float) -> str:
    """A percentage with one decimal that never rounds to 100.0 % (or 0.0 %) when it is
    not: a series missing one day in years reads 99.9 %, in the coverage table and in
    the warnings alike."""
    import math

    if not math.isfinite(share):
        return "n/a"
    shown = round(share, 1)
    if shown >= 100 and share < 100:
        shown = 99.9
    elif shown <= 0 and share > 0:
        shown = 0.1
    return f"{shown:.1f}%"


def study_warnings(study: Study) -> list[str]:
    """Valid-but-notable findings: gaps, unused series, events outside windows, odd orders."""
    out = []
    cov = study.coverage()
    for rec in cov[cov["n_gaps"] > 0].to_dict("records"):
        out.append(
            f"series {rec['campaign_id']}: {rec['n_gaps']} gap(s) of unobserved days "
            f"({percent(rec['pct_observed'])} of "
            f"{rec['first_day']:%Y-%m-%d}..{rec['last_day']:%Y-%m-%d} observed); "
            "gaps stay missing, never zero"
        )
    links = study.case_campaigns()
    unused = sorted(set(study.campaigns["campaign_id"]) - set(links["campaign_id"]))
    if unused:
        out.append(f"campaigns used by no case (kept, e.g. as controls): {', '.join(unused)}")
    empty = sorted(set(study.campaigns["campaign_id"]) - set(cov["campaign_id"]))
    if empty:
        out.append(f"campaigns with no observed day: {', '.join(empty)}")
    ev = study.legal_events
    day = ev.loc[ev["date_precision"] == "day", ["event_id", "case_id", "date"]]
    window = day.merge(links, on="case_id").merge(cov, on="campaign_id")
    outside = window[(window["date"] < window["first_day"]) | (window["date"] > window["last_day"])]
    if len(outside):
        out.append(
            f"{outside['event_id'].nunique()} day-precision event(s) fall outside "
            "the observed window "
            "of a linked series (kept for context; studies filter by date)"
        )
    same_day = day.duplicated(["case_id", "date"], keep=False)
    if same_day.any():
        out.append(
            f"{int(same_day.sum())} events share a day with another event of the same case "
            f"(cases: {', '.join(sorted(day.loc[same_day, 'case_id'].unique()))})"
        )
    first_arrest = ev[ev["event_type"] == "arrest"].groupby("case_id")["date"].min()
    first_release = ev[ev["event_type"] == "release"].groupby("case_id")["date"].min()
    both = pd.concat({"arrest": first_arrest, "release": first_release}, axis=1).dropna()
    early = both[both["release"] < both["arrest"]]
    if len(early):
        out.append(
            "a release is dated before the first arrest in: "
            + ", ".join(early.index)
            + " (can be right: an earlier detention ended before a new arrest)"
        )
    return out
