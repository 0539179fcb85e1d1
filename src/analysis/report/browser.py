"""Checking the pages in a real browser: headless Chromium at desktop and phone width.

``python -m analysis check-pages --out reports`` opens the index and every report of a
report folder in headless Chromium at 1280 and 414 CSS pixels wide, measures each page
(title, one ``<h1>``, link back, footer with commit and licences, warnings shown, the
widest table, whether the page scrolls sideways, figures without alt text, analysis
sections that do not end with a verdict) and writes a screenshot of each into
``screenshots/`` of that folder for review. The measurements come from a copy of the
page with a small script added before ``</body>``; the copy is removed afterwards.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .._io import atomic_write

__all__ = [
    "DESCRIPTIVE_SECTIONS",
    "WIDTHS",
    "PageCheck",
    "check_folder",
    "find_chromium",
    "measure_page",
]

#: Sections of the reports that describe the data rather than analyse it: they need no
#: "Verdict: … Caveat: …" line (every other section of a report ends with one).
DESCRIPTIVE_SECTIONS: frozenset[str] = frozenset(
    {
        "Cases by country and category",
        "Legal events by type and date precision",
        "Activity series: coverage and gaps",
        "The legal events and their sources",
        "Data sources and licences",
        "Cite this page",
    }
)

#: Desktop and phone widths, in CSS pixels.
WIDTHS: tuple[int, ...] = (1280, 414)

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]

_MEASURE = """<script>
(function () {
  function scrolls(el) {
    for (var p = el.parentElement; p; p = p.parentElement) {
      var o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll") return true;
    }
    return false;
  }
  var tables = Array.prototype.slice.call(document.querySelectorAll("table"));
  var footer = document.querySelector("footer");
  var r = {
    title: document.title,
    back: !!document.querySelector('header a[href$="index.html"]'),
    footer: footer ? footer.innerText : "",
    stderr: Array.prototype.filter.call(document.querySelectorAll(".output_stderr"),
      function (e) { return e.offsetParent !== null; }).length,
    viewport: window.innerWidth,
    page_width: document.documentElement.scrollWidth,
    widest_table: tables.reduce(function (m, t) {
      return Math.max(m, t.getBoundingClientRect().width); }, 0),
    loose_wide_tables: tables.filter(function (t) {
      return t.getBoundingClientRect().right > window.innerWidth + 1 && !scrolls(t); }).length,
    h1: Array.prototype.map.call(document.querySelectorAll("h1"),
      function (h) { return h.textContent.trim(); }),
    images_without_alt: Array.prototype.filter.call(document.querySelectorAll("main img"),
      function (i) { var a = (i.getAttribute("alt") || "").trim();
        return a.length < 12 || a.indexOf("No description") === 0; }).length,
    sections_without_verdict: (function () {
      var main = document.querySelector("main.report");
      if (!main) return [];
      var heads = Array.prototype.slice.call(main.querySelectorAll("h2"));
      var verdicts = Array.prototype.slice.call(main.querySelectorAll(".verdict"));
      return heads.filter(function (h, i) {
        var next = heads[i + 1];
        return !verdicts.some(function (v) {
          return (h.compareDocumentPosition(v) & Node.DOCUMENT_POSITION_FOLLOWING) &&
            (!next || (next.compareDocumentPosition(v) & Node.DOCUMENT_POSITION_PRECEDING));
        });
      }).map(function (h) { return h.textContent.replace("\u00b6", "").trim(); });
    })()
  };
  parent.postMessage(JSON.stringify(r), "*");
})();
</script>"""

# Headless Chromium will not make a window narrower than 500 px: each page is laid out in
# a frame exactly as wide as asked, inside a page that receives the frame's measurements.
_FRAME = """<!DOCTYPE html><html><body style="margin:0">
<iframe src="{src}" style="width:{width}px;height:{height}px;border:0;display:block"></iframe>
<script>
window.addEventListener("message", function (e) {{
  document.documentElement.setAttribute("data-measure", e.data);
}});
</script></body></html>"""


@dataclass(frozen=True)
class PageCheck:
    """One page at one width, as the browser laid it out (lengths in CSS pixels)."""

    page: str
    width: int
    title: str
    back: bool
    footer: str
    stderr: int
    viewport: int
    page_width: int
    widest_table: float
    loose_wide_tables: int
    h1: tuple[str, ...] = ()
    images_without_alt: int = 0
    sections_without_verdict: tuple[str, ...] = ()

    def problems(self) -> list[str]:
        """What a reader would trip over on this page, in words (empty: none)."""
        out = []
        if not self.title or self.title.lower() == "notebook":
            out.append("no real <title>")
        if self.page != "index.html" and not self.back:
            out.append("no link back to the index")
        if "commit" not in self.footer:
            out.append("no commit in the footer")
        if self.page != "index.html" and "licence" not in self.footer:
            out.append("no data sources and licences in the footer")
        if self.stderr:
            out.append(f"{self.stderr} warning output(s) shown to readers")
        if self.page_width > self.viewport:
            out.append(f"the page scrolls sideways ({self.page_width} > {self.viewport} px)")
        # at desktop width no table is wider than the window; on a phone a report's wide
        # table may scroll inside its box, but the index's list of reports must fit
        if (self.width >= 1280 or self.page == "index.html") and (
            self.widest_table > self.viewport
        ):
            out.append(f"a table wider than the window ({self.widest_table:.0f} px)")
        if self.loose_wide_tables:
            out.append(f"{self.loose_wide_tables} table(s) cut off at the window's edge")
        if len(self.h1) != 1:
            out.append(f"{len(self.h1)} top-level headings (<h1>), not one")
        if self.images_without_alt:
            out.append(f"{self.images_without_alt} figure(s) without a description (alt text)")
        missing = [h for h in self.sections_without_verdict if h not in DESCRIPTIVE_SECTIONS]
        if missing:
            out.append("sections without a verdict: " + "; ".join(missing))
        return out


def find_chromium() -> str | None:
    """The Chromium executable, or ``None`` (Debian's ``chromium`` package provides it)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(browser: str, args: list[str], profile: Path) -> str:
    return subprocess.run(
        [browser, *_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


def measure_page(
    page: Path, width: int, browser: str, screenshot: Path | None = None, root: Path | None = None
) -> PageCheck:
    """Lay ``page`` out at ``width`` and measure it; optionally save a screenshot.

    The measuring copy is written beside the page (so its relative links to the
    stylesheet resolve) under a hidden temporary name and removed afterwards.
    """
    page = Path(page).resolve()
    html = page.read_text(encoding="utf-8")
    token = secrets.token_hex(6)
    probe = page.with_name(f".measure-{token}.html")
    frame = page.with_name(f".frame-{token}.html")
    window = f"--window-size={max(width, 500) + 16},{900}"
    with tempfile.TemporaryDirectory() as profile:
        try:
            probe.write_text(html.replace("</body>", _MEASURE + "</body>", 1), encoding="utf-8")
            frame.write_text(_FRAME.format(src=probe.name, width=width, height=900))
            dom = _run(
                browser,
                [window, "--virtual-time-budget=5000", "--dump-dom", frame.as_uri()],
                Path(profile),
            )
            if screenshot is not None:
                frame.write_text(_FRAME.format(src=page.name, width=width, height=1600))
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                shot = screenshot.with_name(f".{screenshot.name}.{token}.tmp.png")
                size = f"--window-size={max(width, 500) + 16},1600"
                _run(browser, [size, f"--screenshot={shot}", frame.as_uri()], Path(profile))
                atomic_write(screenshot, lambda p: shutil.move(str(shot), p))
        finally:
            probe.unlink(missing_ok=True)
            frame.unlink(missing_ok=True)
    match = re.search(r'data-measure="([^"]*)"', dom)
    if match is None:
        raise RuntimeError(f"{page}: the browser did not run the measuring script")
    import html as html_module

    data = json.loads(html_module.unescape(match.group(1)))
    name = page.relative_to(Path(root).resolve()).as_posix() if root else page.name
    return PageCheck(
        page=name,
        width=width,
        title=str(data["title"]),
        back=bool(data["back"]),
        footer=str(data["footer"]),
        stderr=int(data["stderr"]),
        viewport=int(data["viewport"]),
        page_width=int(data["page_width"]),
        widest_table=float(data["widest_table"]),
        loose_wide_tables=int(data["loose_wide_tables"]),
        h1=tuple(str(h) for h in data.get("h1", [])),
        images_without_alt=int(data.get("images_without_alt", 0)),
        sections_without_verdict=tuple(str(h) for h in data.get("sections_without_verdict", [])),
    )


def check_folder(
    out_dir: Path, pages: list[Path] | None = None, screenshots: bool = True
) -> list[PageCheck]:
    """Measure the index and every report of ``out_dir`` at each of :data:`WIDTHS`.

    Screenshots go to ``out_dir/screenshots/<page>-<width>.png``.

    Raises
    ------
    RuntimeError
        When Chromium is not installed.
    """
    browser = find_chromium()
    if browser is None:
        raise RuntimeError("Chromium is not installed (Debian: apt-get install chromium)")
    out_dir = Path(out_dir)
    if pages is None:
        pages = [out_dir / "index.html", *sorted(out_dir.glob("runs/*/report.html"))]
    checks = []
    for page in pages:
        stem = "index" if page.name == "index.html" else page.parent.name
        for width in WIDTHS:
            shot = out_dir / "screenshots" / f"{stem}-{width}.png" if screenshots else None
            checks.append(measure_page(page, width, browser, shot, root=out_dir))
    return checks
