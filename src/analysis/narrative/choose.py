"""What the notebooks show: which cases and event types have something to show, which
series answers for a case, which event is its key event, and the tables built from the
study.
"""

from __future__ import annotations

import html
from typing import Any, cast

import numpy as np
import pandas as pd

from ..align import SeriesBank, day_events
from ..study import Study
from .words import (
    link,
    md,
)

__all__ = [
    "WEAK_SOURCES",
    "busiest_pair",
    "case_header",
    "case_line",
    "case_panels",
    "case_series",
    "case_window",
    "cases_table",
    "cases_with_observed_events",
    "event_sample",
    "key_event",
    "key_event_sentence",
    "main_series",
    "major_event_types",
    "no_series_note",
    "overview_tables",
    "primary_series",
    "series_sources",
    "source_kind",
    "sources_table",
]


def cases_with_observed_events(study: Study, window: int = 14) -> list[str]:
    """Cases with at least one day-precision legal event whose pre and post windows
    (``window`` days each) fall inside an observed span of a linked series."""
    bank = SeriesBank.from_activity(study.activity)
    events, _ = day_events(study)
    rows = events.merge(study.case_campaigns(), on="case_id")
    if rows.empty:
        return []
    idx = bank.index_of(rows["campaign_id"].to_numpy())
    v = bank.gather(idx, rows["date"].to_numpy(), np.arange(-window, window))
    ok = np.isfinite(v).mean(axis=1) >= 0.5
    return sorted(rows.loc[ok, "case_id"].unique())


def primary_series(study: Study, case_id: str) -> str | None:
    """The series that answers for a case: its own before a shared one.

    Among the case's linked series with observed days, a series no other case links
    (the case's own hashtag or page views) comes first, then a movement series shared
    by several cases; ties keep the ``campaign_ids`` order. ``None`` when the case has
    no series with observed days.
    """
    observed = set(study.activity.loc[study.activity["value"].notna(), "campaign_id"])
    links = study.case_campaigns()
    users = links.groupby("campaign_id")["case_id"].nunique()
    mine = [c for c in links.query("case_id == @case_id")["campaign_id"] if c in observed]
    if not mine:
        return None
    return str(sorted(mine, key=lambda c: users.get(c, 1) > 1)[0])


def key_event(timing: pd.DataFrame, case_id: str, event_id: str = "") -> pd.Series | None:
    """The legal event a case study's interrupted time series is centred on.

    With ``event_id`` (``case_id:date:event_type``, as in the timing table): that
    event, which must belong to the case and have enough observed days around it.
    Without: among the case's legal events (not the incident) with enough data, the
    one with the largest ``lr_post_pre`` (log ratio of post- to pre-event activity);
    ``None`` if there is none.

    Raises
    ------
    ValueError
        ``event_id`` is not one of the case's usable events (the message lists them).
    """
    observed = timing["label"] != "insufficient data"
    if {"n_pre", "runup_days", "n_post"} <= set(timing.columns):
        # the interrupted time series needs days just before and after the event, not
        # the label's baseline before the case began (a series may start with the case)
        observed |= (timing["n_pre"] >= 0.5 * timing["runup_days"]) & (timing["n_post"] >= 7)
    usable = timing[(timing["case_id"] == case_id) & observed]
    if event_id:
        row = usable[usable["event_id"] == event_id]
        if row.empty:
            known = ", ".join(sorted(usable["event_id"].unique())) or "none"
            raise ValueError(
                f"its_event {event_id!r} is not an event of {case_id!r} with enough observed "
                f"days around it; usable events: {known}"
            )
        return row.iloc[0]
    rows = usable[usable["event_type"] != "incident"]
    if rows.empty:
        return None
    return rows.sort_values("lr_post_pre", ascending=False).iloc[0]


