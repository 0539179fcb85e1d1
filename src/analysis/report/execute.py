"""Executing runs: one run (papermill, nbconvert), local worker pools, Dask, signals."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from . import warm
from .pages import (
    CONTENT_FILE,
    LEGACY_CONTENT_FILE,
    _exporter,
    render_fragment,
    write_fragment,
)
from .records import RunRecord, RunSpec
from .zygote import batch_template

__all__ = [
    "INLINE_BACKEND",
    "THREAD_VARIABLES",
    "BatchTerminated",
    "execute_run",
    "kernel_environment",
    "kernel_template",
    "kernel_threads",
    "skip_slow_optional_imports",
]


@contextmanager
def _stderr_to(path: Path | None) -> Iterator[None]:
    """Send this process's stderr (and so the kernel's start-up chatter) to a file."""
    if path is None:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def execute_run(spec: RunSpec) -> RunRecord:
    """Execute one run and write its folder; returns its status record.

    (Some 65 lines, kept whole so that the order of its writes — partial notebook,
    fragment, results, status — reads top to bottom: that order is what a killed run
    leaves safe.)

    ``spec`` holds plain data, so it travels to worker processes and Dask workers.
    """
    import papermill as pm

    # Kernels inherit this process's environment; a headless MPLBACKEND (the Makefile
    # exports Agg) would make plt.show() draw nothing, so reports would lose every
    # figure. Runs execute in worker processes, so setting it here touches nothing else.
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    run = spec.run
    folder = spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    results_tmp = folder / ".results.json.partial"
    results_tmp.unlink(missing_ok=True)
    nb_out = folder / "notebook.ipynb"
    tmp_nb = folder / ".partial.ipynb"
    params = {**run.parameters, "results_path": str(results_tmp)}
    if spec.pass_data_dir:
        params["data_dir"] = spec.data_dir
    start = time.perf_counter()
    status, error = "ok", ""
    taken = warm.take(spec.kernel, folder) if spec.warm else None
    _took_one()
    try:
        with _stderr_to(folder / "kernel.log" if spec.capture_stderr else None):
            pm.execute_notebook(
                spec.notebook,
                str(tmp_nb),
                parameters=params,
                cwd=str(folder),
                kernel_name=spec.kernel,
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=False,
                **({"km": taken[0]} if taken else {}),
            )
    except Exception as exc:  # papermill raises many kinds; all end the run as failed
        status = "failed"
        ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", str(exc))
        error = (f"{ename}: {evalue}".strip().splitlines() or [type(exc).__name__])[-1][:500]
    finally:
        if taken:  # a kernel papermill did not start is not shut down by it
            _end_warm(taken, folder / "kernel.log" if spec.capture_stderr else None)
    duration = time.perf_counter() - start
    if spec.warm and _runs_left():  # the next run's kernel starts while this page renders
        warm.start_next(spec.kernel)
    headlines: dict[str, Any] = {}
    if tmp_nb.exists():
        os.replace(tmp_nb, nb_out)
        try:
            fragment, stderr = render_fragment(nb_out, spec.show_code)
            write_fragment(folder / CONTENT_FILE, fragment)
            (folder / LEGACY_CONTENT_FILE).unlink(missing_ok=True)  # an older batch's copy
            if stderr:  # warnings are for developers: the run's log, not the page
                with open(folder / "kernel.log", "a", encoding="utf-8") as log:
                    log.write(stderr)
        except Exception:  # a notebook that cannot be rendered is a failed run
            status, error = (
                "failed",
                "rendering HTML failed: " + traceback.format_exc().strip().splitlines()[-1],
            )
    elif status == "ok":
        status, error = "failed", "papermill wrote no notebook"
    if status == "ok" and results_tmp.exists():
        headlines = json.loads(results_tmp.read_text(encoding="utf-8"))
        os.replace(results_tmp, folder / "results.json")
    results_tmp.unlink(missing_ok=True)
    record = RunRecord(
        run=run,
        status=status,
        error=error,
        duration_s=round(duration, 2),
        key=spec.key if status == "ok" else "",
        headlines=headlines,
        provenance={**spec.provenance, "parameters": run.parameters},
        finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    record.write(Path(spec.out_dir))
    return record


#: In a pool's worker: how many of the pool's runs no worker has taken yet (a
#: ``multiprocessing.Value`` shared by the workers; ``None`` elsewhere).
_left: Any = None


def _took_one() -> None:
    if _left is not None:
        with _left.get_lock():
            _left.value -= 1


def _runs_left() -> bool:
    """Whether some run of this worker's pool has not been taken: only then is a next
    warm kernel started (a worker whose pool is done would start one for nothing, and a
    worker that started none would take the last run with a cold kernel)."""
    return _left is not None and _left.value > 0


def _end_warm(taken: tuple[Any, Any], log: Path | None) -> None:
    """Shut down a warm kernel after its run; what it wrote goes to the run's log."""
    km, warm_log = taken
    with contextlib.suppress(Exception):
        km.shutdown_kernel(now=True)
    try:
        if log is not None:
            warm_log.seek(0)
            with open(log, "ab") as out:
                out.write(warm_log.read())
    finally:
        warm_log.close()


