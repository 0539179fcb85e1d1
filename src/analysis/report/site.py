"""The findings front page of a report folder (``index.html``), rendered by jinja2.

What the study found comes first: the case studies' labels summed (how many legal
events attention preceded, followed, both or neither), by event type and by category,
with the caveat that matters; then every run in a table a reader can filter and sort,
each with a plain-language verdict. Data values are escaped by the template engine.
"""

from __future__ import annotations

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


def findings(records: Sequence[RunRecord]) -> dict[str, Any]:
    """The case studies' labels summed: tiles, a sentence, and bars by type and category."""
    from ..narrative import LABEL_WORDS

    totals = dict.fromkeys(_LABELS, 0)
    by_type: dict[str, dict[str, int]] = {}
    by_category: dict[str, dict[str, int]] = {}
    cases = 0
    for r in records:
        if r.run.notebook != "10_case_study" or not r.ok:
            continue
        labels = r.headlines.get("labels") or {}
        cases += 1
        for label, n in labels.items():
            if label in totals:
                totals[label] += int(n)
                category = str(r.headlines.get("category") or "other").replace("_", " ")
                cat = by_category.setdefault(category, {})
                cat[label] = cat.get(label, 0) + int(n)
        for event_type, counts in (r.headlines.get("labels_by_type") or {}).items():
            row = by_type.setdefault(str(event_type).replace("_", " "), {})
            for label, n in counts.items():
                row[label] = row.get(label, 0) + int(n)
    total = sum(totals.values())
    labelled = total - totals["insufficient data"]
    sentence = (
        f"Of {total} dated events in {cases} cases (legal events, and the incidents that began "
        f"the cases), {labelled} could be labelled: attention "
        f"rose before {totals['preceded'] + totals['both']} of them (preceded or both), "
        f"only on the day or after for {totals['followed']}, and not at all around "
        f"{totals['neither']}. {totals['insufficient data']} had too few observed days."
    )
    groups = [
        {
            "name": name,
            "rows": [
                _bar(k, v) for k, v in sorted(table.items(), key=lambda kv: -sum(kv[1].values()))
            ],
        }
        for name, table in (("event type", by_type), ("category", by_category))
        if table
    ]
    tiles = [{"n": totals[k], "words": f"{k}: {LABEL_WORDS[k]}"} for k in _LABELS]
    return {"total": total, "tiles": tiles, "sentence": sentence, "groups": groups}


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