def overview_tables(study: Study) -> dict[str, pd.DataFrame]:
    """Counts for the data overview: cases by country × category, events by type × precision."""
    cases = pd.crosstab(
        study.cases["country"], study.cases["category"], margins=True, margins_name="total"
    )
    events = pd.crosstab(
        study.legal_events["event_type"],
        study.legal_events["date_precision"],
        margins=True,
        margins_name="total",
    )
    return {"cases": cases, "events": events}


def case_header(study: Study, case_id: str) -> dict[str, Any]:
    """Title, country, category and linked series of one case; a clear error if unknown."""
    match = study.cases[study.cases["case_id"] == case_id]
    if match.empty:
        known = ", ".join(sorted(study.cases["case_id"]))
        raise KeyError(f"unknown case_id {case_id!r}; known cases: {known}")
    rec = match.iloc[0]
    links = study.case_campaigns().query("case_id == @case_id")["campaign_id"].tolist()
    labels = study.campaigns.set_index("campaign_id").reindex(links)
    return {
        "case_id": case_id,
        "title": rec["title"],
        "country": rec["country"],
        "category": rec["category"],
        "series": links,
        "series_labels": labels["label"].fillna("").tolist(),
        "series_units": labels["unit"].fillna("").tolist(),
        "stances": labels["stance"].fillna("").tolist(),
        "n_events": int((study.legal_events["case_id"] == case_id).sum()),
        "n_day_events": int(
            (
                (study.legal_events["case_id"] == case_id)
                & (study.legal_events["date_precision"] == "day")
            ).sum()
        ),
    }


def case_line(case: dict[str, Any]) -> str:
    """One Markdown line under a case study's title: country, category, events, series."""
    n, day = case["n_events"], case.get("n_day_events", case["n_events"])
    series = ", ".join(x for x in case["series_labels"] if x) or "none"
    dated = "" if day == n else f" ({day} dated to the day, the rest to the month or year)"
    return (
        f"Country: {md(case['country'])} · category: "
        f"{md(str(case['category']).replace('_', ' '))} · {n} legal event{'' if n == 1 else 's'}"
        f"{dated} · series: {md(series)}"
    )


def key_event_sentence(key: pd.Series, its_event: str = "") -> str:
    """Which event the interrupted time series is around, and why it was chosen."""
    when = pd.Timestamp(key["date"]).strftime("%-d %B %Y")
    from .verdicts import event_words

    why = (
        "named for this report"
        if its_event
        else "chosen as the legal event with the largest rise after it"
    )
    return f"Key event: the {md(event_words(key['event_type']))} on {when} ({why})."


def case_window(
    study: Study, case_id: str, campaign_id: str, before: int = 120, after: int = 90
) -> pd.Series:
    """The series around a case: from ``before`` days before its first day-precision event
    to ``after`` days after its last one, clipped to the series' observed span."""
    s = SeriesBank.from_activity(study.activity).series(campaign_id)
    ev = study.legal_events[
        (study.legal_events["case_id"] == case_id) & (study.legal_events["date_precision"] == "day")
    ]
    if ev.empty or s.empty:
        return s
    lo, hi = (
        ev["date"].min() - pd.Timedelta(days=before),
        ev["date"].max() + pd.Timedelta(days=after),
    )
    return pd.Series(s[(s.index >= lo) & (s.index <= hi)])


def major_event_types(
    study: Study, min_cases: int = 5, window: int = 14, baseline_days: int = 28
) -> list[str]:
    """Event types with an observed event-study window in at least ``min_cases`` cases.

    A window is observed when at least half the days of its baseline (``baseline_days``
    before the pre-event days), pre-event (``window`` days) and post-event (``window``
    days from the event day) parts are observed on a linked series.
    """
    from ..align import event_windows

    win = event_windows(study, before=window + baseline_days, after=window - 1)
    v = win.values
    parts = [(-(window + baseline_days), -(window + 1)), (-window, -1), (0, window - 1)]
    ok = np.ones(len(v), dtype=bool)
    for lo, hi in parts:
        cols = win.columns(lo, hi)
        ok &= np.isfinite(v[:, cols]).sum(axis=1) >= 0.5 * cols.sum()
    per_type = win.rows.loc[ok].groupby("event_type")["case_id"].nunique()
    return sorted(per_type[per_type >= min_cases].index)


