"""The pages readers open: each run's report wrapped in the site's page, and the site's
shared stylesheet.

A run renders its executed notebook once, to an HTML fragment (``content.html.gz``,
gzip-compressed since only the batch reads it: nbconvert's ``basic`` template with
each figure's description as its ``alt`` text, no stylesheet, no script from the web).
Every batch then wraps each fragment in ``templates/page.html.j2`` — the run's title
as ``<title>`` and as the page's one ``<h1>``, a link back to the findings and to the
previous and next report, and a footer with the page's data sources and licences, how
to cite it, and its provenance — and writes
``assets/site.css`` once for all pages. Wrapping is cheap, so the links between pages
always match the current batch, also for reports reused from the cache. Templates are
rendered by jinja2 with autoescaping: every data value (a case title, a label, a URL) is
escaped; only the notebook's own HTML fragment is inserted as markup.
"""

from __future__ import annotations

import functools
import gzip
import html
import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import config
from .._io import atomic_write
from .records import RunRecord

__all__ = [
    "ASSETS",
    "CONTENT_FILE",
    "LEGACY_CONTENT_FILE",
    "page_sources",
    "read_fragment",
    "render_fragment",
    "render_html",
    "templates",
    "with_title",
    "write_assets",
    "write_fragment",
    "write_pages",
]

#: A run's rendered notebook (gzip), before it is wrapped in the page.
CONTENT_FILE = "content.html.gz"
#: Where earlier versions kept it, uncompressed (removed when a run is redone).
LEGACY_CONTENT_FILE = "content.html"
#: Folder of the shared stylesheet, inside the report folder.
ASSETS = "assets"
_TEMPLATES = Path(__file__).parent / "templates"


@functools.cache
def templates() -> Any:
    """The jinja2 environment of the site's templates (autoescaping on)."""
    import jinja2

    # Compiled templates are kept in the project's cache (compiling them was 0.06 s of
    # a 0.9 s batch with nothing to rerun); jinja2 keys them on the template's source.
    cache = config.CACHE_DIR / "jinja2"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        bytecode: Any = jinja2.FileSystemBytecodeCache(str(cache))
    except OSError:  # a read-only checkout: compile each time
        bytecode = None
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        bytecode_cache=bytecode,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


@functools.cache
def _exporter(show_code: bool) -> Any:
    """One nbconvert exporter per worker process (loading its templates is slow)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="pp_report", extra_template_basedirs=[str(_TEMPLATES / "nbconvert")]
    )
    exporter.exclude_input = not show_code
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.embed_images = True
    return exporter


def render_fragment(notebook_path: Path, show_code: bool = False) -> tuple[str, str]:
    """The executed notebook as an HTML fragment, and the text it wrote to stderr.

    Warnings and other stderr output are taken out of the page (readers need not see
    library chatter) and returned, for the run's ``kernel.log`` (developers do); the
    notebook file itself keeps them. Scripts and stylesheets from the web are dropped
    so pages read offline.
    """
    import nbformat

    book = nbformat.read(notebook_path, as_version=4)
    stderr = []
    for cell in book.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                stderr.append(str(out.get("text", "")))
            else:
                kept.append(out)
        cell["outputs"] = kept
    body, _ = _exporter(show_code).from_notebook_node(book)
    body = re.sub(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", "", body)
    body = re.sub(r"<link[^>]*\bhref=\"https?://[^\"]*\"[^>]*>", "", body)
    body = re.sub(
        r"<script[^>]*>(?:(?!</script>).)*?(?:https?://|MathJax)(?:(?!</script>).)*</script>",
        "",
        body,
        flags=re.S,
    )
    return body, "".join(stderr)


def write_fragment(path: Path, fragment: str) -> None:
    """Write a run's fragment compressed (atomically; the same bytes for the same text)."""
    data = gzip.compress(fragment.encode("utf-8"), mtime=0)
    atomic_write(path, lambda p: p.write_bytes(data))


