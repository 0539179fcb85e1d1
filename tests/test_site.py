"""The readers' site in a real browser: the index and one page of each notebook, on the
bundled data, laid out by headless Chromium at desktop and phone width."""

from __future__ import annotations

import json

import pytest

from analysis.cli import main
from analysis.report.browser import WIDTHS, check_folder, find_chromium

# notebook kernels and a browser: `make test`, not `make test-fast`
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(processed_dir, raw_dir, tmp_path_factory):
    """A report folder with one run of each notebook on the bundled data."""
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium)")
    tmp = tmp_path_factory.mktemp("site")
    reference = raw_dir / "reference" / "kelley_simmons_2015"
    runs = {
        "runs": [
            {"notebook": "00_data_overview", "title": "What is in the data"},
            {
                "notebook": "10_case_study",
                "title": "Case study: Murder of George Floyd",
                "parameters": {"case_id": "george_floyd", "n_boot": 19, "onset_boot": 19},
            },
            {
                "notebook": "20_event_study",
                "title": "Event study: charge",
                "parameters": {"event_type": "charge", "n_boot": 99, "n_draws": 99},
            },
            {"notebook": "30_lead_lag", "title": "Lead and lag", "parameters": {"n_shifts": 99}},
            {"notebook": "40_outcomes", "title": "Outcomes"},
            {
                "notebook": "41_kelley_simmons_replication",
                "title": "Replication of Kelley & Simmons (2015)",
                "parameters": {"reference_dir": str(reference)},
            },
        ]
    }
    runs_file = tmp / "runs.yaml"
    runs_file.write_text(json.dumps(runs))  # JSON is YAML
    out = tmp / "reports"
    argv = ["report", "--data", str(processed_dir), "--runs", str(runs_file), "--out", str(out)]
    assert main([*argv, "--quiet"]) == 0
    return out, runs["runs"]


@pytest.fixture(scope="module")
def site_checks(site):
    """Every page of the site laid out and measured once (screenshots written)."""
    return check_folder(site[0])


def test_every_page_reads_well_at_desktop_and_phone_width(site, site_checks):
    out, runs = site
    checks = site_checks
    pages = {c.page for c in checks}
    assert len(pages) == 1 + len(runs)  # the index and one page per notebook
    assert all(c.viewport in WIDTHS for c in checks)  # each laid out at the width asked
    for c in checks:
        assert c.problems() == [], (c.page, c.width, c.problems())
        assert c.stderr == 0 and c.page_width <= c.width
    titles = {c.title for c in checks}
    for run in runs:
        assert f"{run['title']} — Pressure & Precedent" in titles
    floyd = next(c for c in checks if "10_case_study" in c.page)
    assert "GPL-3.0" in floyd.footer and "commit" in floyd.footer  # BLM data: its licence
    ks = next(c for c in checks if "41_kelley" in c.page)
    assert "Kelley" in ks.footer and "MIT" in ks.footer
    shots = sorted(p.name for p in (out / "screenshots").iterdir())
    assert len(shots) == len(checks) and all(s.endswith(".png") for s in shots)


def test_the_front_page_leads_with_the_findings(site):
    out, _runs = site
    page = (out / "index.html").read_text()
    assert page.index("Across the case studies") < page.index("All reports")
    assert "Timing is not proof of cause" in page
    for kind in ("Case study", "Event study", "Lead and lag", "Outcomes", "Replication"):
        assert f"<td>{kind}</td>" in page
    assert "See the report" not in page  # every run has a verdict in words
    assert (out / "assets" / "site.css").is_file()
    (folder,) = (out / "runs").glob("10_case_study--george_floyd*")
    floyd = (folder / "report.html").read_text()
    assert 'href="../../index.html"' in floyd and 'rel="next"' in floyd and 'rel="prev"' in floyd
    assert "jp-" not in floyd  # no embedded JupyterLab stylesheet


def test_check_pages_refuses_a_folder_the_project_did_not_write(tmp_path, capsys):
    """It writes screenshots and short-lived page copies: only into its own report folders."""
    (tmp_path / "index.html").write_text("<html><title>mine</title></html>")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["check-pages", "--out", str(tmp_path)]) == 2
    assert "not a report folder this project wrote" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_every_analysis_section_ends_with_a_verdict_and_every_figure_is_described(
    site, site_checks
):
    out, _runs = site
    checks = [c for c in site_checks if c.width == 1280]
    for c in checks:
        assert len(c.h1) == 1 and c.images_without_alt == 0, c
    by_page = {c.page: c for c in checks}
    floyd = next(c for p, c in by_page.items() if "10_case_study" in p)
    assert floyd.h1 == ("Case study: Murder of George Floyd",)  # the run's title, once
    # the case study's three analysis sections each end with Verdict: ... Caveat: ...
    page = (out / floyd.page).read_text()
    assert page.count('<p class="verdict">') >= 3
    assert floyd.sections_without_verdict == ("The legal events and their sources",)


def test_the_reports_table_filters_to_a_no_match_row_and_sorts_numbers_as_numbers(site, tmp_path):
    """In Chromium: a filter that matches nothing shows one 'No report matches' row, and
    sorting by time puts 9.5 s before 10.2 s (numbers, not text)."""
    import re

    from analysis.report.browser import _run

    out, _ = site
    page = (out / "index.html").read_text()
    probe = out / ".probe-table.html"
    script = """<script>
    var q = document.getElementById("q");
    q.value = "no report has this text"; q.dispatchEvent(new Event("input"));
    var empty = document.querySelector("tr.empty");
    var a = empty.hidden ? "hidden" : "shown";
    q.value = ""; q.dispatchEvent(new Event("input"));
    var b = empty.hidden ? "hidden" : "shown";
    document.querySelector('button[data-col="4"]').click();
    var times = Array.prototype.map.call(document.querySelectorAll("#runs tbody tr"),
      function (r) { return r.cells.length > 4 ? r.cells[4].dataset.sort : "end"; });
    document.body.setAttribute("data-result", [a, b].concat(times).join(","));
    </script></body>"""
    probe.write_text(page.replace("</body>", script, 1))
    try:
        dom = _run(find_chromium(), ["--dump-dom", probe.as_uri()], tmp_path / "profile")
    finally:
        probe.unlink()
    result = re.search(r'data-result="([^"]*)"', dom).group(1).split(",")
    assert result[:2] == ["shown", "hidden"]
    times = result[2:]
    assert times[-1] == "end"  # the no-match row stays last
    numbers = [float(t) for t in times[:-1]]
    assert numbers == sorted(numbers) and len(numbers) == 6
