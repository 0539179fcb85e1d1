"""The batch fingerprint: an unchanged rerun is recognised, and any change is noticed.

These tests build a report folder by hand (no kernels); tests/test_report.py runs the
command end to end.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from analysis import _io, config
from analysis.report import fingerprint as fpm
from analysis.report.fingerprint import (
    FINGERPRINT_KEY,
    batch_files,
    forget,
    remember,
    settings,
    sources,
    unchanged,
)

MINIMAL_STUDY = Path(__file__).parent / "data" / "minimal_study"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A report folder as a complete batch leaves it, with its fingerprint."""
    root = tmp_path / "project"
    nbs = root / "notebooks"
    nbs.mkdir(parents=True)
    monkeypatch.setattr(config, "PROJ_ROOT", root)
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", nbs)
    (nbs / "reports.yaml").write_text("runs:\n  - notebook: a\n")
    (nbs / "a.ipynb").write_text('{"cells": []}')
    extra = root / "input.csv"
    extra.write_text("x\n1\n")
    data = tmp_path / "data"
    shutil.copytree(MINIMAL_STUDY, data)
    manifest = tmp_path / "sources.toml"
    manifest.write_text("# manifest\n")
    monkeypatch.setattr(config, "MANIFEST_FILE", manifest)
    out = tmp_path / "reports"
    _io.claim_folder(out, "reports", what="--out", runs_file="notebooks/reports.yaml")
    paths = {"nbs": nbs, "data": data, "out": out, "extra": extra, "manifest": manifest}
    paths["root"] = root
    assert _batch(paths)
    return paths


def _batch(p: dict[str, Path], files: list[Path] | None = None, during=None) -> bool:
    """What run_batch does around its runs: claim, write the reports, remember."""
    token = forget(p["out"])
    runs_file = p["nbs"] / "reports.yaml"
    listed = batch_files(runs_file, ["a"], files or [p["nbs"] / "a.ipynb", p["extra"]])
    src = sources(listed, p["data"])
    (p["out"] / "runs" / "a").mkdir(parents=True, exist_ok=True)
    (p["out"] / "runs" / "a" / "report.html").write_text("<p>report</p>")
    (p["out"] / "index.html").write_text("<p>index</p>")
    if during:
        during()
    the_settings = settings(
        runs_file=runs_file,
        notebooks_dir=p["nbs"],
        data_dir=p["data"],
        out_dir=p["out"],
        show_code=False,
        kernel="python3",
    )
    return remember(p["out"], token, the_settings, src, 1)


def _check(p: dict[str, Path], **kw: object) -> int | None:
    args: dict[str, object] = {
        "runs_file": p["nbs"] / "reports.yaml",
        "notebooks_dir": p["nbs"],
        "data_dir": p["data"],
    }
    return unchanged(p["out"], **{**args, **kw})  # type: ignore[arg-type]


def test_an_untouched_folder_is_recognised(folder):
    assert _check(folder) == 1
    assert _check(folder) == 1  # checking changes nothing


def test_the_marker_keeps_what_it_said_and_forgetting_removes_only_the_fingerprint(folder):
    marker = _io.read_marker(folder["out"])
    assert marker["runs_file"] == "notebooks/reports.yaml" and FINGERPRINT_KEY in marker
    forget(folder["out"])
    marker = _io.read_marker(folder["out"])
    assert FINGERPRINT_KEY not in marker and marker["runs_file"] == "notebooks/reports.yaml"
    assert marker["kind"] == "reports"
    assert _check(folder) is None


@pytest.mark.parametrize(
    "change",
    [
        "runs_file",
        "notebook",
        "input",
        "input_deleted",
        "study",
        "study_new_file",
        "manifest",
        "template",
        "code",
        "commit",
    ],
)
def test_any_input_that_changed_is_noticed(folder, monkeypatch, change):
    if change == "runs_file":
        (folder["nbs"] / "reports.yaml").write_text("runs:\n  - notebook: a\n  - notebook: a\n")
    elif change == "notebook":
        (folder["nbs"] / "a.ipynb").write_text('{"cells": [] }')
    elif change == "input":
        folder["extra"].write_text("x\n2\n")
    elif change == "input_deleted":
        folder["extra"].unlink()
    elif change == "study":
        cases = folder["data"] / "cases.csv"
        cases.write_text(cases.read_text().replace("(fictional example)", "(edited)"))
    elif change == "study_new_file":
        (folder["data"] / "extra_table.csv").write_text("a\n1\n")
    elif change == "manifest":
        folder["manifest"].write_text("# another manifest\n")
    elif change == "template":
        monkeypatch.setattr(fpm, "_TEMPLATES", folder["nbs"])  # other templates
    elif change == "code":
        monkeypatch.setattr(fpm, "code_hash", lambda: "0" * 64)
    elif change == "commit":
        monkeypatch.setattr(fpm, "git_commit", lambda: "abcdef123456")
    assert _check(folder) is None


