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
    batch_fingerprint,
    forget,
    remember,
    unchanged,
)

MINIMAL_STUDY = Path(__file__).parent / "data" / "minimal_study"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A report folder as a complete batch leaves it, with its fingerprint."""
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    (nbs / "reports.yaml").write_text("runs:\n  - notebook: a\n")
    (nbs / "a.ipynb").write_text('{"cells": []}')
    extra = tmp_path / "input.csv"
    extra.write_text("x\n1\n")
    data = tmp_path / "data"
    shutil.copytree(MINIMAL_STUDY, data)
    manifest = tmp_path / "sources.toml"
    manifest.write_text("# manifest\n")
    monkeypatch.setattr(config, "MANIFEST_FILE", manifest)
    out = tmp_path / "reports"
    _io.claim_folder(out, "reports", what="--out", runs_file="notebooks/reports.yaml")
    (out / "runs" / "a").mkdir(parents=True)
    (out / "runs" / "a" / "report.html").write_text("<p>report</p>")
    (out / "index.html").write_text("<p>index</p>")
    paths = {"nbs": nbs, "data": data, "out": out, "extra": extra, "manifest": manifest}
    remember(out, _fingerprint(paths))
    return paths


def _fingerprint(p: dict[str, Path], **kw: object) -> dict[str, object]:
    args: dict[str, object] = {
        "runs_file": p["nbs"] / "reports.yaml",
        "notebooks_dir": p["nbs"],
        "data_dir": p["data"],
        "out_dir": p["out"],
        "show_code": False,
        "kernel": "python3",
        "files": [p["nbs"] / "a.ipynb", p["extra"]],
        "n_runs": 1,
        "data_hash": _io_hash(p["data"]),
        "code": fpm.code_hash(),
        "commit": fpm.git_commit(),
    }
    return batch_fingerprint(**{**args, **kw})  # type: ignore[arg-type]


def _io_hash(data: Path) -> str:
    return fpm.hash_files([data, config.MANIFEST_FILE])


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
        '{"version": 1}}',  # another shape: missing entries
        '{"kind": "reports", "written_by": "pressure-precedent", "unchanged_batch": '
        '{"version": 1, "settings": 5, "files": 5, "outputs": 5}}',
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
    forget(folder["out"])
    many = [tmp_path / f"{'x' * 200}{i}.csv" for i in range(200)]
    remember(folder["out"], _fingerprint(folder, files=many))
    marker = _io.read_marker(folder["out"])
    assert marker is not None and FINGERPRINT_KEY not in marker  # the marker stays readable


def test_the_report_package_loads_its_names_on_first_use_and_the_check_needs_no_pandas():
    import subprocess
    import sys

    import analysis.report as report

    assert sorted(report.__all__) == sorted(report._EXPORTS)
    assert all(getattr(report, name) is not None for name in report.__all__)
    code = (
        "import sys; import analysis.cli, analysis.report.fingerprint; "
        "print(sorted(m for m in ('pandas', 'numpy', 'scipy', 'nbformat') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
