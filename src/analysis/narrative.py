"""What the notebooks say: loading, choices of what to show, sentences with their numbers.

Notebooks stay thin: every choice they make (which case has something to show, which
event is a case's key event) and every sentence they print with numbers in it comes
from here, where tests can reach it.
"""

from __future__ import annotations

import html
import json
import math
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from . import config
from ._io import atomic_write
from .align import SeriesBank, day_events
from .datasets import load_study
from .errors import DataWarning
from .study import Study

__all__ = [
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
    "label_summary",
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
    "save_headlines",
    "sources_table",
    "stacked_sentence",
    "time_to_charge_sentence",
    "timing_sentence",
    "timing_sentences",
]

if TYPE_CHECKING:  # its.py imports statsmodels; notebooks without an ITS need not
    from .event_study import LeadsLagsResult
    from .its import ImpactResult
    from .results import ModelResult


def load(data_dir: str | Path = "") -> Study:
    """Load a study folder (default: ``data/processed``); warnings are kept on the study."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return load_study(Path(data_dir) if str(data_dir) else config.PROCESSED_DATA_DIR)


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is pd.NaT or value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return value


def save_headlines(path: str | Path, **numbers: object) -> None:
    """Write a run's headline numbers as JSON (atomically); the report index shows them.

    NaN, NaT and infinities become ``null``; numpy scalars and timestamps become plain
    JSON values. An empty ``path`` (a notebook opened in JupyterLab rather than run by
    the batch) writes nothing, so no ``results.json`` lands among the notebooks.
    """
    if not str(path):
        return
    data = _jsonable(numbers)
    atomic_write(Path(path), lambda p: p.write_text(json.dumps(data, indent=2, ensure_ascii=False)))


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


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~$])")


def md(text: object) -> str:
    """Text from the data made safe for ``IPython.display.Markdown``.

    HTML is escaped (a case title cannot inject markup or script into a report) and
    Markdown punctuation is backslash-escaped (``#BlackLivesMatter`` stays text, not a
    heading).
    """
    return _MD_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False))


def _num(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 10 else f"{x:,.1f}"


def _pct(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:+,.0f}%"


def _days_text(n: int) -> str:
    return "the day" if n == 1 else f"the {n} days"


def timing_sentence(
    row: pd.Series, label: str, unit: str = "posts per day", window: int = 14
) -> str:
    """One sentence stating a timing label, the series that answered and the numbers behind it.

    ``label`` is the series' name as readers know it (``#BlackLivesMatter``); ``window``
    is kept for callers of the first rule and is not needed (the row has its windows).
    """
    date = pd.Timestamp(row["date"]).strftime("%d %B %Y").lstrip("0")
    what = str(row["event_type"]).replace("_", " ")
    scope = (
        "a series shared with other cases"
        if row.get("series_scope") == "shared"
        else "the case's own series"
    )
    head = f"{label} ({scope}) around the {what} on {date}"
    if row["label"] == "insufficient data":
        why = row.get("why") or "too few observed days"
        return (
            f"{head}: cannot say ({why}: {int(row['n_base'])} baseline, "
            f"{int(row['n_pre'])} run-up and {int(row['n_post'])} aftermath days observed)."
        )
    runup = int(row["runup_days"])
    since = (
        " (since the case's previous date)"
        if row.get("runup_since") == "previous date of the case"
        else ""
    )
    base_when = (
        "its level before the case began"
        if str(row.get("baseline_kind", "")).startswith("before the case")
        else "its level before that"
    )
    before = math.exp(row["lr_pre_base"])
    after = math.exp(max(row["lr_short_pre"], row["lr_post_pre"]))
    text = (
        f"{head}: {_num(row['pre_mean'])} {unit} in {_days_text(runup)} before{since}, "
        f"{before:.1f}× {base_when} ({_num(row['base_mean'])}); "
        f"{_num(row['short_mean'])} on the day and just after and {_num(row['post_mean'])} "
        f"over the next two weeks, {after:.1f}× the last days before. "
        f"Label: '{row['label']}'"
    )
    notes = []
    if row.get("event_type") == "incident":
        notes.append("an incident is labelled by what followed it only")
    if row.get("confounded_by"):
        others = ", ".join(str(row["confounded_by"]).split(";"))
        notes.append(f"other cases' events fall in the same windows of this series ({others})")
    if row.get("borderline"):
        notes.append(
            f"borderline: {row['stability_boot']:.0%} of bootstrap replicates and "
            f"{row['stability_spec']:.0%} of window choices agree"
        )
    return text + (" — " + "; ".join(notes) if notes else "") + "."


def label_summary(counts: pd.DataFrame) -> str:
    """A sentence on how many event–series pairs got each label."""
    total = int(counts["n"].sum())
    parts = [f"{int(n)} {lbl}" for lbl, n in zip(counts["label"], counts["n"], strict=True) if n]
    return f"Of {total} event–series pairs: " + ", ".join(parts) + "."


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
    }


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
    from .align import event_windows

    win = event_windows(study, before=window + baseline_days, after=window - 1)
    v = win.values
    parts = [(-(window + baseline_days), -(window + 1)), (-window, -1), (0, window - 1)]
    ok = np.ones(len(v), dtype=bool)
    for lo, hi in parts:
        cols = win.columns(lo, hi)
        ok &= np.isfinite(v[:, cols]).sum(axis=1) >= 0.5 * cols.sum()
    per_type = win.rows.loc[ok].groupby("event_type")["case_id"].nunique()
    return sorted(per_type[per_type >= min_cases].index)


def link(url: object, text: object | None = None) -> str:
    """An HTML link when ``url`` is http(s); otherwise the escaped text, never a link.

    A ``javascript:`` or ``data:`` URL from the data is shown as plain text, so it can
    never run in a reader's browser.
    """
    label = html.escape(str(text if text is not None else url or ""), quote=False)
    if isinstance(url, str) and re.match(r"^https?://[^\s\"'<>]+$", url.strip()):
        href = html.escape(url.strip(), quote=True)
        return f'<a href="{href}" rel="noopener noreferrer">{label}</a>'
    return label


def sources_table(study: Study, case_id: str) -> str:
    """HTML table of a case's legal events with their cited sources (links only for http(s))."""
    ev = study.legal_events[study.legal_events["case_id"] == case_id].sort_values("date")
    rows = []
    for rec in ev.to_dict("records"):
        title = (
            rec.get("source_title")
            if isinstance(rec.get("source_title"), str)
            else rec.get("source_url")
        )
        rows.append(
            "<tr>"
            f"<td>{pd.Timestamp(rec['date']):%Y-%m-%d} ({html.escape(rec['date_precision'])})</td>"
            f"<td>{html.escape(str(rec['event_type']))}</td><td>{html.escape(str(rec['direction']))}</td>"
            f"<td>{html.escape(str(rec.get('description') or ''), quote=False)}</td>"
            f"<td>{link(rec.get('source_url'), title or '')}</td>"
            "</tr>"
        )
    head = (
        "<tr><th>date</th><th>event</th><th>direction</th><th>description</th><th>source</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


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


def not_enough(what: str, exc: Exception) -> str:
    """Markdown in place of an estimate the study cannot support (the reason in words)."""
    return (
        f"**Not enough data for {md(what)}:** {md(exc)}. This is a property of the study, "
        "not an error; the other sections of this page stand."
    )


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


def timing_sentences(timing: pd.DataFrame, case: dict[str, Any]) -> str:
    """One sentence per legal event, from the series that answers for it (Markdown list)."""
    answering = timing[timing["preferred"]]
    if answering.empty:
        return "No legal event of this case has an activity series around it to label."
    names = dict(zip(case["series"], case["series_labels"], strict=True))
    units = dict(zip(case["series"], case["series_units"], strict=True))
    return (
        "The series that answers for each event is marked *preferred* in the table "
        "(the case's own series when it has one). In words, for each event:\n\n"
        + "\n".join(
            "- " + md(timing_sentence(r, names[r["campaign_id"]], units[r["campaign_id"]]))
            for _, r in answering.iterrows()
        )
    )


def onset_sentence(onset: pd.Series | None, unit: str) -> str:
    """The campaign onset in words, with its band when there is one."""
    if onset is None or pd.isna(onset.get("onset")):
        return "No sustained rise above the baseline was found around the first legal event."
    text = "Campaign onset (first sustained rise, change-point detection): "
    text += f"**{onset['onset']:%d %B %Y}**"
    if pd.notna(onset.get("onset_low")):
        text += f" (95% bootstrap band {onset['onset_low']:%d %b}–{onset['onset_high']:%d %b %Y})"
    text += f", {int(onset['onset_vs_first_event_days'])} days from the first legal event"
    if pd.notna(onset.get("peak_date")):
        text += f"; peak {onset['peak_value']:,.0f} {md(unit)} on {onset['peak_date']:%d %B %Y}"
    return text + "."


def busiest_pair(study: Study) -> tuple[str, str, pd.DataFrame]:
    """The (case, series) pair with the most day-precision legal events on observed days.

    Returns ``(case_id, campaign_id, daily frame)``; the frame is that pair's rows of
    :func:`analysis.align.case_panel`, indexed by date (``value``, ``n_events``).
    """
    from .align import case_panel

    panel = case_panel(study)
    counts = panel.dropna(subset=["value"]).groupby(["case_id", "campaign_id"])["n_events"].sum()
    case_id, campaign_id = cast(tuple[str, str], counts.idxmax())
    pair = panel[(panel["case_id"] == case_id) & (panel["campaign_id"] == campaign_id)].set_index(
        "date"
    )
    return case_id, campaign_id, pair


def impact_sentence(
    level_change_pct: float,
    maxlags: int,
    impact: ImpactResult,
    placebo: pd.DataFrame,
    *,
    level_interval: tuple[float, float] | None = None,
    sensitivity: ImpactResult | None = None,
) -> str:
    """The interrupted-time-series numbers of a case study, with their placebo check.

    Parameters
    ----------
    level_change_pct : float
        Segmented regression's level change on the event day, in percent.
    maxlags : int
        HAC lags used for it (the prewhitened kernel's bandwidth, rounded up, minus 1).
    impact : analysis.its.ImpactResult
        The counterfactual after the event.
    placebo : pandas.DataFrame
        :func:`analysis.its.placebo_in_time` on dates before the event (rows whose
        window could not be fitted carry a ``note`` and are not counted).
    level_interval : (float, float), optional
        The 95 % interval of the level change, in percent; said with it, and "no
        detectable change" when it spans 0.
    sensitivity : analysis.its.ImpactResult, optional
        The same counterfactual with CausalImpact's default prior; its ratio is said
        as a sensitivity row, with what that prior assumes.
    """
    c = impact.cumulative
    interval = ""
    if level_interval is not None:
        lo, hi = level_interval
        interval = f", 95% interval {lo:+.0f}% to {hi:+.0f}%"
        if lo <= 0 <= hi:
            interval += ": no detectable change"
    ratio, low, high = c.get("ratio"), c.get("ratio_low"), c.get("ratio_high")
    verdict = _impact_verdict(low, high)
    text = (
        f"Level change on the event day: {level_change_pct:+.0f}%{interval} (segmented "
        f"regression, autocorrelation-robust errors). Over {c['n_post_days']} days, activity "
        f"was {ratio:.2f}× the forecast (95% interval {low:.2f}× to {high:.2f}×): "
        f"**{verdict}**; {_num(c['observed_sum'])} observed in all against a median forecast "
        f"of {_num(c['observed_sum'] - c['effect'])} "
        f"({md(impact.spec.get('interval', 'simulated paths'))}; seed {impact.seed})."
    )
    for caution in impact.spec.get("cautions") or []:
        text += f" Caution: {md(caution)}."
    if sensitivity is not None:
        s = sensitivity.cumulative
        other = _impact_verdict(s["ratio_low"], s["ratio_high"])
        text += (
            f" With CausalImpact's default prior, which assumes a nearly constant level: "
            f"{s['ratio']:.2f}× ({s['ratio_low']:.2f}× to {s['ratio_high']:.2f}×), {other}"
            + (
                "; the two disagree, so the finding rests on that assumption."
                if other != verdict
                else "."
            )
        )
    usable = _usable_placebos(placebo)
    if usable.empty:
        return (
            text + " No placebo date before the event had enough observed days to check the model."
        )
    alarms = placebo_counts(placebo)["placebo_alarms"]
    dates = ", ".join(f"{d:%d %b %Y}" for d in usable["placebo_date"])
    text += (
        f" Placebo check: the same model started on {len(usable)} earlier dates ({dates}) "
        f"finds an 'effect' at {alarms} of them"
    )
    if alarms == 0:
        return text + " — none, as it should when nothing happened."
    return text + (
        " — either the model misreads this series or activity was already moving before "
        "the event (see the timing label); read the estimate above with that in mind."
    )


def ratio_verdict(
    row: pd.Series, ratio: str, what: str, per: str = "each unit of log pressure before an event"
) -> str:
    """A sentence for one ratio (odds or hazard) per unit of pre-event pressure.

    ``row`` is a ``tidy()`` row with ``<ratio>``, ``<ratio>_low`` and ``<ratio>_high``;
    "inconclusive" when the interval includes 1.
    """
    r, lo, hi = row[ratio], row[f"{ratio}_low"], row[f"{ratio}_high"]
    text = f"{per} goes with {what} {r:.2f} times as high (95% interval {lo:.2f} to {hi:.2f})"
    if lo <= 1 <= hi:
        return text + " — inconclusive: the interval includes no effect."
    return text + ". An association across cases, not the effect of pressure on a court."


def _impact_verdict(low: float | None, high: float | None) -> str:
    """The counterfactual's verdict from its ratio interval (observed / forecast)."""
    if low is not None and np.isfinite(low) and low > 1:
        return "more activity than the forecast"
    if high is not None and np.isfinite(high) and high < 1:
        return "less activity than the forecast"
    return "inconclusive — the interval includes no change"


def _usable_placebos(placebo: pd.DataFrame) -> pd.DataFrame:
    return placebo[placebo["effect"].notna()] if "effect" in placebo else placebo.iloc[:0]


def placebo_counts(placebo: pd.DataFrame) -> dict[str, int]:
    """``placebo_dates`` checked and ``placebo_alarms`` (intervals excluding zero) among them."""
    usable = _usable_placebos(placebo)
    return {
        "placebo_dates": len(usable),
        "placebo_alarms": int(usable["excludes_zero"].astype(bool).sum()) if len(usable) else 0,
    }


def stacked_sentence(result: LeadsLagsResult) -> str:
    """The clean-control stacked event study in words, ending with its verdict.

    ``result`` is :func:`analysis.event_study.stacked_event_study`'s; the verdict rests
    on the wild-bootstrap p-value of "after minus before" at 5 %.
    """
    sp, spo, spec = result.pre_test, result.post_test, result.spec
    verdict = (
        "activity rose after these events more than on clean series"
        if spo["p_boot"] < 0.05 and spo["estimate"] > 0
        else "no rise after these events beyond what clean series show"
    )
    return (
        f"{spec['n_stacks']} event windows, {spec['n_control_windows']} clean control "
        f"windows, {spec['n_contaminated']} event windows contaminated by another event "
        f"on the same series ({'dropped' if spec['dropped_contaminated'] else 'kept'}). Before "
        f"the event: {sp['estimate']:+.2f} SDs relative to controls (bootstrap p = "
        f"{sp['p_boot']:.3g}); after minus before: {spo['estimate']:+.2f} (bootstrap p = "
        f"{spo['p_boot']:.3g}). **Verdict:** {verdict}."
    )


def granger_sentence(granger: pd.DataFrame, discoveries: pd.DataFrame, alpha: float) -> str:
    """The lead–lag verdict: discoveries per pair and direction, beside what F would claim."""
    from .causality import bh_adjust

    parts = [
        f"{r['discoveries']} of {r['pairs']} pairs where {r['cause'].replace('_', ' ')} "
        f"{'predict' if r['cause'] == 'legal_events' else 'predicts'} "
        f"{r['effect'].replace('_', ' ')}"
        for r in discoveries.to_dict("records")
    ]
    n_f = int((bh_adjust(granger["p_value"]) < alpha).sum())
    return (
        "**Verdict:** " + "; ".join(parts) + f" (false discovery rate {alpha:.0%}). "
        f"By the F test's own p-values, {n_f} tests would look significant — that is what "
        "rare events and trending series do to an F test, not evidence."
    )


def time_to_charge_sentence(panel: pd.DataFrame, cox_fit: ModelResult, horizon_days: int) -> str:
    """Who the time-to-charge panel follows, who it leaves out and why, and the verdict."""
    hr = cox_fit.tidy().iloc[0]
    left_out = "; ".join(f"{md(k)}: {md(v)}" for k, v in panel.attrs["excluded"].items())
    n_events = int(panel["event"].sum())
    verdict = ratio_verdict(
        hr, "hazard_ratio", "a hazard of charge", per="each unit of log activity in the week before"
    )
    return (
        f"{panel['case_id'].nunique()} criminal cases followed from the incident for at most "
        f"{horizon_days} days: {n_events} first arrests or charges, "
        f"{int(panel['competing'].sum())} decisions not to charge (a competing event: each model "
        f"is a cause-specific hazard), {len(panel)} case-weeks "
        f"({panel.attrs['n_dropped_periods']} weeks without observed activity left out). "
        f"Left out: {left_out or 'none'}.\n\n**Verdict:** {verdict} Errors are cluster-robust, "
        f"equal to R's survival. With {n_events} events, treat it as a description, not an "
        "estimate that would survive a new case."
    )