@pytest.mark.parametrize(
    "setting",
    [
        {"show_code": True},
        {"kernel": "other"},
        {"notebooks_dir": Path("/elsewhere")},
    ],
)
def test_other_settings_are_another_batch(folder, setting):
    assert _check(folder, **setting) is None


def test_the_same_study_in_another_folder_is_another_batch(folder, tmp_path):
    other = tmp_path / "data_copy"
    shutil.copytree(folder["data"], other)
    assert _check(folder, data_dir=other) is None


@pytest.mark.parametrize("change", ["edited", "restored_mtime", "deleted", "added", "dir", "temp"])
def test_any_report_file_touched_since_is_noticed(folder, change):
    out = folder["out"]
    page = out / "runs" / "a" / "report.html"
    if change == "edited":
        page.write_text("<p>REPORT</p>")  # same size
    elif change == "restored_mtime":
        st = page.stat()
        page.write_text("<p>REPORT</p>")
        os.utime(page, ns=(st.st_atime_ns, st.st_mtime_ns))  # size and mtime as before
    elif change == "deleted":
        page.unlink()
    elif change == "added":
        (out / "runs" / "a" / "notes.txt").write_text("mine")
    elif change == "dir":
        (out / "runs" / "b").mkdir()
    elif change == "temp":  # what a killed batch leaves (the ordinary path removes it)
        (out / ".index.html.x1y2.tmp").write_text("half")
    assert _check(folder) is None


