"""The report batch: run every notebook for every parameter set, render HTML, index it.

``python -m analysis report`` (what ``make reports`` calls):

1. reads ``notebooks/reports.yaml`` (a list of runs: notebook + parameters) and checks
   every run's parameters against the notebook's ``parameters`` cell — an unknown name
   or a value of the wrong type is an error before anything runs (papermill itself
   would only warn);
2. skips runs whose notebook, parameters, input data and package code are unchanged
   since their last successful run (``--force`` reruns them);
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
(owning report folders), :mod:`.site` (the index page) and :mod:`.batch` (the whole).
"""

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
