"""The kernels of a local batch: one template for every worker, a thread pool sized to the
workers, warm kernels to the last run, a gone worker's kernels ended, the longest runs
first, and a slow optional import left out of the workers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml

from analysis.report import load_runs, run_batch
from analysis.report.batch import _plan
from analysis.report.execute import (
    INLINE_BACKEND,
    THREAD_VARIABLES,
    kernel_environment,
    kernel_threads,
)
from analysis.report.records import RunRecord
from analysis.validated import load_trusted

MINIMAL = Path(__file__).parent / "data" / "minimal_study"


def _notebook(path: Path, params: str, body: str) -> None:
    book = nbformat.v4.new_notebook()
    book.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    }
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    book.cells = [cell, nbformat.v4.new_code_cell(body)]
    nbformat.write(book, path)


def _probe_batch(tmp_path: Path, body: str, n_runs: int, workers: int):
    """A batch of ``n_runs`` runs (parameter ``k`` = 0, 1, …) of a notebook ``body`` on
    ``workers`` workers, over the minimal study; its result."""
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _notebook(nbs / "probe.ipynb", 'k = 0\nresults_path = "results.json"', body)
    runs = {"runs": [{"notebook": "probe", "parameters": {"k": i}} for i in range(n_runs)]}
    (nbs / "reports.yaml").write_text(yaml.safe_dump(runs))
    shutil.copytree(MINIMAL, tmp_path / "study")
    return run_batch(
        load_runs(nbs / "reports.yaml", nbs),
        data_dir=tmp_path / "study",
        out_dir=tmp_path / "reports",
        notebooks_dir=nbs,
        workers=workers,
        progress=False,
    )


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _gone_within(pid: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return not _alive(pid)


def test_kernel_threads_share_the_cores_and_keep_what_the_user_set(monkeypatch):
    assert kernel_threads(2, cores=2) == 1
    assert kernel_threads(2, cores=8) == 4
    assert kernel_threads(1, cores=8) == 8
    assert kernel_threads(16, cores=2) == 1  # never none
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    env = kernel_environment(2)
    assert "OMP_NUM_THREADS" not in env  # the user's setting is theirs
    assert env["OPENBLAS_NUM_THREADS"] == str(kernel_threads(2))
    assert env["MPLBACKEND"] == INLINE_BACKEND


@pytest.mark.slow
def test_each_run_takes_a_warm_kernel_of_its_own(tmp_path):
    """One worker, three runs: every run finds the heavy modules already imported (its
    kernel was started and warmed while the previous run rendered), yet each run has a
    fresh kernel of its own, starting at execution count 1, and no kernel is left over."""
    result = _probe_batch(
        tmp_path,
        "import os, sys\n"
        "from analysis import narrative\n"
        "narrative.save_headlines(results_path, pid=os.getpid(), k=k, "
        "warm='statsmodels.tsa.statespace.structural' in sys.modules and "
        "'_pp_module' not in globals(), cwd=os.getcwd())",
        n_runs=3,
        workers=1,
    )
    heads = [r.headlines for r in result.records]
    assert all(r.ok for r in result.records)
    assert [h["warm"] for h in heads] == [True, True, True]
    assert len({h["pid"] for h in heads}) == 3  # a kernel per run
    assert [Path(h["cwd"]).name for h in heads] == [r.run_id for r in result.records]
    for r in result.records:
        book = nbformat.read(r.run.folder(tmp_path / "reports") / "notebook.ipynb", 4)
        counts = [c.execution_count for c in book.cells if c.cell_type == "code"]
        # papermill's injected parameters cell included; the warm-up cell counts for nothing
        assert counts == list(range(1, len(counts) + 1))
    alive = subprocess.run(["ps", "-eo", "pid"], capture_output=True, text=True).stdout.split()
    assert not {str(h["pid"]) for h in heads} & set(alive)


@pytest.mark.slow
def test_every_worker_forks_warm_kernels_from_the_batch_template(tmp_path, monkeypatch):
    """Two workers, five runs: every kernel is a child of one template that the batch
    (this process) started, every run — the last ones too — finds the modules imported,
    each has a kernel of its own with one BLAS thread per worker's share of the cores,
    and nothing is left running afterwards."""
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    result = _probe_batch(
        tmp_path,
        "import os, sys\n"
        "from analysis import narrative\n"
        "parent = os.getppid()\n"
        "stat = open(f'/proc/{parent}/stat').read().rsplit(')', 1)[1].split()\n"
        "narrative.save_headlines(results_path, pid=os.getpid(), parent=parent,\n"
        "    grandparent=int(stat[1]),\n"
        "    template=b'analysis.report.zygote' in open(f'/proc/{parent}/cmdline', 'rb').read(),\n"
        "    warm='statsmodels.tsa.statespace.structural' in sys.modules and "
        "'_pp_module' not in globals(),\n"
        "    threads=os.environ.get('OPENBLAS_NUM_THREADS'))",
        n_runs=5,
        workers=2,
    )
    assert all(r.ok for r in result.records), [r.error for r in result.records]
    heads = [r.headlines for r in result.records]
    assert all(h["template"] for h in heads)
    assert len({h["parent"] for h in heads}) == 1  # one template for both workers
    assert {h["grandparent"] for h in heads} == {os.getpid()}  # started by the batch
    assert [h["warm"] for h in heads] == [True] * 5
    assert len({h["pid"] for h in heads}) == 5
    assert {h["threads"] for h in heads} == {str(kernel_threads(2))}
    template = heads[0]["parent"]
    assert _gone_within(template, 10)
    assert not any(_alive(h["pid"]) for h in heads)


@pytest.mark.slow
def test_the_kernels_of_a_connection_that_closes_are_killed(tmp_path):
    """A worker that dies closes its connection to the template: the template kills the
    kernels it forked for that worker, and no other's; the rest end with the template."""
    from jupyter_client.connect import write_connection_file

    from analysis.report.zygote import Template

    template = Template()
    pids = []
    try:
        first, second = template.connect(), template.connect()
        for i, client in enumerate((first, second)):
            connection, _ = write_connection_file(str(tmp_path / f"kernel-{i}.json"))
            with open(tmp_path / f"kernel-{i}.log", "wb") as log:
                pids.append(client.spawn(connection, str(tmp_path), dict(os.environ), log.fileno()))
        assert all(_alive(pid) for pid in pids)
        first.close()
        assert _gone_within(pids[0], 10)
        time.sleep(0.5)
        assert _alive(pids[1])
    finally:
        template.close()
    assert _gone_within(pids[1], 10)


