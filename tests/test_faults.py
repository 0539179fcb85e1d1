"""Faults in the batch: a full disk, an interrupted run; what is finished stays intact."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
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

# notebook kernels, browsers, process pools and kills: `make test`, not `make test-fast`
pytestmark = pytest.mark.slow


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
    shutil.copytree(Path(__file__).parent / "data" / "minimal_study", data)
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
    theirs = tmp_path / "runs" / "notes"  # a folder the batch never wrote
    theirs.mkdir()
    (theirs / ".draft.txt.tmp").write_text("a user's file")
    (tmp_path / ".mine.tmp").write_text("a user's file")
    removed = report.remove_leftovers(tmp_path, ["r1"])
    assert len(removed) == 2 and [p.name for p in folder.iterdir()] == ["report.html"]
    assert (theirs / ".draft.txt.tmp").exists() and (tmp_path / ".mine.tmp").exists()


# --------------------------------------------------------------------------- kills at random


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every visible file below ``folder`` (hidden leftovers of a kill are allowed)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


def _survivors(marker: str) -> list[int]:
    """Processes whose command line or working directory mentions ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if marker in cmd or marker in cwd:
            found.append(int(proc.name))
    return found


def _kill_at_random(cmd: list[str], delays: list[float], signals: list[int], check) -> None:
    """Start ``cmd`` again and again, kill it after each delay, then call ``check()``."""
    for delay, sig in zip(delays, signals, strict=True):
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        time.sleep(delay)
        proc.send_signal(sig)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise AssertionError(f"{cmd[:4]} did not stop within 60 s of {sig}") from None
        check()


def _delays(seed: int, n: int, high: float) -> tuple[list[float], list[int]]:
    import random

    rng = random.Random(seed)
    return [rng.uniform(0.05, high) for _ in range(n)], [
        rng.choice([signal.SIGKILL, signal.SIGTERM]) for _ in range(n)
    ]


@pytest.mark.slow
def test_prepare_killed_at_random_leaves_the_old_study_or_the_new_one_whole(raw_dir, tmp_path):
    from analysis import config

    curated = tmp_path / "curated"
    shutil.copytree(config.CURATED_DIR, curated)
    out = tmp_path / "processed"
    (tmp_path / "notes.txt").write_text("a user's file beside the output")
    script = (
        "import sys; from analysis.prepare import prepare; "
        "prepare(sys.argv[1], sys.argv[2], sys.argv[3], user_dir=sys.argv[4], progress=False)"
    )
    cmd = [sys.executable, "-c", script, str(out), str(raw_dir), str(curated), str(tmp_path / "u")]
    subprocess.run(cmd, check=True, capture_output=True)
    old = _snapshot(out)
    cases = curated / "cases.csv"
    old_text = cases.read_text()
    new_text = old_text.replace("George Floyd", "George Perry Floyd", 1)
    cases.write_text(new_text)
    subprocess.run(cmd, check=True, capture_output=True)
    new = _snapshot(out)
    assert new != old
    cases.write_text(old_text)
    subprocess.run(cmd, check=True, capture_output=True)  # back to the old study
    assert _snapshot(out) == old
    cases.write_text(new_text)

    def check():
        now = _snapshot(out)
        assert now in (old, new), sorted(now)
        assert (tmp_path / "notes.txt").read_text() == "a user's file beside the output"
        cases.write_text(new_text if now == old else old_text)  # the next run changes it

    delays, signals = _delays(1, 8, 3.0)
    _kill_at_random(cmd, delays, signals, check)
    subprocess.run(cmd, check=True, capture_output=True)  # a later prepare tidies up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curated", "notes.txt", "processed"]


