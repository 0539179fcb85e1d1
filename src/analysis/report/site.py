"""The findings front page of a report folder (``index.html``), rendered by jinja2.

What the study found comes first: the case studies' labels summed (how many legal
events attention preceded, followed, both or neither), by event type and by category,
with the caveat that matters; then every run in a table a reader can filter and sort,
each with a plain-language verdict. Data values are escaped by the template engine.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import config
from .._io import atomic_write
from .pages import templates, write_assets
from .records import RunRecord

__all__ = [
    "INDEX_TITLE",
    "KINDS",
    "write_index",
]

#: The index page's title (also how an unmarked, older report folder is recognised).
INDEX_TITLE = "<title>Pressure &amp; Precedent — reports</title>"

#: What each notebook is, in the reports table.
KINDS: dict[str, str] = {
    "00_data_overview": "Data",
    "01_explore": "Exploration",
    "10_case_study": "Case study",
    "20_event_study": "Event study",
    "30_lead_lag": "Lead and lag",
    "40_outcomes": "Outcomes",
    "41_kelley_simmons_replication": "Replication",
}

_LABELS = ("preceded", "followed", "both", "neither", "insufficient data")
_CSS_KEY = {"insufficient data": "insufficient"}


def _api_href(out_dir: Path) -> str:
    """The API reference (``make docs``) relative to the index, or ``""`` when not built."""
    api = config.PROJ_ROOT / "docs" / "api" / "index.html"
    if not api.is_file():
        return ""
    return Path(os.path.relpath(api, Path(out_dir).resolve())).as_posix()


def _bar(name: str, counts: dict[str, int]) -> dict[str, Any]:
    total = sum(counts.values())
    segments = [
        {"key": _CSS_KEY.get(k, k), "pct": round(100 * counts.get(k, 0) / total, 2)}
        for k in _LABELS
        if counts.get(k)
    ]
    title = ", ".join(f"{counts[k]} {k}" for k in _LABELS if counts.get(k))
    return {"name": name, "n": total, "segments": segments, "title": title}


def _add(into: dict[str, int], counts: dict[str, Any]) -> None:
    for label, n in (counts or {}).items():
        into[str(label)] = into.get(str(label), 0) + int(n)


def findings(records: Sequence[RunRecord]) -> dict[str, Any]:
    """The case studies' labels of legal events summed: tiles, sentences with the caveat
    measured (labels on shared series, clean "preceded" labels), and bars by event type
    and by category. Incidents are counted apart (they are never "preceded" by rule)."""
    from ..narrative import LABEL_WORDS

    parts: dict[str, dict[str, int]] = {k: {} for k in ("legal", "incident", "shared", "clean")}
    by_type: dict[str, dict[str, int]] = {}
    by_category: dict[str, dict[str, int]] = {}
    cases = 0
    for r in records:
        if r.run.notebook != "10_case_study" or not r.ok:
            continue
        cases += 1
        split = r.headlines.get("breakdown") or {"legal": r.headlines.get("labels") or {}}
        for key in parts:
            _add(parts[key], split.get(key) or {})
        category = str(r.headlines.get("category") or "other").replace("_", " ")
        _add(by_category.setdefault(category, {}), split.get("legal") or {})
        for event_type, counts in (r.headlines.get("labels_by_type") or {}).items():
            if event_type != "incident":
                _add(by_type.setdefault(str(event_type).replace("_", " "), {}), counts)
    totals = {k: parts["legal"].get(k, 0) for k in _LABELS}
    total = sum(totals.values())
    labelled = total - totals["insufficient data"]
    before = totals["preceded"] + totals["both"]
    clean = parts["clean"].get("preceded", 0) + parts["clean"].get("both", 0)
    shared = sum(v for k, v in parts["shared"].items() if k != "insufficient data")
    incidents = sum(parts["incident"].values())
    sentences = [
        f"Of {total} legal events in {cases} cases, {labelled} could be labelled: attention "
        f"rose before {before} of them (preceded or both), only on the day or after for "
        f"{totals['followed']}, and not at all around {totals['neither']}; "
        f"{totals['insufficient data']} had too few observed days.",
        f"The caveat, measured: {shared} of the {labelled} labels rest on a movement series "
        "that other cases share, whose waves may be another case's; only "
        f"{clean} of the {before} rises before an event have no other case's event in their "
        "windows and hold under other reasonable rules.",
    ]
    held = _held(records)
    if held:
        sentences.append(held)
    bottom = _bottom_line(records, totals, labelled, before, clean)
    scope = _scope(records, cases, by_category)
    if scope:
        sentences.append(scope)
    if incidents:
        sentences.append(
            f"The {incidents} incidents that began the cases (a killing, an arrest) are not "
            "counted here: by rule they are never 'preceded'."
        )
    groups = [
        {
            "name": name,
            "rows": [
                _bar(k, v)
                for k, v in sorted(table.items(), key=lambda kv: -sum(kv[1].values()))
                if sum(v.values())
            ],
        }
        for name, table in (("event type", by_type), ("category", by_category))
        if table
    ]
    tiles = [{"n": totals[k], "words": f"{k}: {LABEL_WORDS[k]}"} for k in _LABELS]
    return {
        "total": total,
        "bottom_line": bottom,
        "tiles": tiles,
        "sentences": sentences,
        "groups": groups,
    }


def _day(iso: str) -> str:
    try:
        return datetime.date.fromisoformat(str(iso)).strftime("%-d %B %Y")
    except ValueError:
        return str(iso)


def _held(records: Sequence[RunRecord], most: int = 12) -> str:
    """The rises before an event that hold (``held_rises`` of each case study), named
    with their case, so a reader can check them one by one."""
    named = [
        (str(rise.get("date", "")), str(r.headlines.get("title") or r.run.title), rise)
        for r in records
        if r.run.notebook == "10_case_study" and r.ok
        for rise in (r.headlines.get("held_rises") or [])
        if isinstance(rise, dict)
    ]
    if not named:
        return ""
    named.sort(key=lambda t: t[0])
    items = [f"{title}: {rise.get('event', 'event')} on {_day(day)}" for day, title, rise in named]
    more = len(items) - most
    text = "; ".join(items[:most]) + (f"; and {more} more" if more > 0 else "")
    which = "The rise that holds" if len(named) == 1 else f"The {len(named)} rises that hold"
    return f"{which}: {text}."


def _bottom_line(
    records: Sequence[RunRecord], totals: dict[str, int], labelled: int, before: int, clean: int
) -> str:
    """The one paragraph a reader quotes: what the labels add up to, how far the rises
    before events hold, and what kind of attention the data measure."""
    if not labelled:
        return ""
    after = totals["followed"]
    if before > 1.5 * after:
        compare = f"more often before the event ({before}) than only after it ({after})"
    elif after > 1.5 * before:
        compare = f"more often only after the event ({after}) than before it ({before})"
    else:
        compare = f"about as often before the event ({before}) as only after it ({after})"
    text = (
        f"Around most legal events ({totals['neither']} of the {labelled} that could be "
        f"labelled) online attention did not rise measurably. Where it rose, it rose {compare}, "
        f"and only {clean} of the {before} rises before an event hold once other cases' news "
        "and other reasonable rules are taken into account. This data cannot show that "
        "online pressure moved a court or a government."
    )
    overview = next((r for r in records if r.run.notebook == "00_data_overview" and r.ok), None)
    platforms = (overview.headlines.get("platforms") if overview else None) or {}
    if isinstance(platforms, dict) and platforms:
        n = sum(int(v) for v in platforms.values())
        if len(platforms) == 1:
            (name,) = platforms
            text += (
                f" All {n} activity series are {str(name).capitalize()} posts: page views, "
                "search interest and news attention are not in this batch."
            )
        else:
            names = ", ".join(str(k).capitalize() for k in sorted(platforms))
            text += f" The {n} activity series come from {names}."
    return text


def _scope(records: Sequence[RunRecord], cases: int, by_category: dict[str, dict[str, int]]) -> str:
    """Which cases the counts cover: how many of the study's cases, and of which kind."""
    overview = next((r for r in records if r.run.notebook == "00_data_overview" and r.ok), None)
    in_study = (overview.headlines.get("cases") if overview else None) or cases
    counts: dict[str, int] = {}
    for r in records:
        if r.run.notebook == "10_case_study" and r.ok:
            name = str(r.headlines.get("category") or "other").replace("_", " ")
            counts[name] = counts.get(name, 0) + 1
    if not counts:
        return ""
    top, n_top = max(counts.items(), key=lambda kv: kv[1])
    left = int(in_study) - cases
    text = f"Scope: these counts cover {cases} of the study's {in_study} cases"
    text += f", {n_top} of them {top}" if n_top < cases else f", all {top}"
    if left > 0:
        titles = (overview.headlines.get("case_titles") if overview else None) or {}
        covered = {
            str(r.headlines.get("case_id") or r.run.parameters.get("case_id"))
            for r in records
            if r.run.notebook == "10_case_study" and r.ok
        }
        names = (
            sorted(str(t) for c, t in titles.items() if c not in covered)
            if isinstance(titles, dict)
            else []
        )
        text += (
            f"; the other {left} have no activity series observed around a dated legal "
            "event, so nothing can be said of them here"
        )
        if names and len(names) == left:
            text += f" ({'; '.join(names)})"
    return text + "."


