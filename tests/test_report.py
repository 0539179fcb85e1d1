"""The report batch: parameter checks, caching, failure isolation, killed workers, Dask, HTML."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from analysis import _io, report
from analysis.report import ReportConfigError, folders, load_runs, run_batch, validate_parameters

# notebook kernels, browsers, process pools and kills: `make test`, not `make test-fast`
pytestmark = pytest.mark.slow

MINIMAL = Path(__file__).parent / "data" / "minimal_study"

HOSTILE = "<script>alert('x')</script>"


def _notebook(path: Path, params: str, body: str) -> Path:
    book = nbformat.v4.new_notebook()
    book.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    }
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    book.cells = [nbformat.v4.new_markdown_cell("# Fixture"), cell, nbformat.v4.new_code_cell(body)]
    nbformat.write(book, path)
    return path


@pytest.fixture
def batch(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _notebook(
        nbs / "ok.ipynb",
        'value = 1\nlabel = "x"\ndata_dir = ""\nresults_path = "results.json"',
        "from analysis import narrative\nprint('value is', value)\n"
        "narrative.save_headlines(results_path, value=value * 2, label=label)",
    )
    _notebook(
        nbs / "fail.ipynb",
        'results_path = "results.json"',
        "raise ValueError('planted failure for the test')",
    )
    _notebook(
        nbs / "kill.ipynb",
        'results_path = "results.json"',
        # the worker: the process that started the kernel, as jupyter_client tells it
        # (the kernel's parent, or the kernel template's client when it was forked)
        "import os, signal\nos.kill(int(os.environ['JPY_PARENT_PID']), signal.SIGKILL)",
    )
    runs = {
        "runs": [
            {
                "notebook": "ok",
                "parameters": {"value": 1, "label": HOSTILE},
                "title": f"OK {HOSTILE}",
            },
            {"notebook": "ok", "parameters": {"value": 5}, "id": "ok-five"},
            {"notebook": "fail"},
        ]
    }
    (nbs / "reports.yaml").write_text(yaml.safe_dump(runs))
    data = tmp_path / "data"
    shutil.copytree(MINIMAL, data)  # the batch checks the study before it runs anything
    return {"nbs": nbs, "data": data, "out": tmp_path / "reports", "yaml": nbs / "reports.yaml"}


def _run(batch, **kw):
    runs = load_runs(batch["yaml"], batch["nbs"])
    return run_batch(
        runs,
        data_dir=batch["data"],
        out_dir=batch["out"],
        notebooks_dir=batch["nbs"],
        workers=2,
        progress=False,
        **kw,
    )


def test_a_failing_run_is_isolated_and_kept_and_the_rest_finish(batch):
    result = _run(batch)
    by_id = {r.run_id: r for r in result.records}
    assert [r.status for r in result.records] == ["ok", "ok", "failed"]
    assert by_id["fail"].error == "ValueError: planted failure for the test"
    fail_dir = batch["out"] / "runs" / "fail"
    partial = nbformat.read(fail_dir / "notebook.ipynb", as_version=4)
    assert any(o.get("ename") == "ValueError" for c in partial.cells for o in c.get("outputs", []))
    assert (fail_dir / "report.html").is_file() and not (fail_dir / "results.json").exists()
    assert json.loads((batch["out"] / "runs" / "ok-five" / "results.json").read_text()) == {
        "value": 10,
        "label": "x",
    }
    page = result.index.read_text()
    assert "ValueError: planted failure for the test" in page and 'class="failed"' in page


def test_unchanged_runs_are_cached_and_changes_rerun(batch):
    _run(batch)
    again = _run(batch)
    assert again.counts == {"ok": 0, "failed": 1, "cached": 2}  # the failed run is retried
    forced = _run(batch, force=True)
    assert forced.counts["cached"] == 0 and forced.counts["ok"] == 2
    runs = yaml.safe_load(batch["yaml"].read_text())
    runs["runs"][1]["parameters"]["value"] = 6
    batch["yaml"].write_text(yaml.safe_dump(runs))
    changed = _run(batch)
    assert changed.counts == {"ok": 1, "failed": 1, "cached": 1}
    cases = batch["data"] / "cases.csv"
    cases.write_text(cases.read_text().replace("(fictional example)", "(edited)"))  # data changed
    assert _run(batch).counts["cached"] == 0


def test_figures_reach_the_report_even_with_a_headless_backend(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # what the Makefile exports
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _notebook(
        nbs / "plot.ipynb",
        'results_path = "results.json"',
        "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.title('a figure')\nplt.show()\n"
        "from analysis import plots\nplots.report_style()\n"
        "fig, ax = plt.subplots()\nax.plot([1, 2], [3, 4], label='activity')\nax.legend()\n"
        "ax.set(title='Rise <b>', xlabel='day', ylabel='posts per day')\nplots.show()",
    )
    runs = {"runs": [{"notebook": "plot", "title": "Plots & <alt> text"}]}
    (nbs / "reports.yaml").write_text(yaml.safe_dump(runs))
    shutil.copytree(MINIMAL, tmp_path / "study")
    result = run_batch(
        load_runs(nbs / "reports.yaml", nbs),
        data_dir=tmp_path / "study",
        out_dir=tmp_path / "reports",
        notebooks_dir=nbs,
        workers=1,
        progress=False,
    )
    assert result.records[0].status == "ok"
    book = nbformat.read(tmp_path / "reports" / "runs" / "plot" / "notebook.ipynb", as_version=4)
    outputs = [o for c in book.cells for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    folder = tmp_path / "reports" / "runs" / "plot"
    page = (folder / "report.html").read_text()
    assert "<img" in page and "data:image/png;base64," in page
    # plots.show() gives the SVG its description as alt text, escaped
    alt = 'alt="Figure: Rise &lt;b&gt;. posts per day against day; shows activity."'
    assert alt in page and "data:image/svg+xml;base64," in page
    # the run's title is the page's one <h1>, in place of the notebook's "# Fixture"
    assert page.count("<h1") == 1 and "Plots &amp; &lt;alt&gt; text</h1>" in page
    assert (folder / "content.html.gz").is_file() and not (folder / "content.html").exists()


def test_runs_no_longer_in_the_batch_are_removed(batch):
    _run(batch)
    mine = batch["out"] / "runs" / "my-notes"
    mine.mkdir()
    (mine / "notes.txt").write_text("not written by the batch")
    runs = yaml.safe_load(batch["yaml"].read_text())
    runs["runs"][1]["id"] = "ok-renamed"
    batch["yaml"].write_text(yaml.safe_dump(runs))
    result = _run(batch)
    folders = sorted(p.name for p in (batch["out"] / "runs").iterdir())
    assert folders == sorted([r.run_id for r in result.records] + ["my-notes"])
    assert "ok-five" not in folders and (mine / "notes.txt").is_file()


def test_index_escapes_data_values_and_reports_are_offline(batch):
    result = _run(batch)
    page = result.index.read_text()
    assert HOSTILE not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    html = (batch["out"] / "runs" / "ok-five" / "report.html").read_text()
    assert "value is 5" in html
    assert "<script" not in html and not re.search(r"(?:src|href)=\"https?://", html)
    assert "def " not in html  # code is hidden by default


def test_show_code_keeps_the_code(batch):
    _run(batch, show_code=True)
    assert "save_headlines" in (batch["out"] / "runs" / "ok-five" / "report.html").read_text()


def test_a_killed_worker_fails_only_its_run_and_leaves_no_half_files(batch):
    runs = yaml.safe_load(batch["yaml"].read_text())
    runs["runs"].append({"notebook": "kill"})
    batch["yaml"].write_text(yaml.safe_dump(runs))
    result = _run(batch)
    by_id = {r.run_id: r for r in result.records}
    assert by_id["kill"].status == "failed" and "worker process" in by_id["kill"].error
    assert by_id["ok-five"].status == "ok"
    assert "planted failure" in by_id["fail"].error  # not "died": retried on its own
    leftovers = [p for p in batch["out"].rglob("*") if p.name.endswith((".tmp", ".partial"))]
    assert leftovers == []
    assert "</html>" in result.index.read_text()


def test_dask_gives_the_same_results(batch):
    distributed = pytest.importorskip("distributed")
    local = _run(batch)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
    ) as cluster:
        remote = _run(batch, force=True, scheduler=cluster.scheduler_address)
    assert [r.status for r in remote.records] == [r.status for r in local.records]
    assert [r.headlines for r in remote.records] == [r.headlines for r in local.records]


def test_parameters_are_checked_before_anything_runs(batch, tmp_path):
    ok = batch["nbs"] / "ok.ipynb"
    assert validate_parameters(ok, {"value": 3}) == []
    problems = validate_parameters(ok, {"valeu": 3, "label": 7})
    assert problems[0].startswith("ok.ipynb: unknown parameter 'valeu' (did you mean 'value'?)")
    assert (
        problems[1]
        == "ok.ipynb: parameter 'label' = 7 is a int; expected a str like its default 'x'"
    )
    bad = {
        "runs": [
            {"notebook": "ok", "parameters": {"valeu": 3}},
            {"notebook": "nope"},
            {"notebook": "ok", "id": "../../x"},
            {"notebook": "ok", "parameters": {"data_dir": "/etc"}},
        ]
    }
    batch["yaml"].write_text(yaml.safe_dump(bad))
    with pytest.raises(ReportConfigError) as info:
        load_runs(batch["yaml"], batch["nbs"])
    text = str(info.value)
    assert "unknown parameter 'valeu'" in text and "no notebook 'nope'" in text
    assert "run id '../../x' is not a safe folder name" in text and "set by the batch" in text
    assert not batch["out"].exists()


def test_parameter_cells_must_hold_literals(tmp_path):
    nb = _notebook(
        tmp_path / "evil.ipynb", "value = __import__('os').getcwd()\nresults_path = 'r'", "pass"
    )
    with pytest.raises(ReportConfigError, match="parameter value is not a literal"):
        validate_parameters(nb, {})


def test_case_ids_in_runs_must_be_slugs(batch):
    _notebook(batch["nbs"] / "case.ipynb", 'case_id = "a"\nresults_path = "r.json"', "pass")
    batch["yaml"].write_text(
        yaml.safe_dump({"runs": [{"notebook": "case", "parameters": {"case_id": "../../etc"}}]})
    )
    with pytest.raises(ReportConfigError, match=r"case_id '\.\./\.\./etc' is not a slug"):
        load_runs(batch["yaml"], batch["nbs"])


def test_the_project_run_list_is_valid(real_study):
    runs = load_runs(study=real_study, bundled=True)
    assert len({r.run_id for r in runs}) == len(runs) > 20
    assert all(report.RUN_ID_RE.match(r.run_id) for r in runs)
    with pytest.raises(ReportConfigError, match="for_each needs the study"):
        load_runs()


def test_the_batch_follows_the_data_of_any_study(minimal_dir, tmp_path):
    """The bundled runs file expands over a user's study: its cases and event types,
    titles from its cases; a runs file may live anywhere; typos get a suggestion."""
    from analysis.datasets import load_study

    study = load_study(minimal_dir, warn=False)
    runs = load_runs(study=study)
    cases = [r for r in runs if r.notebook == "10_case_study"]
    assert [r.parameters["case_id"] for r in cases] == ["free_ana"]
    assert cases[0].title == "Case study: Detention of Ana (fictional example)"
    assert cases[0].run_id == "10_case_study--free_ana"
    assert not [r for r in runs if r.notebook == "20_event_study"]  # no type in 5 cases
    elsewhere = tmp_path / "mine.yaml"
    elsewhere.write_text(
        "runs:\n  - {notebook: 10_case_study, parameters: {case_id: new_law}}\n"
        "  - {notebook: 10_case_study, for_each: case}\n"
    )
    (run_new, run_ana) = load_runs(elsewhere, study=study)
    assert run_new.path.endswith("notebooks/10_case_study.ipynb")
    assert run_ana.parameters == {"case_id": "free_ana"}
    elsewhere.write_text("runs:\n  - {notebook: 10_case_studdy}\n")
    with pytest.raises(ReportConfigError, match="did you mean '10_case_study'"):
        load_runs(elsewhere, study=study)
    elsewhere.write_text("runs:\n  - {notebook: 10_case_study, parameters: {case_id: free_anna}}\n")
    with pytest.raises(ReportConfigError, match="case_id 'free_anna' is not in the study; did"):
        load_runs(elsewhere, study=study)  # before any kernel starts
    with pytest.raises(KeyError, match="did you mean 'free_ana'"):
        study.subset(["free_anna"])


def _cli_report(batch, *extra: str) -> int:
    from analysis.cli import main

    return main(
        [
            "report",
            "--runs",
            str(batch["yaml"]),
            "--data",
            str(batch["data"]),
            "--quiet",
            "--out",
            str(batch["out"]),
            "--workers",
            "2",
            *extra,
        ]
    )


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_report_refuses_a_folder_it_did_not_write_even_with_force(batch, capsys):
    out = batch["out"]
    (out / "runs" / "old").mkdir(parents=True)
    (out / "index.html").write_text("<html>my own page</html>")
    (out / "runs" / "old" / "status.json").write_text("{}")
    (out / "runs" / "old" / "draft.md").write_text("mine")
    (out / ".notes.tmp").write_text("mine too")
    before = _tree(out)
    for extra in ([], ["--force"]):
        assert _cli_report(batch, *extra) == 2
        err = capsys.readouterr().err
        assert "report: --out:" in err and "was not written by this project" in err
        assert "Traceback" not in err
        assert _tree(out) == before  # nothing touched, not even a marker


def test_a_folder_holding_only_a_users_index_is_not_taken_for_old_reports(batch, capsys):
    out = batch["out"]
    out.mkdir()
    (out / "index.html").write_text("<html>MY PAGE</html>")
    assert _cli_report(batch) == 2
    assert (out / "index.html").read_text() == "<html>MY PAGE</html>"


def test_reports_written_before_markers_existed_are_still_ours(batch, monkeypatch):
    from analysis import config

    _run(batch)
    (batch["out"] / ".pressure-precedent").unlink()
    assert not report.looks_like_reports(batch["out"])  # only the project's own reports/
    monkeypatch.setattr(config, "REPORTS_DIR", batch["out"])
    assert report.looks_like_reports(batch["out"])
    assert _cli_report(batch) == 1
    assert _io.read_marker(batch["out"])["kind"] == "reports"


def test_the_marker_names_the_runs_file_relative_to_the_project():
    from analysis import config

    assert folders._runs_id(config.NOTEBOOKS_DIR / "reports.yaml") == "notebooks/reports.yaml"


def test_two_runs_files_never_share_a_report_folder(batch, tmp_path, capsys):
    import shutil

    assert _cli_report(batch) == 1
    before = _tree(batch["out"])
    other = tmp_path / "other"
    shutil.copytree(batch["nbs"], other)
    from analysis.cli import main

    code = main(
        [
            "report",
            "--runs",
            str(other / "reports.yaml"),
            "--data",
            str(batch["data"]),
            "--out",
            str(batch["out"]),
            "--quiet",
        ]
    )
    assert code == 2
    assert "holds the reports of" in capsys.readouterr().err
    assert _tree(batch["out"]) == before


def test_broken_runs_files_get_one_line_each(tmp_path, capsys):
    from analysis.cli import main

    cases = {
        "bad.yaml": ("runs: [\n  - notebook: x\n", "line"),
        "shape.yaml": ("- just\n- a list\n", "expected a mapping"),
        "inputs.yaml": ("runs:\n  - notebook: ok\n    inputs: /etc\n", None),
    }
    for name, (text, expected) in cases.items():
        f = tmp_path / name
        f.write_text(text)
        assert main(["report", "--runs", str(f), "--out", str(tmp_path / "o"), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and (expected is None or expected in err)
    assert main(["report", "--runs", str(tmp_path / "none.yaml"), "--quiet"]) == 2
    assert "cannot read the runs file" in capsys.readouterr().err


def test_show_code_is_part_of_the_cache_key(batch):
    _run(batch)
    again = _run(batch, show_code=True)
    assert again.counts["cached"] == 0  # the pages must be re-rendered with code


def test_runs_inputs_must_be_paths_inside_the_project(batch):
    runs = yaml.safe_load(batch["yaml"].read_text())
    runs["runs"][0]["inputs"] = "/etc/passwd"
    batch["yaml"].write_text(yaml.safe_dump(runs))
    with pytest.raises(ReportConfigError, match="inputs must be a list of file paths"):
        load_runs(batch["yaml"], batch["nbs"])


def test_a_status_file_from_another_version_or_damaged_counts_as_absent(tmp_path):
    """Records travel as dataclasses and are stored as JSON; one that does not read back
    as a record (edited, truncated, from an older layout) is treated as no record."""
    from analysis.report import Run, RunRecord
    from analysis.report.cache import _previous

    run = Run(notebook="nb", parameters={"a": 1}, run_id="nb--1", title="T", inputs=("x",))
    record = RunRecord(run=run, status="ok", key="k", headlines={"n": 2}, cached=True)
    record.write(tmp_path)
    back = _previous(run, tmp_path)
    assert back == RunRecord(run=run, status="ok", key="k", headlines={"n": 2})  # not cached
    status = run.folder(tmp_path) / "status.json"
    for text in ("[]", '{"run": {"run_id": "nb--1"}}', '{"run": {}, "status": "ok", "x": 1}', "{"):
        status.write_text(text)
        assert _previous(run, tmp_path) is None


def test_the_front_page_counts_legal_events_apart_from_incidents_and_measures_the_caveat():
    from analysis.report import Run, RunRecord
    from analysis.report.site import findings

    def case(i, legal, incident, shared, clean, category="police_violence", held=()):
        return RunRecord(
            run=Run("10_case_study", {"case_id": f"c{i}"}, f"10_case_study--c{i}", f"C{i}"),
            status="ok",
            headlines={
                "breakdown": {
                    "legal": legal,
                    "incident": incident,
                    "shared": shared,
                    "clean": clean,
                },
                "labels_by_type": {"charge": legal, "incident": incident},
                "category": category,
                "case_id": f"c{i}",
                "title": f"Case <{i}>",
                "held_rises": list(held),
            },
        )

    records = [
        case(
            1,
            {"preceded": 2, "neither": 1},
            {"followed": 1},
            {"preceded": 2},
            {"preceded": 1},
            held=[{"event": "decision not to charge", "date": "2020-06-03"}],
        ),
        case(2, {"followed": 1, "insufficient data": 1}, {}, {}, {"followed": 1}, "law_reform"),
        case(3, {}, {"neither": 1}, {}, {}, "labour_rights"),  # an incident only: no bar
    ]
    f = findings(records)
    assert f["total"] == 5 and sum(t["n"] for t in f["tiles"]) == 5  # incidents apart
    text = " ".join(f["sentences"])
    assert "Of 5 legal events in 3 cases, 4 could be labelled" in text
    assert "2 of the 4 labels rest on a movement series" in text
    assert "only 1 of the 2 rises before an event" in text and "The 2 incidents" in text
    assert "The rise that holds: Case <1>: decision not to charge on 3 June 2020." in text
    by_type = {g["name"]: g["rows"] for g in f["groups"]}
    assert [r["name"] for r in by_type["event type"]] == ["charge"]  # no incident bar
    overview = RunRecord(
        run=Run("00_data_overview", {}, "00_data_overview", "Data"),
        status="ok",
        headlines={"cases": 7},
    )
    scope = " ".join(findings([overview, *records])["sentences"])
    assert "these counts cover 3 of the study's 7 cases, 1 of them police violence" in scope
    assert "the other 4 have no activity series observed" in scope
    titles = {f"c{i}": f"T{i}" for i in range(1, 8)}
    overview.headlines["case_titles"] = titles
    scope = " ".join(findings([overview, *records])["sentences"])
    assert "nothing can be said of them here (T4; T5; T6; T7)." in scope  # c1-c3 are covered
    assert [r["name"] for r in by_type["category"]] == ["police violence", "law reform"]


def _ok_runs_only(batch) -> None:
    """The fixture's runs without the failing one; the first declares a project input."""
    runs = yaml.safe_load(batch["yaml"].read_text())
    runs["runs"] = [r for r in runs["runs"] if r["notebook"] == "ok"]
    runs["runs"][0]["inputs"] = ["README.md"]
    batch["yaml"].write_text(yaml.safe_dump(runs))


