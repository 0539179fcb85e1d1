"""Faults in the batch: a full disk, an interrupted run; what is finished stays intact."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml

from analysis import report
from analysis.report import load_runs, run_batch


def _notebook(path: Path, body: str) -> None:
    book = nbformat.v4.new_notebook()
    book.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    }
    cell = nbformat.v4.new_code_cell('n = 0\ndata_dir = ""\nresults_path = "results.json"')
    cell.metadata["tags"] = ["parameters"]
    book.cells = [cell, nbformat.v4.new_code_cell(body)]
    nbformat.write(book, path)


@pytest.fixture
def slow_batch(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _notebook(nbs / "slow.ipynb", "import time\ntime.sleep(1.5)\nprint('run', n)")
    (nbs / "reports.yaml").write_text(
        yaml.safe_dump({"runs": [{"notebook": "slow", "parameters": {"n": i}} for i in range(4)]})
    )
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.csv").write_text("a\n1\n")
    return {"nbs": nbs, "yaml": nbs / "reports.yaml", "data": data, "out": tmp_path / "reports"}


def _batch(b, **kw):
    return run_batch(
        load_runs(b["yaml"], b["nbs"]),
        data_dir=b["data"],
        out_dir=b["out"],
        notebooks_dir=b["nbs"],
        progress=False,
        **kw,
    )


def _complete_html(out: Path) -> list[Path]:
    pages = list(out.glob("runs/*/report.html"))
    for page in pages:
        assert page.read_text().rstrip().endswith("</html>"), page
    return pages


def test_a_full_disk_while_writing_the_index_keeps_the_previous_one(slow_batch, monkeypatch):
    first = _batch(slow_batch, workers=2)
    before = first.index.read_bytes()
    runs = yaml.safe_load(slow_batch["yaml"].read_text())
    runs["runs"][0]["parameters"]["n"] = 10  # one run changes
    slow_batch["yaml"].write_text(yaml.safe_dump(runs))
    real = Path.write_text

    def disk_full(self, *args, **kwargs):
        if self.name.startswith(".index.html"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", disk_full)
    with pytest.raises(OSError, match="No space left"):
        _batch(slow_batch, workers=2)
    monkeypatch.setattr(Path, "write_text", real)
    assert first.index.read_bytes() == before  # the old index, whole
    assert not list(slow_batch["out"].glob(".*.tmp"))
    pages = _complete_html(slow_batch["out"])  # slow--0 left the batch: its folder is gone
    assert sorted(p.parent.name for p in pages) == ["slow--1", "slow--10", "slow--2", "slow--3"]
    again = _batch(slow_batch, workers=2)
    assert again.counts == {
        "ok": 0,
        "failed": 0,
        "cached": 4,
    }  # the changed run finished before the fault


def test_an_interrupted_batch_keeps_finished_reports_and_the_next_run_redoes_only_the_rest(
    slow_batch,
):
    cmd = [
        sys.executable,
        "-m",
        "analysis",
        "report",
        "--runs",
        str(slow_batch["yaml"]),
        "--out",
        str(slow_batch["out"]),
        "--data",
        str(slow_batch["data"]),
        "--workers",
        "1",
        "--quiet",
    ]
    proc = subprocess.Popen(
        cmd,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # A shell starts background jobs with SIGINT ignored, and children inherit that:
        # give the batch the terminal's default, whatever launched pytest.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while time.time() < deadline and not list(slow_batch["out"].glob("runs/*/status.json")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the middle of the batch
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finished = _complete_html(slow_batch["out"])
    assert 1 <= len(finished) < 4
    result = _batch(slow_batch, workers=1)
    assert result.counts["cached"] >= len(finished) - 1 and result.counts["failed"] == 0
    assert not list(slow_batch["out"].rglob(".partial.ipynb")) and not list(
        slow_batch["out"].rglob(".*.tmp")
    )
    assert len(_complete_html(slow_batch["out"])) == 4


def test_leftovers_of_an_interrupted_batch_are_removed(tmp_path):
    folder = tmp_path / "runs" / "r1"
    folder.mkdir(parents=True)
    (folder / ".partial.ipynb").write_text("{}")
    (folder / ".report.html.abc.tmp").write_text("<html>")
    (folder / "report.html").write_text("<html></html>")
    removed = report.remove_leftovers(tmp_path)
    assert len(removed) == 2 and [p.name for p in folder.iterdir()] == ["report.html"]