def test_runs_are_planned_longest_first(tmp_path):
    """By the durations of their last records; runs never timed come first, in order."""
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _notebook(nbs / "probe.ipynb", 'k = 0\ndata_dir = ""\nresults_path = "r.json"', "pass")
    runs_file = {"runs": [{"notebook": "probe", "parameters": {"k": i}} for i in range(5)]}
    (nbs / "reports.yaml").write_text(yaml.safe_dump(runs_file))
    runs = load_runs(nbs / "reports.yaml", nbs)
    out = tmp_path / "reports"
    for run, seconds in zip(runs, (1.0, None, 5.0, 2.0, None), strict=True):
        if seconds is not None:
            RunRecord(run=run, status="ok", duration_s=seconds, key="old").write(out)
    study = load_trusted(MINIMAL)
    settings = {
        "out_dir": str(out),
        "data_dir": str(MINIMAL),
        "show_code": False,
        "provenance": {},
        "kernel": "python3",
        "capture_stderr": True,
    }
    _, specs = _plan(runs, nbs, out, ("d", "c"), settings, False, None, study)
    order = [s.run.parameters["k"] for s in specs]
    assert order == [1, 4, 2, 3, 0]


def test_workers_leave_out_the_slow_iri_checker_and_still_validate_notebooks():
    """jsonschema's optional rfc3987_syntax (1.7 s to import) is not loaded in a worker,
    and nbformat still accepts a good notebook and rejects a bad one."""
    code = (
        "import sys\n"
        "from analysis.report.execute import skip_slow_optional_imports\n"
        "skip_slow_optional_imports()\n"
        "import nbformat\n"
        "assert sys.modules.get('rfc3987_syntax') is None\n"
        "nbformat.validate(nbformat.v4.new_notebook())\n"
        "bad = nbformat.v4.new_notebook()\n"
        "bad.cells.append({'cell_type': 'code', 'source': 1})\n"
        "try:\n"
        "    nbformat.validate(bad)\n"
        "except nbformat.ValidationError:\n"
        "    print('rejected')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "rejected"