def _state(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino)
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_an_unchanged_rerun_is_answered_at_once_and_writes_nothing(batch, capsys):
    import subprocess
    import sys

    from analysis import config
    from analysis.report.fingerprint import FINGERPRINT_KEY

    _ok_runs_only(batch)
    assert _cli_report(batch) == 0
    fp = _io.read_marker(batch["out"])[FINGERPRINT_KEY]
    assert fp["runs"] == 2
    files = fp["sources"]["files"]
    assert str(config.PROJ_ROOT / "README.md") in files  # the run's declared input
    assert str((batch["nbs"] / "ok.ipynb").resolve()) in files
    before = _state(batch["out"])
    args = ["report", "--runs", str(batch["yaml"]), "--data", str(batch["data"])]
    args += ["--out", str(batch["out"]), "--quiet"]
    code = (
        "import sys; from analysis.cli import main; rc = main(sys.argv[1:]); "
        "print(rc, 'pandas' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    lines = proc.stdout.splitlines()
    assert lines[-1] == "0 False"  # answered before pandas was imported
    assert lines[0].startswith("2 runs: 0 ran, 2 unchanged (cached), 0 failed in ")
    assert "no file rewritten" in lines[0]
    assert _state(batch["out"]) == before  # not a byte, not a time stamp changed
    # what the fingerprint promised: the ordinary path finds every run cached
    assert _run(batch).counts == {"ok": 0, "failed": 0, "cached": 2}


def test_a_touched_report_or_a_failed_or_partial_batch_means_the_ordinary_path(batch, capsys):
    from analysis.report.fingerprint import FINGERPRINT_KEY

    def fingerprinted() -> bool:
        return FINGERPRINT_KEY in _io.read_marker(batch["out"])

    assert _cli_report(batch) == 1  # a run failed: the next batch must retry it
    assert not fingerprinted()
    _ok_runs_only(batch)
    assert _cli_report(batch) == 0 and fingerprinted()
    capsys.readouterr()
    page = batch["out"] / "runs" / "ok-five" / "report.html"
    page.write_text("tampered")
    assert _cli_report(batch) == 0
    out = capsys.readouterr().out
    assert "2 unchanged (cached)" in out and "no file rewritten" not in out
    assert "tampered" not in page.read_text()  # the ordinary path wrote the page again
    assert fingerprinted()
    assert _cli_report(batch, "--only", "five") == 0  # a partial batch: the others may be stale
    assert not fingerprinted()
    assert _cli_report(batch, "--force") == 0 and fingerprinted()


def test_a_source_unreadable_for_the_fingerprint_leaves_none_and_the_batch_stands(
    batch, monkeypatch
):
    from analysis.report import fingerprint

    def unreadable(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "notebooks/ok.ipynb")

    _ok_runs_only(batch)
    monkeypatch.setattr(fingerprint, "sources", unreadable)
    assert _cli_report(batch) == 0
    assert fingerprint.FINGERPRINT_KEY not in _io.read_marker(batch["out"])
    assert (batch["out"] / "runs" / "ok-five" / "report.html").is_file()