@pytest.mark.slow
def test_ingest_killed_at_random_leaves_the_old_table_or_the_new_one(minimal_dir, tmp_path):
    posts = tmp_path / "posts.csv"
    posts.write_text("created_at\n" + "2024-02-01T10:00:00Z\n" * 2000)
    table = minimal_dir / "campaign_activity.csv"
    campaigns = minimal_dir / "campaigns.csv"
    campaigns.write_text(
        campaigns.read_text() + "posts,posts,posts,posts,posts per day,archive,CC0-1.0,supporting\n"
    )
    old = table.read_bytes()
    cmd = [sys.executable, "-m", "analysis", "ingest", str(posts), "--campaign", "posts"]
    cmd += ["--start", "2024-02-01", "--end", "2024-02-03", "--out", str(table)]
    subprocess.run(cmd, check=True, capture_output=True)
    new = table.read_bytes()
    others = {p.name: p.read_bytes() for p in minimal_dir.iterdir() if p != table}

    def check():
        assert table.read_bytes() in (old, new)
        assert {
            p.name: p.read_bytes()
            for p in minimal_dir.iterdir()
            if p != table and not p.name.startswith(".")
        } == others
        table.write_bytes(old)

    table.write_bytes(old)
    delays, signals = _delays(2, 5, 2.5)
    _kill_at_random(cmd, delays, signals, check)


@pytest.mark.slow
def test_report_killed_at_random_keeps_whole_files_and_leaves_no_process(slow_batch):
    out = slow_batch["out"]
    out.mkdir()
    cmd = [sys.executable, "-m", "analysis", "report", "--runs", str(slow_batch["yaml"])]
    cmd += ["--out", str(out), "--data", str(slow_batch["data"]), "--workers", "2", "--quiet"]
    indexes = []

    def check():
        deadline = time.time() + 20  # a kernel notices its worker is gone within ~1 s
        while _survivors(str(out)) and time.time() < deadline:
            time.sleep(0.5)
        assert not _survivors(str(out)), "a process of the killed batch survived it"
        _complete_html(out)
        index = out / "index.html"
        if index.exists():
            assert index.read_text().rstrip().endswith("</html>")
            indexes.append(index.read_bytes())
        for run in out.glob("runs/*"):  # start again from nothing
            shutil.rmtree(run)
        index.unlink(missing_ok=True)

    _kill_at_random(cmd, [4.0, 6.0, 3.0], [signal.SIGKILL, signal.SIGKILL, signal.SIGKILL], check)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("runs/*/status.json")):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "terminated" in err and "Traceback" not in err
    assert (out / "index.html").is_file()  # SIGTERM still writes the index of what finished
    time.sleep(3)
    assert not _survivors(str(out))


@pytest.mark.slow
def test_fetch_killed_at_random_leaves_each_table_old_or_new_and_the_study_valid(
    minimal_dir, tmp_path
):
    """A kill while fetch asks a (slow, local) GDELT or writes leaves every table whole,
    the study valid, and the files fetch does not write untouched."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Slow(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            time.sleep(0.4)
            points = [{"date": f"202001{d:02d}T000000Z", "value": d, "norm": 99} for d in (1, 2)]
            data = json.dumps({"timeline": [{"data": points}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "PP_GDELT_URL": f"http://127.0.0.1:{httpd.server_address[1]}/doc",
        "PP_CACHE_DIR": str(tmp_path / "cache"),
    }
    cmd = [sys.executable, "-m", "analysis", "fetch", "gdelt", "--campaign", "news"]
    cmd += ["--query", "q", "--start", "2020-01-01", "--end", "2020-01-03", "--refresh"]
    cmd += ["--data", str(minimal_dir)]
    tables = ("campaigns.csv", "campaign_activity.csv")
    old = {t: (minimal_dir / t).read_bytes() for t in tables}
    others = {p.name: p.read_bytes() for p in minimal_dir.iterdir() if p.name not in tables}
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    new_activity = (minimal_dir / tables[1]).read_bytes()

    def check():
        from analysis.datasets import load_study

        assert (minimal_dir / tables[1]).read_bytes() in (old[tables[1]], new_activity)
        assert load_study(minimal_dir, warn=False)  # whole tables, and a valid study
        now = {p.name: p.read_bytes() for p in minimal_dir.iterdir() if p.name not in tables}
        assert {k: v for k, v in now.items() if not k.startswith(".")} == {
            k: v for k, v in others.items() if not k.startswith(".")
        }
        for t in tables:
            (minimal_dir / t).write_bytes(old[t])

    for t in tables:
        (minimal_dir / t).write_bytes(old[t])
    delays, signals = _delays(3, 6, 1.2)
    try:
        for delay, sig in zip(delays, signals, strict=True):
            proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
            )
            time.sleep(delay)
            proc.send_signal(sig)
            proc.wait(timeout=60)
            check()
    finally:
        httpd.shutdown()
