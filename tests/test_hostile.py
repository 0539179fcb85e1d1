"""Hostile data: markup in titles, hashtags and URLs never becomes live HTML in a report."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from analysis.narrative import link, sources_table
from analysis.report import render_html

# notebook kernels, browsers, process pools and kills: `make test`, not `make test-fast`
pytestmark = pytest.mark.slow

MINIMAL = Path(__file__).parent / "data" / "minimal_study"
TITLE = "<script>alert('title')</script><img src=x onerror=alert(1)>"
LABEL = "#Free<b>Ana</b>"
URL = "javascript:alert(document.cookie)"


def test_links_only_for_http():
    assert (
        link("https://example.org/a?b=1&c=2", "x")
        == '<a href="https://example.org/a?b=1&amp;c=2" rel="noopener noreferrer">x</a>'
    )
    assert link(URL, URL) == "javascript:alert(document.cookie)"
    assert "<a" not in link("data:text/html,<script>alert(1)</script>")
    assert "&lt;script&gt;" in link("data:text/html,<script>alert(1)</script>")


def test_a_rendered_case_study_escapes_hostile_values(tmp_path):
    import papermill as pm

    study = tmp_path / "study"
    shutil.copytree(MINIMAL, study)
    cases = pd.read_csv(study / "cases.csv")
    cases.loc[0, "title"] = TITLE
    cases.to_csv(study / "cases.csv", index=False)
    events = pd.read_csv(study / "legal_events.csv")
    events.loc[0, "source_url"] = URL
    events.loc[0, "description"] = "<iframe src=evil>"
    events.to_csv(study / "legal_events.csv", index=False)
    campaigns = pd.read_csv(study / "campaigns.csv")
    campaigns.loc[0, "label"] = LABEL
    campaigns.to_csv(study / "campaigns.csv", index=False)
    out = tmp_path / "case.ipynb"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm.execute_notebook(
            str(Path(__file__).parents[1] / "notebooks" / "10_case_study.ipynb"),
            str(out),
            parameters={
                "case_id": "free_ana",
                "data_dir": str(study),
                "window": 7,
                "n_boot": 199,
                "onset_boot": 0,
                "results_path": str(tmp_path / "r.json"),
            },
            kernel_name="python3",
            progress_bar=False,
            cwd=str(tmp_path),
        )
    html = render_html(out)
    for live in (
        "<script>alert",
        "<img src=x",
        "<iframe src=evil",
        'href="javascript:',
        "<b>Ana</b>",
    ):
        assert live not in html, live
    assert (
        "&lt;script&gt;alert" in html and "javascript:alert(document.cookie)" in html
    )  # shown, as text
    assert "&lt;iframe src=evil&gt;" in html


def test_sources_table_escapes_everything(minimal_dir):
    from analysis.datasets import load_study

    study = load_study(minimal_dir, warn=False)
    events = study.legal_events.copy()
    events.loc[0, "description"] = "<script>x</script>"
    events.loc[0, "source_url"] = URL
    study = type(study)(study.cases, events, study.campaigns, study.activity)
    table = sources_table(study, "free_ana")
    assert "<script>x" not in table and 'href="javascript' not in table
    assert table.count('<a href="https://example.org/') == 2