def _verdict(r: RunRecord) -> str:
    if not r.ok:
        return "No finding: the run failed."
    from ..narrative import run_verdict

    return run_verdict(r.run.notebook, r.headlines)


def write_index(records: Sequence[RunRecord], out_dir: Path, provenance: dict[str, Any]) -> Path:
    """Write ``index.html`` (atomically): the findings, then every run in a table."""
    out_dir = Path(out_dir)
    rows = []
    for r in records:
        href = f"runs/{r.run_id}/report.html"
        rows.append(
            {
                "verdict": _verdict(r),
                "title": r.run.title,
                "href": href if (out_dir / href).is_file() else "",
                "kind": KINDS.get(r.run.notebook, r.run.notebook),
                "state": "reused" if r.cached else ("done" if r.ok else "failed"),
                "css": "failed" if not r.ok else ("cached" if r.cached else "ok"),
                "error": "" if r.ok else r.error,
                "duration": float(r.duration_s),
            }
        )
    page = (
        templates()
        .get_template("index.html.j2")
        .render(
            findings=findings(records),
            legend=[(_CSS_KEY.get(k, k), k) for k in _LABELS],
            n_case_studies=sum(r.run.notebook == "10_case_study" for r in records),
            rows=rows,
            kinds=sorted({row["kind"] for row in rows}),
            n_ok=sum(r.ok for r in records),
            n_cached=sum(r.cached for r in records),
            generated=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            commit=str(provenance.get("git_commit") or "?"),
            version=str(provenance.get("package_version") or "?"),
            data_hash=str(provenance.get("data_hash") or "?"),
            code_hash=str(provenance.get("code_hash") or "?"),
            api=_api_href(out_dir),
        )
    )
    write_assets(out_dir)
    return atomic_write(out_dir / "index.html", lambda p: p.write_text(page, encoding="utf-8"))
