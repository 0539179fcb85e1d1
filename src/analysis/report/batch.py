"""The batch: plan the runs, reuse cached ones, execute the rest, write the index."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .. import __version__, config
from ..errors import OutputError
from ..study import Study
from . import fingerprint
from .cache import _cached, _previous, cache_key, code_hash, git_commit, hash_files
from .execute import _run_dask, _run_local, _sigterm_interrupts
from .folders import claim_reports, remove_leftovers, remove_stale_runs
from .pages import write_pages
from .records import RunRecord, RunSpec
from .runs import Run, load_runs, notebook_parameters
from .site import write_index
from .slices import SliceHasher

__all__ = [
    "BatchResult",
    "run_batch",
]


@dataclass
class BatchResult:
    """What a batch did: one record per run, in ``reports.yaml`` order."""

    records: list[RunRecord]
    index: Path
    elapsed_s: float
    counts: dict[str, Any] = field(default_factory=dict[str, Any])

    @property
    def failed(self) -> list[RunRecord]:
        """Records of failed runs."""
        return [r for r in self.records if not r.ok]


def run_batch(
    runs: Sequence[Run] | None = None,
    *,
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    notebooks_dir: Path | None = None,
    workers: int | None = None,
    force: bool = False,
    show_code: bool = False,
    scheduler: str | None = None,
    only: str | None = None,
    progress: bool = True,
    kernel: str = "python3",
    runs_file: Path | None = None,
    study: Study | None = None,
) -> BatchResult:
    """Run every run (or reuse its cached result) and write the index.

    (Some 80 lines, kept whole: the steps after planning — validate, claim the folder,
    run, write the pages and the index even when interrupted — share one ``finally``;
    a complete batch then leaves its fingerprint, :mod:`.fingerprint`.)

    Parameters
    ----------
    runs : sequence of Run, optional
        Default: :func:`load_runs` of ``notebooks/reports.yaml``.
    data_dir : Path, optional
        Study folder passed to every notebook (default ``data/processed``).
    out_dir : Path, optional
        Report folder (default ``reports``).
    workers : int, optional
        Local worker processes (default: one per core).
    force : bool
        Rerun runs whose cached result is still valid.
    show_code : bool
        Keep code cells in the HTML.
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a Dask scheduler: send the runs there instead.
    only : str, optional
        Run only runs whose id contains this text; the index still lists the others
        with their last recorded result.
    study : Study, optional
        The study in ``data_dir``, already loaded (and so valid); else it is loaded
        and checked here before anything is written.
    runs_file : Path, optional
        The runs file ``runs`` came from, recorded in the report folder's marker: the
        reports of two runs files never share a folder.

    Raises
    ------
    OutputError
        ``out_dir`` belongs to another runs file, or is a non-empty folder the project
        did not write; nothing is written then.
    DataError
        The study in ``data_dir`` is invalid (checked when any run must be made);
        nothing is written then.
    BatchTerminated, KeyboardInterrupt
        On SIGTERM or Ctrl-C: running runs are ended, finished reports kept and the
        index written first.
    """
    t0 = time.perf_counter()
    notebooks_dir = Path(notebooks_dir or config.NOTEBOOKS_DIR)
    data_dir = Path(data_dir or config.PROCESSED_DATA_DIR).resolve()
    if runs is None:  # the bundled runs file expands over the study (for_each)
        from ..validated import load_trusted

        study = study or load_trusted(data_dir)
        runs = load_runs(notebooks_dir / "reports.yaml", notebooks_dir, study=study)
    runs = list(runs)
    out_dir = Path(out_dir or config.REPORTS_DIR).resolve()
    data_hash = hash_files([data_dir, config.MANIFEST_FILE])
    code = code_hash()
    provenance = {
        "git_commit": git_commit(),
        "package_version": __version__,
        "data_hash": data_hash[:16],
        "code_hash": code[:16],
        "data_dir": str(data_dir),
    }
    settings = {
        "out_dir": str(out_dir),
        "data_dir": str(data_dir),
        "show_code": show_code,
        "provenance": provenance,
        "kernel": kernel,
        "capture_stderr": not scheduler,
    }
    if study is None:
        # An invalid study stops the batch before anything is written (each run would
        # otherwise fail alone and leave a folder of failed reports); a valid one gives
        # each run the hash of the slice it reads.
        from ..validated import load_trusted

        study = load_trusted(data_dir)
    records, specs = _plan(
        runs, notebooks_dir, out_dir, (data_hash, code), settings, force, only, study
    )
    if scheduler and specs:
        _check_scheduler(scheduler)  # before the folder is claimed: nothing written
    sources = _sources(runs, runs_file, notebooks_dir, data_dir, code, provenance)
    ours = claim_reports(out_dir, runs_file)
    token = fingerprint.forget(out_dir)  # before anything changes
    remove_leftovers(out_dir, [run.run_id for run in runs])
    if ours:
        remove_stale_runs(out_dir, runs)
    bar = tqdm(total=len(specs), desc="reports", unit="run", disable=not progress or not specs)
    counts = {"ok": 0, "failed": 0, "cached": sum(r.cached for r in records.values())}

    def on_done(record: RunRecord) -> None:
        records[record.run_id] = record
        counts["ok" if record.ok else "failed"] += 1
        bar.set_postfix(ok=counts["ok"], failed=counts["failed"])
        bar.update()
        if not record.ok:
            tqdm.write(f"failed: {record.run_id}: {record.error}")

    n_workers = workers or os.cpu_count() or 1
    if not scheduler:  # local workers keep their next kernel warm
        specs = [replace(s, warm=True) for s in specs]
    with _sigterm_interrupts():  # kept until the index is written
        try:
            if scheduler:
                _run_dask(specs, scheduler, on_done)
            elif specs:
                _run_local(specs, n_workers, on_done)
        finally:
            bar.close()
            ordered = [records[r.run_id] for r in runs if r.run_id in records]
            write_pages(ordered, out_dir, provenance)
            index = write_index(ordered, out_dir, provenance)
    complete = only is None and len(ordered) == len(runs) and all(r.ok for r in ordered)
    # a complete batch leaves its fingerprint: the next unchanged rerun can say so at once
    if complete and runs_file is not None and sources is not None:
        batch_settings = fingerprint.settings(
            runs_file=runs_file,
            notebooks_dir=notebooks_dir,
            data_dir=data_dir,
            out_dir=out_dir,
            show_code=show_code,
            kernel=kernel,
        )
        with contextlib.suppress(Exception):  # it only saves time: a finished batch stands
            fingerprint.remember(out_dir, token, batch_settings, sources, len(runs))
    return BatchResult(ordered, index, time.perf_counter() - t0, counts)


def _sources(
    runs: list[Run],
    runs_file: Path | None,
    notebooks_dir: Path,
    data_dir: Path,
    code: str,
    provenance: dict[str, Any],
) -> dict[str, Any] | None:
    """The batch's sources for its fingerprint (:mod:`.fingerprint`), hashed as planned;
    ``None`` without a runs file (a batch of runs given in code leaves no fingerprint) or
    when a file cannot be read for it (the batch runs all the same)."""
    if runs_file is None:
        return None
    files = fingerprint.batch_files(
        runs_file,
        [r.notebook for r in runs],
        [_notebook(r, notebooks_dir) for r in runs]
        + [config.PROJ_ROOT / p for r in runs for p in r.inputs],
    )
    try:
        return fingerprint.sources(files, data_dir, code=code, commit=str(provenance["git_commit"]))
    except (OSError, ValueError):
        return None


def _notebook(run: Run, notebooks_dir: Path) -> Path:
    """The notebook file ``run`` executes."""
    return Path(run.path) if run.path else notebooks_dir / f"{run.notebook}.ipynb"


def _plan(
    runs: list[Run],
    notebooks_dir: Path,
    out_dir: Path,
    hashes: tuple[str, str],
    settings: dict[str, Any],
    force: bool,
    only: str | None,
    study: Study,
) -> tuple[dict[str, RunRecord], list[RunSpec]]:
    """Which runs are reused (their records) and which must run (their specs).

    A run outside ``only`` keeps its last record; a run whose cache key (notebook,
    parameters, the hash of the slice of the study it reads (:mod:`.slices`), code and
    inputs) matches a finished report is reused unless ``force``.

    The runs to make come longest first, by the duration their last record gives (runs
    never timed first of all, in the runs file's order): the workers take them in that
    order, so no long run starts last while the other workers have nothing left to do.
    """
    data_hash, code = hashes
    records: dict[str, RunRecord] = {}
    specs = []
    last_duration: dict[str, float] = {}
    slice_hash = SliceHasher(study)
    for run in runs:
        previous = _previous(run, out_dir)
        if only and only not in run.run_id:
            if previous:
                records[run.run_id] = previous
            continue
        nb = _notebook(run, notebooks_dir)
        defaults = notebook_parameters(nb)
        reads_study = "data_dir" in defaults
        values = {**defaults, **run.parameters}
        data = slice_hash(run.notebook, values, data_hash) if reads_study else ""
        key = cache_key(run, nb, data, code, settings["show_code"])
        hit = None if force else _cached(run, out_dir, key, previous)
        if hit:
            records[run.run_id] = hit
            continue
        if previous and previous.duration_s > 0:
            last_duration[run.run_id] = previous.duration_s
        specs.append(
            RunSpec(
                run=run,
                notebook=str(nb),
                key=key,
                pass_data_dir=reads_study,
                **settings,
            )
        )
    specs.sort(key=lambda s: -last_duration.get(s.run.run_id, math.inf))  # stable
    return records, specs


def _check_scheduler(scheduler: str, timeout: float = 10.0) -> None:
    """Raise :class:`~analysis.errors.OutputError` if the Dask scheduler cannot be reached."""
    from distributed import Client

    try:
        with Client(scheduler, timeout=timeout):
            pass
    except (OSError, TimeoutError, ValueError) as exc:
        raise OutputError(
            f"--scheduler: cannot reach the Dask scheduler at {scheduler} "
            f"({type(exc).__name__}); nothing was written"
        ) from None