def event_sample(
    study: Study, event_type: str, window: int = 14, baseline_days: int = 28
) -> dict[str, Any]:
    """The windows an event-study page analyses, counted once for every section.

    A window is one (event, linked series) pair whose baseline, run-up and aftermath
    each have an observed day — exactly the windows
    :func:`~analysis.event_study.event_time_curves`,
    :func:`~analysis.event_study.leads_lags` and
    :func:`~analysis.event_study.placebo_test` use.

    Returns
    -------
    dict
        ``n_windows``, ``n_cases``, ``n_events``, ``n_series``, ``n_shared`` (windows on
        a series other cases share), ``n_not_day`` (events of the type dated only to the
        month or year) and ``n_unobserved`` (day-precision events with no usable window).
    """
    from ..event_core import _windows

    rows = _windows(study, window, baseline_days, [event_type], "zscore").rows
    links = study.case_campaigns()
    per_series = links.groupby("campaign_id")["case_id"].nunique()
    of_type = study.legal_events[study.legal_events["event_type"] == event_type]
    day = of_type[of_type["date_precision"] == "day"]
    return {
        "n_windows": len(rows),
        "n_cases": int(rows["case_id"].nunique()),
        "n_events": int(rows["event_id"].nunique()),
        "n_series": int(rows["campaign_id"].nunique()),
        "n_shared": int((rows["campaign_id"].map(per_series).fillna(1) > 1).sum()),
        "n_not_day": int(len(of_type) - len(day)),
        "n_unobserved": int((~day["event_id"].isin(rows["event_id"])).sum()),
    }


#: Sources weaker than a news report, an NGO report or a court or government record: the
#: project's judgment of the sites its curated tables cite (``data/raw/README.md``,
#: "Known weak spots"). A row citing one is flagged wherever it is shown.
WEAK_SOURCES: dict[str, str] = {
    **dict.fromkeys(("wikipedia.org",), "an encyclopedia"),
    **dict.fromkeys(("rt.com",), "state media"),
    **dict.fromkeys(
        (
            "latimesnow.com",
            "intouchweekly.com",
            "boingboing.net",
            "consequence.net",
            "vibe.com",
            "rollingout.com",
            "newser.com",
            "truecrimedaily.com",
            "blavity.com",
            "paralegalbrief.com",
            "thestreetjournal.org",
            "ironbladeonline.com",
            "asianatimes.com",
            "lfwp.net",
        ),
        "an aggregator or entertainment site",
    ),
}


def source_kind(url: object) -> str:
    """What kind of weaker source ``url`` is (``WEAK_SOURCES``), or ``""``."""
    from urllib.parse import urlparse

    host = urlparse(str(url or "")).netloc.lower().split(":")[0]
    for domain, kind in WEAK_SOURCES.items():
        if host == domain or host.endswith("." + domain):
            return kind
    return ""


def sources_table(study: Study, case_id: str) -> str:
    """HTML table of a case's legal events with their cited sources (links only for
    http(s)), each weaker source flagged, then a line on the rows' provenance and licence."""
    from ..columns import format_value

    ev = study.legal_events[study.legal_events["case_id"] == case_id].sort_values("date")
    rows = []
    weak = 0
    for rec in ev.to_dict("records"):
        title = (
            rec.get("source_title")
            if isinstance(rec.get("source_title"), str)
            else rec.get("source_url")
        )
        kind = source_kind(rec.get("source_url"))
        weak += bool(kind)
        flag = f' <em class="weak">(weaker source: {html.escape(kind)})</em>' if kind else ""
        precision = rec["date_precision"]
        when = pd.Timestamp(rec["date"])
        date = {"day": f"{when:%-d %b %Y}", "month": f"{when:%b %Y}"}.get(precision, f"{when:%Y}")
        rows.append(
            "<tr>"
            f"<td>{html.escape(date)}</td>"
            f"<td>{html.escape(format_value('event_type', rec['event_type']))}</td>"
            f"<td>{html.escape(str(rec['direction']))}</td>"
            f"<td>{html.escape(str(rec.get('description') or ''), quote=False)}</td>"
            f"<td>{link(rec.get('source_url'), title or '')}{flag}</td>"
            "</tr>"
        )
    head = (
        "<thead><tr><th>Date</th><th>Event</th><th>Direction</th><th>Description</th>"
        "<th>Source</th></tr></thead>"
    )
    note = (
        f"{len(ev)} row{'s' if len(ev) != 1 else ''} from the project's curated legal-events "
        "table, published with the project under its MIT licence (cite the project; each "
        "source page keeps its own rights)."
    )
    if weak:
        note += (
            f" {weak} of them cite an encyclopedia, aggregator or state-media page rather "
            "than a news report or a court or government record: a weaker source, flagged."
        )
    return f'<table class="sources">{head}<tbody>{"".join(rows)}</tbody></table><p>{note}</p>'


