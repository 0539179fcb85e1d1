"""Safe writing: atomic files with the umask's mode, owned folders, whole-folder switches."""

from __future__ import annotations

import os
import stat

import pytest

from analysis import _io
from analysis.errors import OutputError


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_write_respects_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        _io.atomic_write(tmp_path / "a.txt", lambda p: p.write_text("x"))
        os.umask(0o077)
        _io.atomic_write(tmp_path / "b.txt", lambda p: p.write_text("x"))
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.txt") == 0o644  # mkstemp alone gives 0600
    assert _mode(tmp_path / "b.txt") == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")

    def boom(p):
        p.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        _io.atomic_write(target, boom)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["t.txt"]


def test_claim_refuses_a_folder_the_project_did_not_write(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.docx").write_text("years of work")
    with pytest.raises(OutputError, match=r"not empty \(thesis.docx\) and was not written"):
        _io.claim_folder(mine, "reports", what="--out")
    assert [p.name for p in mine.iterdir()] == ["thesis.docx"]  # no marker added either
    _io.claim_folder(mine, "reports", what="--out", allow_foreign=True)
    assert _io.read_marker(mine)["kind"] == "reports"


def test_claim_accepts_new_empty_and_own_folders_and_refuses_other_kinds(tmp_path):
    new = _io.claim_folder(tmp_path / "a" / "b", "reports", what="--out")
    assert _io.read_marker(new) == {"kind": "reports", "written_by": "pressure-precedent"}
    (new / "index.html").write_text("x")
    _io.claim_folder(new, "reports", what="--out")  # ours: fine
    with pytest.raises(OutputError, match="holds reports written by this project, not study"):
        _io.claim_folder(new, "study", what="--out")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".gitkeep").write_text("")
    _io.claim_folder(empty, "study", what="--out")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        _io.claim_folder(tmp_path / "file", "reports", what="--out")


def _study_folder(path, content: str):
    stage = _io.stage_folder(path)
    _io.write_marker(stage, "study")
    (stage / "cases.csv").write_text(content)
    (stage / "events.csv").write_text(content)
    return stage


def test_replace_folder_switches_the_whole_content(tmp_path):
    target = tmp_path / "processed"
    _io.replace_folder(_study_folder(target, "v1"), target)
    _io.replace_folder(_study_folder(target, "v2"), target)
    assert {p.read_text() for p in target.glob("*.csv")} == {"v2"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["processed"]  # old one removed
    assert _mode(target) == 0o777 & ~_io.umask()


def test_replace_folder_without_an_atomic_exchange_recovers(tmp_path, monkeypatch):
    target = tmp_path / "processed"
    _io.replace_folder(_study_folder(target, "v1"), target)
    monkeypatch.setattr(_io, "_exchange", lambda a, b: False)
    _io.replace_folder(_study_folder(target, "v2"), target)
    assert {p.read_text() for p in target.glob("*.csv")} == {"v2"}
    # a kill between the two renames: the old folder is aside, the new one not in place
    stage = _study_folder(target, "v3")
    os.rename(target, tmp_path / ".processed.x.old")
    assert not target.exists()
    _io.recover_folder(target)
    assert {p.read_text() for p in target.glob("*.csv")} == {"v2"}  # the old one, whole
    assert not stage.exists()  # the half-built new one is gone


def test_recover_never_touches_unmarked_folders(tmp_path):
    target = tmp_path / "processed"
    aside = tmp_path / ".processed.mine.old"
    aside.mkdir()
    (aside / "keep.txt").write_text("user file")
    _io.recover_folder(target)
    assert (aside / "keep.txt").read_text() == "user file" and not target.exists()