def test_a_copied_report_folder_is_not_the_same_batch(folder, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(folder["out"], copy)
    assert (
        unchanged(
            copy,
            runs_file=folder["nbs"] / "reports.yaml",
            notebooks_dir=folder["nbs"],
            data_dir=folder["data"],
        )
        is None
    )


@pytest.mark.parametrize(
    "marker",
    [
        None,  # no marker
        '{"kind": "reports", "written_by": "pressure-precedent"}',  # no fingerprint
        '{"kind": "reports", "written_by": "pressure-precedent", "unchanged_batch": [1]}',
        '{"kind": "reports", "written_by": "pressure-precedent", "unchanged_batch": '
        '{"version": 2}}',  # another shape: missing entries
        '{"kind": "reports", "written_by": "pressure-precedent", "unchanged_batch": '
        '{"version": 2, "settings": 5, "sources": {"files": 5}, "outputs": 5, "runs": 1}}',
        '{"kind": "reports", "written_by": "pressure-precedent", "unchanged_batch": '
        '{"version": 2, "settings": 5, "sources": 5, "outputs": 5, "runs": 1}}',
        '{"kind": "study", "written_by": "pressure-precedent", "unchanged_batch": {}}',
        "not json",
    ],
)
def test_a_missing_or_damaged_fingerprint_means_the_ordinary_path(folder, marker):
    path = folder["out"] / _io.MARKER
    if marker is None:
        path.unlink()
    else:
        path.write_text(marker)
    assert _check(folder) is None


def test_a_fingerprint_too_large_for_the_marker_is_not_stored(folder, tmp_path):
    many = [tmp_path / f"{'x' * 200}{i}.csv" for i in range(200)]
    assert not _batch(folder, files=many)
    marker = _io.read_marker(folder["out"])
    assert marker is not None and FINGERPRINT_KEY not in marker  # the marker stays readable
    assert _check(folder) is None


def test_a_source_changed_while_the_batch_ran_leaves_no_fingerprint(folder):
    def edit() -> None:
        (folder["nbs"] / "a.ipynb").write_text('{"cells": [], "edited": true}')

    assert not _batch(folder, during=edit)  # the runs were planned with the old notebook
    assert _check(folder) is None


def test_a_batch_overtaken_by_another_leaves_no_fingerprint(folder):
    assert not _batch(folder, during=lambda: forget(folder["out"]))
    assert FINGERPRINT_KEY not in _io.read_marker(folder["out"])


def test_a_notebook_appearing_where_it_is_looked_for_first_is_noticed(folder, monkeypatch):
    runs_dir = folder["root"] / "my_runs"  # a runs file outside notebooks/: a.ipynb from there
    runs_dir.mkdir()
    shutil.move(folder["nbs"] / "reports.yaml", runs_dir / "reports.yaml")
    folder["nbs"] = runs_dir
    token = forget(folder["out"])
    runs_file = runs_dir / "reports.yaml"
    listed = batch_files(runs_file, ["a"], [config.NOTEBOOKS_DIR / "a.ipynb"])
    assert str(runs_dir / "a.ipynb") in listed  # looked for, not there
    the_settings = settings(
        runs_file=runs_file,
        notebooks_dir=runs_dir,
        data_dir=folder["data"],
        out_dir=folder["out"],
        show_code=False,
        kernel="python3",
    )
    assert remember(folder["out"], token, the_settings, sources(listed, folder["data"]), 1)
    assert _check(folder) == 1
    (runs_dir / "a.ipynb").write_text('{"cells": []}')  # now it takes over
    assert _check(folder) is None


def test_a_notebook_link_pointed_elsewhere_is_noticed(folder):
    real = folder["nbs"] / "a.ipynb"
    shutil.move(real, folder["root"] / "a_v1.ipynb")
    real.symlink_to(folder["root"] / "a_v1.ipynb")
    (folder["root"] / "a_v2.ipynb").write_text('{"cells": [1]}')
    assert _batch(folder)
    assert _check(folder) == 1
    real.unlink()
    real.symlink_to(folder["root"] / "a_v2.ipynb")
    assert _check(folder) is None


@pytest.mark.parametrize("change", ["root", "api", "library", "moved_table"])
def test_the_project_root_the_api_link_libraries_and_the_study_layout_count(
    folder, monkeypatch, change
):
    if change == "root":
        monkeypatch.setattr(config, "PROJ_ROOT", folder["root"].parent)
    elif change == "api":  # the index links the API reference once it is built
        (folder["root"] / "docs" / "api").mkdir(parents=True)
        (folder["root"] / "docs" / "api" / "index.html").write_text("api")
    elif change == "library":
        real = fpm._environment
        monkeypatch.setattr(fpm, "_environment", lambda: {**real(), "pandas": "9.9.9"})
    elif change == "moved_table":
        (folder["data"] / "sub").mkdir()
        shutil.move(folder["data"] / "cases.csv", folder["data"] / "sub" / "cases.csv")
    assert _check(folder) is None


def test_odd_inputs_and_names_neither_fail_nor_hang_the_batch(folder):
    inputs = folder["root"] / "inputs"
    inputs.mkdir()
    (inputs / "one.csv").write_text("1")
    pipe = folder["root"] / "pipe"
    os.mkfifo(pipe)  # reading it would block
    os.close(os.open(os.fsencode(folder["out"]) + b"/\xff-odd-name.txt", os.O_CREAT | os.O_WRONLY))
    assert _batch(folder, files=[folder["nbs"] / "a.ipynb", inputs, pipe, inputs / "x" / "y"])
    assert _check(folder) == 1
    (inputs / "one.csv").write_text("2")  # a file inside a folder given as an input
    assert _check(folder) is None


def test_a_link_inside_the_report_folder_means_no_fingerprint(folder, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (folder["out"] / "runs" / "linked").symlink_to(elsewhere)
    assert not _batch(folder)
    assert _check(folder) is None


def test_the_code_in_a_run_key_covers_the_exporter_template_not_the_page_templates(tmp_path):
    """A cached run keeps its fragment, rendered with the exporter's template: a change
    to that template must rerun it; the page templates are applied by every batch."""
    package = Path(fpm.__file__).resolve().parents[1]
    copy = tmp_path / "analysis"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert fpm.code_hash(copy) == fpm.code_hash()
    page = copy / "report" / "templates" / "page.html.j2"
    page.write_text(page.read_text() + "\n")
    assert fpm.code_hash(copy) == fpm.code_hash()
    conf = copy / "report" / "templates" / "nbconvert" / "pp_report" / "index.html.j2"
    conf.write_text(conf.read_text() + "\n")
    assert fpm.code_hash(copy) != fpm.code_hash()