def cases_table(study: Study) -> pd.DataFrame:
    """One row per case: what a researcher looks at first.

    Columns: ``case_id``, ``title``, ``country``, ``category``, ``n_events`` (legal
    events), ``n_day_events`` (known to the day), ``first_event``/``last_event``
    (dates), ``series`` (linked series with observed days, ``;``-joined) and
    ``primary_series`` (the one that answers for the case, see :func:`primary_series`).
    """
    ev = study.legal_events
    per_case = ev.groupby("case_id").agg(
        n_events=("event_id", "size"),
        n_day_events=("date_precision", lambda p: int((p == "day").sum())),
        first_event=("date", "min"),
        last_event=("date", "max"),
    )
    observed = set(study.activity.loc[study.activity["value"].notna(), "campaign_id"])
    links = study.case_campaigns()
    links = links[links["campaign_id"].isin(observed)]
    series = links.groupby("case_id")["campaign_id"].agg(";".join)
    out = study.cases[["case_id", "title", "country", "category"]].set_index("case_id")
    out = out.join(per_case).join(series.rename("series"))
    out[["n_events", "n_day_events"]] = out[["n_events", "n_day_events"]].fillna(0).astype(int)
    out["series"] = out["series"].fillna("")
    out["primary_series"] = [primary_series(study, c) or "" for c in out.index]
    return out.reset_index()


def case_series(
    study: Study, case_id: str, campaign_id: str | None = None, before: int = 120, after: int = 90
) -> tuple[pd.Series, pd.DataFrame]:
    """One case's activity around its events, and the events: what a case plot needs.

    Parameters
    ----------
    study : Study
    case_id : str
    campaign_id : str, optional
        Default: the case's primary series (:func:`primary_series`).
    before, after : int
        Days shown before the first and after the last day-precision event.

    Returns
    -------
    (series, events)
        The daily series (NaN = unobserved; empty when the case has no series) and the
        case's legal events (all precisions), for :func:`analysis.plots.series_with_events`.

    Raises
    ------
    KeyError
        For an unknown case id (with the closest ones).
    """
    study.subset([case_id])  # an unknown id: KeyError with a suggestion
    events = study.legal_events[study.legal_events["case_id"] == case_id].reset_index(drop=True)
    series_id = campaign_id or primary_series(study, case_id)
    if series_id is None:
        return pd.Series(dtype=float, name=case_id), events
    return case_window(study, case_id, series_id, before=before, after=after), events


def case_panels(
    study: Study, case_id: str, before: int = 120, after: int = 90
) -> dict[str, tuple[pd.Series, str]]:
    """Every linked series of a case with observed days around its events, for
    :func:`analysis.plots.series_panels`: label → (series, unit), primary series first."""
    observed = set(study.activity.loc[study.activity["value"].notna(), "campaign_id"])
    links = study.case_campaigns().query("case_id == @case_id")["campaign_id"]
    meta = study.campaigns.set_index("campaign_id")
    first = primary_series(study, case_id)
    ids = sorted((c for c in links if c in observed), key=lambda c: c != first)
    out = {}
    for cid in ids:
        series = case_window(study, case_id, cid, before=before, after=after)
        if series.notna().any():
            out[f"{meta.at[cid, 'label']!s} ({cid})"] = (series, str(meta.at[cid, "unit"]))
    return out