class BatchTerminated(KeyboardInterrupt):
    """The batch received SIGTERM: it stops like an interrupt (index written, workers ended)."""


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM into :class:`BatchTerminated` while the batch runs (main thread only)."""
    try:
        previous = signal.getsignal(signal.SIGTERM)

        def handler(_signum: int, _frame: object) -> None:
            # the first TERM stops the batch; later ones (``timeout`` sends a second)
            # must not kill the clean-up that writes the index
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            raise BatchTerminated()

        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


_PR_SET_PDEATHSIG = 1

#: The variables that size the thread pools of OpenBLAS, MKL, Apple's Accelerate, OpenMP
#: and numexpr, read once when a kernel imports numpy or scipy.
THREAD_VARIABLES: tuple[str, ...] = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def kernel_threads(workers: int, cores: int | None = None) -> int:
    """Threads each worker's kernels may use for linear algebra: the cores shared out
    among the workers, at least one.

    Every BLAS library otherwise starts one thread per core in every kernel; with one
    kernel per core already busy, those threads fight over the same cores (OpenBLAS's
    threads spin while they wait) and a run computes about half as fast.
    """
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))


def kernel_environment(workers: int) -> dict[str, str]:
    """What the kernels of a batch with ``workers`` local workers get in their
    environment, and so the template they are forked from: the inline figure backend,
    and :func:`kernel_threads` threads for linear algebra (a variable the user set in
    this process's environment is kept)."""
    threads = str(kernel_threads(workers))
    env = {"MPLBACKEND": INLINE_BACKEND}
    env.update({name: threads for name in THREAD_VARIABLES if name not in os.environ})
    return env


def _die_with(
    parent: int,
    warm_kernel: str = "",
    env: dict[str, str] | None = None,
    show_code: bool = False,
    left: Any = None,
) -> None:
    """Worker start-up: be killed when the batch process dies, however it dies; set
    ``env`` (:func:`kernel_environment`) for the kernels it starts; load papermill and
    the page exporter (for pages with or without code: ``show_code``) while the kernel
    template imports; then start the worker's first warm kernel (``warm_kernel``: its
    name, empty for none). ``left`` counts the pool's runs that no worker has taken yet.

    Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG)``) reaches a worker even when
    the batch is killed with SIGKILL and can run no clean-up; a kernel forked from the
    kernel template is killed by it when its worker's connection closes, and any other
    kernel notices its parent is gone and exits by itself (ipykernel's parent poller).
    A worker that ends normally shuts its warm kernel down (a multiprocessing finaliser:
    pool workers leave through ``os._exit``, which skips ``atexit``).
    """
    global _left
    _left = left
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the batch's own clean-up must do
        pass
    if os.getppid() != parent:  # the batch died before the signal was armed
        os._exit(1)
    os.environ.update(env or {})  # before a kernel template of its own imports numpy
    skip_slow_optional_imports()
    if warm_kernel:
        from multiprocessing.util import Finalize

        from .zygote import start_shared

        Finalize(None, warm.discard, exitpriority=100)
        start_shared()  # the kernel template imports while this worker does
    _preload(show_code)
    if warm_kernel:
        warm.start_next(warm_kernel)


def skip_slow_optional_imports() -> None:
    """Keep jsonschema from importing ``rfc3987_syntax`` in this process.

    When that optional package is installed (jupyterlab's dependencies bring it, through
    ``jsonschema[format-nongpl]``), jsonschema imports it for its "iri" format checks,
    and it builds a parser at import: 1.7 s of every worker's start on this machine
    (python-jsonschema/jsonschema#1392 and #1521). A worker only validates notebooks,
    with nbformat's draft-4 schema and no format checker, so that check is never used.
    Nothing changes once jsonschema is imported, or when the module is already loaded.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def _preload(show_code: bool) -> None:
    """Load what every run needs before the first: papermill, and the page exporter with
    its templates compiled (by rendering an empty notebook)."""
    with contextlib.suppress(Exception):  # a run that needs them reports any failure itself
        import nbformat
        import papermill  # noqa: F401

        _exporter(show_code).from_notebook_node(nbformat.v4.new_notebook())


def _run_pool(
    specs: list[RunSpec], workers: int, on_done: Callable[[RunRecord], None], env: dict[str, str]
) -> list[RunSpec]:
    """Run ``specs`` in one pool; return those lost because a worker of the pool died."""
    pool = ProcessPoolExecutor(
        max_workers=max(1, min(workers, len(specs))),
        initializer=_die_with,
        initargs=(
            os.getpid(),
            specs[0].kernel if specs[0].warm else "",
            env,
            specs[0].show_code,
            multiprocessing.Value("i", len(specs)),
        ),
    )
    lost = []
    try:
        futures = {pool.submit(execute_run, s): s for s in specs}
        for fut in as_completed(futures):
            try:
                on_done(fut.result())
            except BrokenProcessPool:
                lost.append(futures[fut])
    except KeyboardInterrupt:
        _stop(pool)
        raise
    finally:
        pool.shutdown(wait=True)
    return lost


def _run_local(specs: list[RunSpec], workers: int, on_done: Callable[[RunRecord], None]) -> None:
    """Run every spec on local worker processes.

    A worker that dies (killed, out of memory) breaks its whole pool, so the runs it
    took down with it are retried, each alone in a fresh one-worker pool: a run that
    kills its worker again fails by itself and cannot take another run with it. All
    workers fork their kernels from one template (:func:`kernel_template`).
    """
    env = kernel_environment(workers)
    with kernel_template(workers):  # unless the caller started it already
        for spec in _run_pool(specs, workers, on_done, env):
            if _run_pool([spec], 1, on_done, env):
                on_done(_died(spec))


def kernel_template(workers: int) -> AbstractContextManager[None]:
    """The template that the kernels of a local batch with ``workers`` workers are
    forked from (:func:`.zygote.batch_template`), in their environment
    (:func:`kernel_environment`): started on entering, ended on leaving."""
    return batch_template({**os.environ, **kernel_environment(workers)})


def _stop(pool: ProcessPoolExecutor) -> None:
    """Ctrl-C: start no further run and end the running ones now.

    Without this, leaving the pool waits for every queued run (a worker survives the
    interrupt of its run and takes the next one). A killed run leaves only temporary
    files, which the next batch removes; finished reports are complete files.
    """
    processes = list(getattr(pool, "_processes", {}).values())  # CPython keeps them here
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()


def _died(spec: RunSpec, error: str = "the worker process running it died (killed?)") -> RunRecord:
    """The failed record (written to the run's folder) of a run that returned nothing."""
    record = RunRecord.failed(spec, error)
    record.write(Path(spec.out_dir))
    return record


def _run_dask(specs: list[RunSpec], scheduler: str, on_done: Callable[[RunRecord], None]) -> None:
    from distributed import Client
    from distributed import as_completed as dask_completed

    with Client(scheduler) as client:
        futures = client.map(
            execute_run, specs, pure=False, key=[f"run-{s.run.run_id}" for s in specs]
        )
        for fut in dask_completed(futures):
            spec = specs[futures.index(fut)]
            try:
                record = fut.result()
            except Exception as exc:  # the task raised, or its worker was lost
                reason = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300]
                record = _died(spec, f"the Dask task failed ({reason})")
            on_done(record)
