"""The index page of a report folder (data values escaped)."""

from __future__ import annotations

import html
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import config
from .._io import (
    atomic_write,
)
from .records import RunRecord

__all__ = [
    "INDEX_TITLE",
    "write_index",
]

INDEX_TITLE = "<title>Pressure &amp; Precedent — reports</title>"


_CSS = "\n".join(
    [
        "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;",
        "  margin:2rem;color:#222;",
        "  max-width:90rem}",
        "h1{font-size:1.6rem;margin-bottom:.2rem} p.lead{color:#555;margin-top:0}",
        "table{border-collapse:collapse;width:100%;font-size:.9rem}",
        "th,td{border-bottom:1px solid #ddd;padding:.4rem .5rem;",
        "  text-align:left;vertical-align:top}",
        "th{background:#f4f4f4;position:sticky;top:0}",
        ".ok{color:#1b7837;font-weight:600} .failed{color:#b2182b;font-weight:600}",
        ".cached{color:#555}",
        "code{font-size:.8rem;background:#f6f6f6;padding:0 .2rem;border-radius:3px}",
        "ul.h{margin:0;padding-left:1rem} .err{color:#b2182b;font-size:.8rem}",
        "footer{margin-top:2rem;color:#666;font-size:.8rem}",
    ]
)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _headline_items(headlines: dict[str, Any], limit: int = 6) -> str:
    items = []
    for k, v in list(headlines.items())[:limit]:
        if v is None:
            v = "—"
        elif isinstance(v, float):
            v = f"{v:,.4g}"
        elif isinstance(v, dict):
            v = ", ".join(f"{a}: {b}" for a, b in v.items())
        items.append(f"<li>{_e(k)}: {_e(v)}</li>")
    return f"<ul class='h'>{''.join(items)}</ul>" if items else ""


def _api_link(out_dir: Path) -> str:
    """A link to the API reference (``make docs``) relative to the index, or how to build it."""
    api = config.PROJ_ROOT / "docs" / "api" / "index.html"
    if not api.is_file():
        return "API reference of the package: run <code>make docs</code>."
    href = Path(os.path.relpath(api, Path(out_dir).resolve())).as_posix()
    return f'<a href="{_e(href)}">API reference</a> of the package (<code>make docs</code>).'


def write_index(records: Sequence[RunRecord], out_dir: Path, provenance: dict[str, Any]) -> Path:
    """Write ``index.html`` (atomically): one row per run, every data value escaped."""
    rows = []
    for r in records:
        run = r.run
        link = f"runs/{run.run_id}/report.html"
        has_page = (Path(out_dir) / link).is_file()
        title = f"<a href='{_e(link)}'>{_e(run.title)}</a>" if has_page else _e(run.title)
        state = "cached" if r.cached else r.status
        css = "failed" if not r.ok else ("cached" if r.cached else "ok")
        status = f"<span class='{css}'>{_e(state)}</span>"
        if not r.ok:
            status += f"<div class='err'>{_e(r.error)}</div>"
        params = ", ".join(f"{k}={v}" for k, v in run.parameters.items()) or "—"
        prov = r.provenance
        prov_text = (
            f"commit {prov.get('git_commit', '?')} · v{prov.get('package_version', '?')} · "
            f"data {prov.get('data_hash', '?')}"
        )
        rows.append(
            "<tr>"
            f"<td>{title}<div><code>{_e(run.notebook)}</code></div></td>"
            f"<td>{_e(params)}</td><td>{status}</td>"
            f"<td>{_headline_items(r.headlines)}</td>"
            f"<td>{r.duration_s:.1f} s</td>"
            f"<td><code>{_e(prov_text)}</code>"
            f"<div><code>{_e(r.finished)}</code></div></td>"
            "</tr>"
        )
    n_ok = sum(r.ok for r in records)
    generated = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    head = (
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{INDEX_TITLE}<style>{_CSS}</style></head>"
    )
    footer = (
        f"<footer>Generated {_e(generated)} · commit {_e(provenance.get('git_commit'))} · "
        f"package {_e(provenance.get('package_version'))} · "
        f"data hash {_e(provenance.get('data_hash'))} · "
        f"code hash {_e(provenance.get('code_hash'))}. Timing is not proof of cause. "
        f"{_api_link(Path(out_dir))}</footer>"
    )
    header_cells = "".join(
        f"<th>{h}</th>"
        for h in ("Report", "Parameters", "Status", "Headline numbers", "Duration", "Provenance")
    )
    page = f"""<!DOCTYPE html>
{head}
<body>
<h1>Pressure &amp; Precedent — reports</h1>
<p class="lead">Did online pressure come before a legal change, or after it?
{n_ok} of {len(records)} runs succeeded. Each row links to its report; numbers are the run's
headline results.</p>
<table>
<thead><tr>{header_cells}</tr></thead>
<tbody>
{"".join(rows)}
</tbody></table>
{footer}
</body></html>
"""
    return atomic_write(
        Path(out_dir) / "index.html", lambda p: p.write_text(page, encoding="utf-8")
    )
