"""The report batch: run every notebook for every parameter set, render HTML, index it.

``python -m analysis report`` (what ``make reports`` calls):

1. reads ``notebooks/reports.yaml`` (a list of runs: notebook + parameters) and checks
   every run's parameters against the notebook's ``parameters`` cell — an unknown name
   or a value of the wrong type is an error before anything runs (papermill itself
   would only warn);
2. skips runs whose notebook, parameters, input data and package code are unchanged
   since their last successful run (``--force`` reruns them); when nothing at all
   changed since the last complete batch, the command says so without loading the
   study (:mod:`.fingerprint`);
3. executes the others with papermill's Python API inside long-lived worker
   processes (one per core by default), or on a Dask cluster (``--scheduler``);
4. renders each executed notebook to self-contained HTML with nbconvert (code hidden
   unless ``--show-code``; images embedded; no script from the web) in its own folder
   ``reports/runs/<run_id>/``;
5. writes ``reports/index.html``: every run with its status, headline numbers,
   duration and provenance, data values escaped.

Every file is written to a temporary name and renamed, so an interrupted batch leaves
either the previous or the new version of a file, never half of one. A failing run
keeps its partial notebook (with papermill's error banner) and its HTML; the others
finish; the command exits non-zero.

The package, one job a module: :mod:`.runs` (runs files and parameter checks),
:mod:`.records` (a run's spec and record, the dataclasses that travel to workers and
back), :mod:`.cache` (keys), :mod:`.execute` (one run, workers, Dask), :mod:`.folders`
(owning report folders), :mod:`.fingerprint` (an unchanged rerun), :mod:`.site` (the index
page) and :mod:`.batch` (the whole).
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the real imports, for type checkers; at run time names load on first use
    from .batch import BatchResult, run_batch
    from .cache import cache_key, code_hash, git_commit, hash_files
    from .execute import INLINE_BACKEND, BatchTerminated, execute_run
    from .folders import claim_reports, looks_like_reports, remove_leftovers, remove_stale_runs
    from .pages import render_html, write_pages
    from .records import RunRecord, RunSpec
    from .runs import (
        RESERVED,
        RUN_FILES,
        RUN_ID_MAX,
        RUN_ID_RE,
        STATUS_FILE,
        ReportConfigError,
        Run,
        load_runs,
        notebook_parameters,
        read_runs_file,
        validate_parameters,
    )
    from .site import INDEX_TITLE, write_index

#: Public name → the sub-module defining it. Loaded on first use, so that reading the
#: batch's fingerprint (:mod:`.fingerprint`, an unchanged rerun) imports no pandas.
_EXPORTS: dict[str, str] = {
    "BatchResult": "batch",
    "BatchTerminated": "execute",
    "INDEX_TITLE": "site",
    "INLINE_BACKEND": "execute",
    "RESERVED": "runs",
    "RUN_FILES": "runs",
    "RUN_ID_MAX": "runs",
    "RUN_ID_RE": "runs",
    "ReportConfigError": "runs",
    "Run": "runs",
    "RunRecord": "records",
    "RunSpec": "records",
    "STATUS_FILE": "runs",
    "cache_key": "cache",
    "claim_reports": "folders",
    "code_hash": "cache",
    "execute_run": "execute",
    "git_commit": "cache",
    "hash_files": "cache",
    "load_runs": "runs",
    "looks_like_reports": "folders",
    "notebook_parameters": "runs",
    "read_runs_file": "runs",
    "remove_leftovers": "folders",
    "remove_stale_runs": "folders",
    "render_html": "pages",
    "run_batch": "batch",
    "validate_parameters": "runs",
    "write_index": "site",
    "write_pages": "pages",
}

__all__ = [
    "INDEX_TITLE",
    "INLINE_BACKEND",
    "RESERVED",
    "RUN_FILES",
    "RUN_ID_MAX",
    "RUN_ID_RE",
    "STATUS_FILE",
    "BatchResult",
    "BatchTerminated",
    "ReportConfigError",
    "Run",
    "RunRecord",
    "RunSpec",
    "cache_key",
    "claim_reports",
    "code_hash",
    "execute_run",
    "git_commit",
    "hash_files",
    "load_runs",
    "looks_like_reports",
    "notebook_parameters",
    "read_runs_file",
    "remove_leftovers",
    "remove_stale_runs",
    "render_html",
    "run_batch",
    "validate_parameters",
    "write_index",
    "write_pages",
]


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)


def __dir__() -> list[str]:
    return list(__all__)
