"""The public API: `import analysis` lists its entry points, and the API reference is
built from the docstrings (pdoc), every exported name resolved."""

from __future__ import annotations

import importlib
import importlib.util
import runpy
import warnings
from pathlib import Path

import pytest

import analysis

ROOT = Path(__file__).resolve().parents[1]


def test_import_analysis_exposes_the_entry_points_and_nothing_else():
    assert set(dir(analysis)) == {*analysis.__all__, "__version__"}
    assert {"load", "cases", "case_series", "timing_table", "plots"} <= set(analysis.__all__)
    for name in analysis.__all__:
        assert getattr(analysis, name) is not None
    with pytest.raises(AttributeError):
        analysis.np  # noqa: B018 - the helper modules' imports are not the API


def test_every_public_module_declares_all():
    for path in sorted((ROOT / "src" / "analysis").rglob("*.py")):
        if path.name.startswith("_") and path.name != "__init__.py":
            continue
        assert "__all__ = [" in path.read_text() or "__all__ = sorted" in path.read_text(), path


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("pdoc") is None, reason="pdoc is a dev tool")
def test_the_api_reference_builds_from_the_docstrings(tmp_path):
    build = runpy.run_path(str(ROOT / "docs" / "build_api.py"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a name pdoc cannot resolve is a warning
        index = build["main"](tmp_path)
    assert index.is_file()
    page = (tmp_path / "analysis.html").read_text()
    assert "case_series" in page and "timing_table" in page
    missing = []
    for module in analysis._EXPORTS_MODULES:  # every public name is on its module's page
        html = (tmp_path / "analysis" / f"{module}.html").read_text()
        names = importlib.import_module(f"analysis.{module}").__all__
        missing += [f"{module}.{n}" for n in names if f'id="{n}"' not in html]
    assert not missing, missing


def test_the_report_index_links_the_api_reference(tmp_path, monkeypatch):
    """The footer links docs/api/index.html relative to the index when it is built, and
    says how to build it when not."""
    from analysis.report import site

    monkeypatch.setattr(site.config, "PROJ_ROOT", tmp_path)
    out = tmp_path / "reports"
    out.mkdir()
    page = site.write_index([], out, {}).read_text()
    assert "run <code>make docs</code>" in page and "API reference</a>" not in page
    assert (out / "assets" / "site.css").is_file()  # the index's stylesheet beside it
    (tmp_path / "docs" / "api").mkdir(parents=True)
    (tmp_path / "docs" / "api" / "index.html").write_text("<html></html>")
    page = site.write_index([], out, {}).read_text()
    assert 'href="../docs/api/index.html">API reference</a>' in page