def read_fragment(path: Path) -> str:
    """A fragment written by :func:`write_fragment`."""
    return gzip.decompress(Path(path).read_bytes()).decode("utf-8")


_H1 = re.compile(r"<h1\b[^>]*>.*?</h1>", re.S)


def with_title(fragment: str, title: str) -> str:
    """The fragment with ``title`` (escaped) as its one ``<h1>``: it replaces the
    notebook's first top-level heading, or comes first when there is none."""
    heading = f'<h1 class="page-title">{html.escape(title)}</h1>'
    if _H1.search(fragment):
        return _H1.sub(lambda _: heading, fragment, count=1)
    return heading + "\n" + fragment


def render_html(notebook_path: Path, show_code: bool = False) -> str:
    """The executed notebook's HTML fragment (see :func:`render_fragment`)."""
    return render_fragment(notebook_path, show_code)[0]


def _safe_url(value: object) -> str:
    """A web address to link, or ``""``: only http(s) becomes a link."""
    text = str(value or "").strip()
    return text if re.match(r"^https?://[^\s\"'<>]+$", text) else ""


def page_sources(record: RunRecord) -> list[dict[str, str]]:
    """The data sources a run recorded (its notebook's ``sources`` headline), cleaned."""
    out = []
    for s in record.headlines.get("sources") or []:
        if isinstance(s, dict):
            out.append(
                {
                    "campaign_id": str(s.get("campaign_id") or ""),
                    "label": str(s.get("label") or s.get("campaign_id") or "a series"),
                    "source": str(s.get("source") or "source not recorded"),
                    "license": str(s.get("license") or "not stated"),
                    "url": _safe_url(s.get("source_url")),
                }
            )
    return out


def _cite(record: RunRecord, provenance: dict[str, Any]) -> str:
    day = (record.finished or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))[:10]
    commit = str(provenance.get("git_commit") or "unknown")[:12]
    version = provenance.get("package_version", "?")
    return (
        f"Pressure & Precedent (version {version}, commit {commit}), “{record.run.title}”, "
        f"report {record.run_id}, generated {day}."
    )


def _write_if_changed(path: Path, text: str) -> None:
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_assets(out_dir: Path) -> None:
    """Write the shared stylesheet ``assets/site.css`` (only when it changed)."""
    _write_if_changed(
        Path(out_dir) / ASSETS / "site.css", (_TEMPLATES / "site.css").read_text(encoding="utf-8")
    )


def write_pages(records: Sequence[RunRecord], out_dir: Path, provenance: dict[str, Any]) -> int:
    """Wrap each run's fragment in the page and write the shared stylesheet.

    Returns the number of pages written. A run without a fragment (it failed before
    rendering, or an older batch wrote it) gets no page; its folder is left as it is.
    """
    from markupsafe import Markup

    out_dir = Path(out_dir)
    write_assets(out_dir)
    with_pages = [r for r in records if (r.run.folder(out_dir) / CONTENT_FILE).is_file()]
    page = templates().get_template("page.html.j2")
    for i, record in enumerate(with_pages):
        folder = record.run.folder(out_dir)
        nav = {
            "prev": _nav(with_pages[i - 1]) if i > 0 else None,
            "next": _nav(with_pages[i + 1]) if i + 1 < len(with_pages) else None,
        }
        prov = {**provenance, **record.provenance}
        html = page.render(
            title=record.run.title,
            root="../../",
            content=Markup(with_title(read_fragment(folder / CONTENT_FILE), record.run.title)),
            sources=page_sources(record),
            cite=_cite(record, prov),
            finished=record.finished or "?",
            commit=str(prov.get("git_commit") or "?"),
            data_hash=str(prov.get("data_hash") or "?"),
            version=str(prov.get("package_version") or "?"),
            params=json.dumps(record.run.parameters, ensure_ascii=False, default=str),
            **nav,
        )
        _write_if_changed(folder / "report.html", html)
    return len(with_pages)


def _nav(record: RunRecord) -> dict[str, str]:
    return {"href": f"../{record.run_id}/report.html", "title": record.run.title}