def main_series(study: Study) -> str | None:
    """The series with observed days that the most cases link (ties: the longest);
    ``None`` when no linked series has an observed day."""
    observed = study.activity.loc[study.activity["value"].notna()]
    days = observed.groupby("campaign_id").size()
    links = study.case_campaigns()
    users = links[links["campaign_id"].isin(days.index)].groupby("campaign_id")["case_id"].nunique()
    if users.empty:
        return None
    ranked = sorted(users.index, key=lambda c: (-users[c], -days[c], c))
    return str(ranked[0])


def no_series_note(study: Study, case_id: str) -> str:
    """Why a case study has no activity to show, and how to add a series (Markdown)."""
    links = study.case_campaigns().query("case_id == @case_id")["campaign_id"]
    how = (
        "Give the case its own attention series with `python -m analysis fetch wikipedia "
        f"--cases {case_id}` (after filling in its `wikipedia_article`), or add one with "
        "`python -m analysis fetch` (Wikipedia page views, GDELT news, Media Cloud, a "
        "Google Trends export) or `python -m analysis ingest` (a post archive) and list "
        "its id in the case's `campaign_ids`."
    )
    if links.empty:
        return (
            "**This case has no activity series**, so no legal event can be labelled and "
            f"there is nothing to compare with: its legal events are listed below. {how}"
        )
    names = ", ".join(f"`{md(c)}`" for c in links)
    return (
        f"**The series linked to this case ({names}) have no observed days**, so no legal "
        f"event can be labelled: its legal events are listed below. {how}"
    )


def busiest_pair(study: Study) -> tuple[str, str, pd.DataFrame]:
    """The (case, series) pair with the most day-precision legal events on observed days.

    Returns ``(case_id, campaign_id, daily frame)``; the frame is that pair's rows of
    :func:`analysis.align.case_panel`, indexed by date (``value``, ``n_events``).
    """
    from ..align import case_panel

    panel = case_panel(study)
    counts = panel.dropna(subset=["value"]).groupby(["case_id", "campaign_id"])["n_events"].sum()
    case_id, campaign_id = cast(tuple[str, str], counts.idxmax())
    pair = panel[(panel["case_id"] == case_id) & (panel["campaign_id"] == campaign_id)].set_index(
        "date"
    )
    return case_id, campaign_id, pair


def series_sources(
    study: Study,
    campaign_ids: list[str] | None = None,
    *,
    case_ids: list[str] | None = None,
    event_type: str | None = None,
) -> list[dict[str, str]]:
    """Where each series a page uses comes from, for its "data sources" footer.

    The series are ``campaign_ids``, else those linked to ``case_ids`` (or to the cases
    with an event of ``event_type``), else every series of the study. Each entry has
    ``campaign_id``, ``label``, ``source`` (the citation in ``campaigns``), ``license``
    and ``source_url`` (empty when not recorded).
    """
    if case_ids is None and event_type is not None:  # the cases with such an event
        events = study.legal_events
        case_ids = sorted(set(events.loc[events["event_type"] == event_type, "case_id"]))
    if campaign_ids is None and case_ids is not None:
        links = study.case_campaigns()
        campaign_ids = list(
            dict.fromkeys(links.loc[links["case_id"].isin(case_ids), "campaign_id"])
        )
    rows = study.campaigns
    if campaign_ids is not None:
        rows = rows.set_index("campaign_id").reindex(campaign_ids).reset_index()
    out = []
    for rec in rows.to_dict("records"):
        out.append(
            {
                key: "" if pd.isna(rec.get(key)) else str(rec.get(key))
                for key in ("campaign_id", "label", "source", "license", "source_url")
            }
        )
    return out
