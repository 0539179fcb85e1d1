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
"""

from __future__ import annotations

import ast
import difflib
import functools
import hashlib
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml
from tqdm import tqdm

from . import __version__, config
from ._io import (
    MARKER,
    atomic_write,
    claim_folder,
    foreign_entries,
    read_marker,
    temp_names,
    write_marker,
)
from .errors import OutputError

RUN_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
RESERVED = {"results_path", "data_dir"}
STATUS_FILE = "status.json"
#: The index page's title: how an index written before markers existed is recognised.
INDEX_TITLE = "<title>Pressure &amp; Precedent — reports</title>"
#: Every file the batch writes into a run's folder (so only these are ever cleaned up).
RUN_FILES = ("report.html", STATUS_FILE, "results.json", "notebook.ipynb", "kernel.log")


class ReportConfigError(ValueError):
    """``reports.yaml`` or a run's parameters are wrong (nothing has run)."""


@dataclass(frozen=True)
class Run:
    """One notebook run: which notebook, with which parameters, into which folder."""

    notebook: str
    parameters: dict
    run_id: str
    title: str
    inputs: tuple[str, ...] = ()

    def folder(self, out_dir: Path) -> Path:
        """The run's own output folder (``<out>/runs/<run_id>``)."""
        return Path(out_dir) / "runs" / self.run_id


# --------------------------------------------------------------------------- configuration


def _slug(value: object) -> str:
    text = re.sub(r"[^a-z0-9_.-]+", "-", str(value).lower()).strip("-.")
    return text or "x"


#: Longest run id: it names a folder (file systems allow 255 bytes per name).
RUN_ID_MAX = 120


def _run_id(notebook: str, params: dict) -> str:
    """``notebook--value--value``; shortened with a hash of the whole when too long."""
    full = "--".join([notebook, *(_slug(v) for v in params.values())])
    if len(full) <= RUN_ID_MAX:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:10]
    return f"{full[: RUN_ID_MAX - 12].rstrip('-.')}--{digest}"


def notebook_parameters(path: Path) -> dict[str, object]:
    """Names and default values of a notebook's ``parameters`` cell.

    The cell may hold only simple assignments of literals (``name = 14``); anything
    else is a configuration error, since defaults must be data, never code. The file
    is read as plain JSON (fast; the batch reads every notebook of every run) and the
    answer is cached until the file changes.
    """
    path = Path(path)
    stat = path.stat()
    return dict(_parameters(str(path), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=256)
def _parameters(path: str, mtime_ns: int, size: int) -> tuple[tuple[str, object], ...]:
    name = Path(path).name
    try:
        book = json.loads(Path(path).read_text(encoding="utf-8"))
        cells = [
            c
            for c in book.get("cells", [])
            if c.get("cell_type") == "code"
            and "parameters" in c.get("metadata", {}).get("tags", [])
        ]
    except (ValueError, AttributeError) as exc:
        raise ReportConfigError(f"{name}: not a readable notebook ({exc})") from exc
    if len(cells) != 1:
        raise ReportConfigError(
            f"{name}: expected exactly one cell tagged 'parameters', found {len(cells)}"
        )
    source = cells[0]["source"]
    source = "".join(source) if isinstance(source, list) else source
    out: list[tuple[str, object]] = []
    for node in ast.parse(source).body:
        if not (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            raise ReportConfigError(
                f"{name}: the parameters cell may only assign literals to names"
            )
        try:
            out.append((node.targets[0].id, ast.literal_eval(node.value)))
        except ValueError as exc:
            raise ReportConfigError(
                f"{name}: parameter {node.targets[0].id} is not a literal"
            ) from exc
    return tuple(out)


def _type_ok(value: object, default: object) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if default is None:
        return True
    return isinstance(value, type(default))


def validate_parameters(notebook: Path, parameters: dict) -> list[str]:
    """Problems with ``parameters`` for ``notebook`` (empty list when they are fine)."""
    declared = notebook_parameters(notebook)
    problems = []
    for name, value in parameters.items():
        if name not in declared:
            close = difflib.get_close_matches(name, list(declared), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(
                f"{notebook.name}: unknown parameter '{name}'{hint}; it declares {sorted(declared)}"
            )
        elif not _type_ok(value, declared[name]):
            problems.append(
                f"{notebook.name}: parameter '{name}' = {value!r} is a {type(value).__name__}; "
                f"expected a {type(declared[name]).__name__} like its default {declared[name]!r}"
            )
    return problems


def load_runs(path: Path | None = None, notebooks_dir: Path | None = None) -> list[Run]:
    """Read and check ``reports.yaml``.

    Format::

        runs:
          - notebook: 10_case_study          # a notebook in notebooks/ (without .ipynb)
            parameters: {case_id: george_floyd}
            title: "Case study: George Floyd"   # optional
            id: 10_case_study--george_floyd     # optional; default from notebook and values
            inputs: [tests/data/x.csv]          # optional extra input files (for the cache)

    Raises
    ------
    ReportConfigError
        Listing every problem: unknown notebooks, unknown or mistyped parameters,
        unsafe or duplicate run ids.
    """
    path = Path(path or config.NOTEBOOKS_DIR / "reports.yaml")
    notebooks_dir = Path(notebooks_dir or path.parent)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ReportConfigError(f"{path}: cannot read the runs file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise ReportConfigError(f"{path}: not UTF-8 text") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ReportConfigError(f"{path.name}{where}: {problem}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("runs", []), list):
        raise ReportConfigError(
            f"{path.name}: expected a mapping with a list under 'runs:' (see the README)"
        )
    problems: list[str] = []
    runs: list[Run] = []
    for i, entry in enumerate(raw.get("runs") or [], start=1):
        if not isinstance(entry, dict) or "notebook" not in entry:
            problems.append(f"{path.name}: run {i} needs a 'notebook'")
            continue
        name = str(entry["notebook"]).removesuffix(".ipynb")
        nb_path = notebooks_dir / f"{name}.ipynb"
        if not RUN_ID_RE.match(name) or not nb_path.is_file():
            problems.append(f"{path.name}: run {i}: no notebook {name!r} in {notebooks_dir}")
            continue
        params = dict(entry.get("parameters") or {})
        if "results_path" not in notebook_parameters(nb_path):
            problems.append(f"{path.name}: run {i}: {name}.ipynb must declare results_path")
        reserved = RESERVED & set(params)
        if reserved:
            problems.append(f"{path.name}: run {i}: {sorted(reserved)} are set by the batch")
        try:
            problems += [f"{path.name}: run {i}: {p}" for p in validate_parameters(nb_path, params)]
        except ReportConfigError as exc:
            problems.append(str(exc))
            continue
        for key in ("case_id", "event_type"):
            if key in params and not RUN_ID_RE.match(str(params[key])):
                problems.append(f"{path.name}: run {i}: {key} {params[key]!r} is not a slug")
        run_id = str(entry.get("id") or _run_id(name, params))
        if not RUN_ID_RE.match(run_id) or ".." in run_id or len(run_id) > RUN_ID_MAX:
            problems.append(
                f"{path.name}: run {i}: run id {run_id!r} is not a safe folder name "
                f"(letters, digits, '_', '.', '-'; at most {RUN_ID_MAX} characters)"
            )
            continue
        title = str(
            entry.get("title")
            or name.split("_", 1)[-1].replace("_", " ").capitalize()
            + (": " + ", ".join(str(v) for v in params.values()) if params else "")
        )
        inputs = entry.get("inputs") or []
        if not isinstance(inputs, list) or not all(
            isinstance(x, str) and x and not Path(x).is_absolute() and ".." not in Path(x).parts
            for x in inputs
        ):
            problems.append(
                f"{path.name}: run {i}: inputs must be a list of file paths inside the project"
            )
            continue
        runs.append(Run(name, params, run_id, title, tuple(inputs)))
    seen: dict[str, int] = {}
    for run in runs:
        seen[run.run_id] = seen.get(run.run_id, 0) + 1
    problems += [
        f"{path.name}: run id {rid!r} is used {n} times" for rid, n in seen.items() if n > 1
    ]
    if problems:
        raise ReportConfigError("\n".join(problems))
    return runs


# --------------------------------------------------------------------------- cache keys


def hash_files(paths: Iterable[Path]) -> str:
    """sha256 over the names and contents of files (folders are walked, sorted)."""
    digest = hashlib.sha256()
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        elif p.is_file():
            files.append(p)
    for f in files:
        digest.update(f.name.encode())
        digest.update(hashlib.sha256(f.read_bytes()).digest())
    return digest.hexdigest()


def code_hash() -> str:
    """Hash of the package's source (every module under ``src/analysis``) and version."""
    here = Path(__file__).resolve().parent
    return hashlib.sha256(
        (hash_files(sorted(here.glob("*.py"))) + __version__).encode()
    ).hexdigest()


def git_commit(root: Path | None = None) -> str:
    """The checkout's commit (``+dirty`` when files differ), or ``unknown``."""
    root = root or config.PROJ_ROOT
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return sha[:12] + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cache_key(run: Run, notebook: Path, data_hash: str, code: str, show_code: bool = False) -> str:
    """What decides whether a run must be redone: notebook, parameters, data, code, inputs
    and how the page is rendered (``--show-code``)."""
    parts = {
        "notebook": hashlib.sha256(notebook.read_bytes()).hexdigest(),
        "parameters": run.parameters,
        "data": data_hash,
        "code": code,
        "inputs": hash_files(config.PROJ_ROOT / p for p in run.inputs),
        "show_code": show_code,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


# --------------------------------------------------------------------------- one run


@functools.cache
def _exporter(show_code: bool):
    """One nbconvert HTML exporter per worker process (loading its templates is slow)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = not show_code
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.embed_images = True
    return exporter


def render_html(notebook_path: Path, show_code: bool = False) -> str:
    """Self-contained HTML of an executed notebook (no script or style from the web)."""
    import nbformat

    body, _ = _exporter(show_code).from_notebook_node(nbformat.read(notebook_path, as_version=4))
    # nbconvert links require.js and MathJax from a CDN: drop them so reports read offline.
    body = re.sub(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", "", body)
    body = re.sub(r"<link[^>]*\bhref=\"https?://[^\"]*\"[^>]*>", "", body)
    # ... and inline scripts that import from the web (mermaid) or only configure MathJax.
    body = re.sub(
        r"<script[^>]*>(?:(?!</script>).)*?(?:https?://|MathJax)(?:(?!</script>).)*</script>",
        "",
        body,
        flags=re.S,
    )
    return body


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


def execute_run(spec: dict) -> dict:
    """Execute one run and write its folder; returns its status record.

    ``spec`` holds plain data (so it travels to worker processes and Dask workers):
    ``run`` (a :class:`Run` as a dict), ``notebook`` (path), ``out_dir``, ``data_dir``,
    ``key``, ``show_code``, ``provenance``.
    """
    import papermill as pm

    # Kernels inherit this process's environment; a headless MPLBACKEND (the Makefile
    # exports Agg) would make plt.show() draw nothing, so reports would lose every
    # figure. Runs execute in worker processes, so setting it here touches nothing else.
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    run = Run(**{**spec["run"], "inputs": tuple(spec["run"].get("inputs", ()))})
    folder = run.folder(Path(spec["out_dir"]))
    folder.mkdir(parents=True, exist_ok=True)
    results_tmp = folder / ".results.json.partial"
    results_tmp.unlink(missing_ok=True)
    nb_out = folder / "notebook.ipynb"
    tmp_nb = folder / ".partial.ipynb"
    params = {**run.parameters, "results_path": str(results_tmp)}
    if spec.get("pass_data_dir", True):
        params["data_dir"] = spec["data_dir"]
    start = time.perf_counter()
    status, error = "ok", ""
    try:
        with _stderr_to(folder / "kernel.log" if spec.get("capture_stderr") else None):
            pm.execute_notebook(
                spec["notebook"],
                str(tmp_nb),
                parameters=params,
                cwd=str(folder),
                kernel_name=spec.get("kernel", "python3"),
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=False,
            )
    except Exception as exc:  # papermill raises many kinds; all end the run as failed
        status = "failed"
        ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", str(exc))
        error = (f"{ename}: {evalue}".strip().splitlines() or [type(exc).__name__])[-1][:500]
    duration = time.perf_counter() - start
    headlines: dict = {}
    if tmp_nb.exists():
        os.replace(tmp_nb, nb_out)
        try:
            page = render_html(nb_out, spec.get("show_code", False))
            atomic_write(folder / "report.html", lambda p: p.write_text(page, encoding="utf-8"))
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
    record = {
        "run": asdict(run),
        "status": status,
        "error": error,
        "duration_s": round(duration, 2),
        "key": spec["key"] if status == "ok" else "",
        "headlines": headlines,
        "provenance": {**spec["provenance"], "parameters": run.parameters},
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    atomic_write(
        folder / STATUS_FILE, lambda p: p.write_text(json.dumps(record, indent=2, default=str))
    )
    return record


def execute_run_isolated(spec: dict) -> dict:
    """:func:`execute_run` on a fresh thread with no event loop.

    Dask runs tasks on worker threads that may already have a running asyncio loop;
    nbclient (under papermill) needs to start its own, so each run gets a new thread.
    """
    with ThreadPoolExecutor(max_workers=1) as one:
        return one.submit(execute_run, spec).result()


def _cached(run: Run, out_dir: Path, key: str) -> dict | None:
    record = _previous(run, out_dir)
    done = record and record.get("status") == "ok" and record.get("key") == key
    if done and (run.folder(out_dir) / "report.html").is_file():
        return {**record, "cached": True}
    return None


def remove_leftovers(out_dir: Path, run_ids: Iterable[str] = ()) -> list[Path]:
    """Delete temporary files an interrupted batch left behind (never finished files).

    Only the batch's own temporary names are touched: ``.index.html.*.tmp`` at the top
    and, in run folders the batch wrote (holding a ``status.json``, or named after a
    current run), ``.partial.ipynb``, ``.results.json.partial`` and the temporary names
    of :data:`RUN_FILES`. Nothing else in ``out_dir`` is read or deleted.
    """
    out_dir = Path(out_dir)
    found = temp_names(out_dir, ["index.html", MARKER])
    current = set(run_ids)
    runs = out_dir / "runs"
    folders = sorted(p for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []
    for folder in folders:
        if folder.name not in current and not (folder / STATUS_FILE).is_file():
            continue
        found += temp_names(folder, RUN_FILES)
        found += [
            p for p in (folder / ".partial.ipynb", folder / ".results.json.partial") if p.is_file()
        ]
    for path in found:
        path.unlink(missing_ok=True)
    return found


def remove_stale_runs(out_dir: Path, runs: Sequence[Run]) -> list[Path]:
    """Delete run folders of runs no longer in the batch (renamed or removed runs).

    Only folders the batch wrote are touched: those holding a ``status.json`` and
    nothing but :data:`RUN_FILES` and their temporary names. The caller makes sure
    ``out_dir`` is this runs file's own report folder (see :func:`claim_reports`).
    """
    current = {run.run_id for run in runs}
    allowed = set(RUN_FILES) | {".partial.ipynb", ".results.json.partial"}
    removed = []
    for status in Path(out_dir).glob(f"runs/*/{STATUS_FILE}"):
        folder = status.parent
        if folder.name in current:
            continue
        temps = set(temp_names(folder, RUN_FILES))
        if all(p.name in allowed or p in temps for p in folder.iterdir()):
            shutil.rmtree(folder)
            removed.append(folder)
    return removed


def looks_like_reports(folder: Path) -> bool:
    """Whether an unmarked folder holds only what an earlier batch wrote.

    True only for the project's own ``reports/`` holding an ``index.html`` this project
    wrote (its title) and ``runs/`` whose every entry is a run folder with a
    ``status.json`` (reports written before folders carried the project's marker).
    """
    folder = Path(folder)
    if folder.resolve() != config.REPORTS_DIR.resolve():
        return False  # only the project's own reports/ predates the marker
    temps = {p.name for p in temp_names(folder, ["index.html"])}
    names = {p.name for p in foreign_entries(folder)} - temps
    if not names <= {"index.html", "runs"} or "index.html" not in names:
        return False
    try:
        page = (folder / "index.html").read_text(encoding="utf-8", errors="replace")[:4000]
    except OSError:
        return False
    if INDEX_TITLE not in page:
        return False
    runs = folder / "runs"
    return not runs.exists() or all(
        d.is_dir() and (d / STATUS_FILE).is_file() for d in runs.iterdir()
    )


def _runs_id(runs_file: Path) -> str:
    """How a runs file is named in a marker: relative to the project when inside it, so
    that a moved or renamed checkout still recognises its own reports."""
    path = Path(runs_file).resolve()
    try:
        return path.relative_to(config.PROJ_ROOT.resolve()).as_posix()
    except ValueError:
        return str(path)


def claim_reports(out_dir: Path, runs_file: Path | None) -> bool:
    """Make ``out_dir`` this runs file's report folder; True if it was the batch's already.

    A folder holding the reports of another runs file is refused (one index would
    replace the other's, and each batch removes runs it does not list), and so is a
    non-empty folder the project did not write.

    Raises
    ------
    OutputError
        With the reason and what to do instead.
    """
    out_dir = Path(out_dir)
    marker = read_marker(out_dir)
    ours = marker is not None or (out_dir.is_dir() and looks_like_reports(out_dir))
    owner = _runs_id(runs_file) if runs_file else None
    if marker and marker.get("kind") == "reports" and owner:
        stored = marker.get("runs_file")
        if isinstance(stored, str) and Path(stored).is_absolute():
            stored = _runs_id(Path(stored))  # an absolute path names the same file
        if stored not in (None, owner):
            raise OutputError(
                f"--out: {out_dir} holds the reports of {marker['runs_file']}; write the "
                f"reports of {runs_file} to another folder (nothing was written)"
            )
        if marker.get("runs_file") is None:
            write_marker(out_dir, "reports", runs_file=owner)
    claim_folder(out_dir, "reports", what="--out", looks_ours=looks_like_reports, runs_file=owner)
    return ours


def _previous(run: Run, out_dir: Path) -> dict | None:
    try:
        return json.loads((run.folder(out_dir) / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- the batch


@dataclass
class BatchResult:
    """What a batch did: one record per run, in ``reports.yaml`` order."""

    records: list[dict]
    index: Path
    elapsed_s: float
    counts: dict = field(default_factory=dict)

    @property
    def failed(self) -> list[dict]:
        """Records of failed runs."""
        return [r for r in self.records if r["status"] != "ok"]


class BatchTerminated(KeyboardInterrupt):
    """The batch received SIGTERM: it stops like an interrupt (index written, workers ended)."""


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM into :class:`BatchTerminated` while the batch runs (main thread only)."""
    try:
        previous = signal.getsignal(signal.SIGTERM)

        def handler(signum, frame):
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


def _die_with(parent: int) -> None:
    """Worker start-up: be killed when the batch process dies, however it dies.

    Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG)``) reaches a worker even when
    the batch is killed with SIGKILL and can run no clean-up; the notebook kernel of a
    worker notices its parent is gone and exits by itself (ipykernel's parent poller).
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the batch's own clean-up must do
        pass
    if os.getppid() != parent:  # the batch died before the signal was armed
        os._exit(1)


def _run_pool(specs: list[dict], workers: int, on_done: Callable[[dict], None]) -> list[dict]:
    """Run ``specs`` in one pool; return those lost because a worker of the pool died."""
    pool = ProcessPoolExecutor(
        max_workers=max(1, min(workers, len(specs))),
        initializer=_die_with,
        initargs=(os.getpid(),),
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


def _run_local(specs: list[dict], workers: int, on_done: Callable[[dict], None]) -> None:
    """Run every spec on local worker processes.

    A worker that dies (killed, out of memory) breaks its whole pool, so the runs it
    took down with it are retried, each alone in a fresh one-worker pool: a run that
    kills its worker again fails by itself and cannot take another run with it.
    """
    for spec in _run_pool(specs, workers, on_done):
        if _run_pool([spec], 1, on_done):
            on_done(_died(spec))


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


def _died(spec: dict) -> dict:
    run = spec["run"]
    record = {
        "run": run,
        "status": "failed",
        "error": "the worker process running it died (killed?)",
        "duration_s": 0.0,
        "key": "",
        "headlines": {},
        "provenance": spec["provenance"],
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    folder = Path(spec["out_dir"]) / "runs" / run["run_id"]
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(
        folder / STATUS_FILE, lambda p: p.write_text(json.dumps(record, indent=2, default=str))
    )
    return record


def _run_dask(specs: list[dict], scheduler: str, on_done: Callable[[dict], None]) -> None:
    from distributed import Client
    from distributed import as_completed as dask_completed

    with Client(scheduler) as client:
        futures = client.map(
            execute_run, specs, pure=False, key=[f"run-{s['run']['run_id']}" for s in specs]
        )
        for fut in dask_completed(futures):
            try:
                on_done(fut.result())
            except Exception:
                spec = specs[futures.index(fut)]
                on_done(_died(spec))


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
) -> BatchResult:
    """Run every run (or reuse its cached result) and write the index.

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
    runs = (
        list(runs) if runs is not None else load_runs(notebooks_dir / "reports.yaml", notebooks_dir)
    )
    data_dir = Path(data_dir or config.PROCESSED_DATA_DIR).resolve()
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
    records: dict[str, dict] = {}
    specs = []
    for run in runs:
        if only and only not in run.run_id:
            previous = _previous(run, out_dir)
            if previous:
                records[run.run_id] = previous
            continue
        nb = notebooks_dir / f"{run.notebook}.ipynb"
        key = cache_key(run, nb, data_hash, code, show_code)
        hit = None if force else _cached(run, out_dir, key)
        if hit:
            records[run.run_id] = hit
            continue
        specs.append(
            {
                "run": asdict(run),
                "notebook": str(nb),
                "out_dir": str(out_dir),
                "data_dir": str(data_dir),
                "key": key,
                "show_code": show_code,
                "provenance": provenance,
                "kernel": kernel,
                "pass_data_dir": "data_dir" in notebook_parameters(nb),
                "capture_stderr": not scheduler,
            }
        )
    if specs:
        # An invalid study stops the batch before anything is written (each run would
        # otherwise fail alone and leave a folder of failed reports).
        from .datasets import load_study

        load_study(data_dir, warn=False)
    ours = claim_reports(out_dir, runs_file)
    remove_leftovers(out_dir, [run.run_id for run in runs])
    if ours:
        remove_stale_runs(out_dir, runs)
    bar = tqdm(total=len(specs), desc="reports", unit="run", disable=not progress or not specs)
    counts = {"ok": 0, "failed": 0, "cached": sum(bool(r.get("cached")) for r in records.values())}

    def on_done(record: dict) -> None:
        records[record["run"]["run_id"]] = record
        counts["ok" if record["status"] == "ok" else "failed"] += 1
        bar.set_postfix(ok=counts["ok"], failed=counts["failed"])
        bar.update()
        if record["status"] != "ok":
            tqdm.write(f"failed: {record['run']['run_id']}: {record['error']}")

    with _sigterm_interrupts():  # kept until the index is written
        try:
            if scheduler:
                _run_dask(specs, scheduler, on_done)
            elif specs:
                _run_local(specs, workers or os.cpu_count() or 1, on_done)
        finally:
            bar.close()
            ordered = [records[r.run_id] for r in runs if r.run_id in records]
            index = write_index(ordered, out_dir, provenance)
    return BatchResult(ordered, index, time.perf_counter() - t0, counts)


# --------------------------------------------------------------------------- the index

_CSS = "\n".join(
    [
        "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;",
        "  margin:2rem;color:#222;",
        "  max-width:90rem}",
        "h1{font-size:1.6rem;margin-bottom:.2rem} p.lead{color:#555;margin-top:0}",
        "table{border-collapse:collapse;width:100%;font-size:.9rem}",
        "th,td{border-bottom:1px solid #ddd;padding:.4rem .5rem;",
        "  text-align:left;vertical-align:top}",
        "th{background:#f4f4f4;position:sticky;top:0}",
        ".ok{color:#1b7837;font-weight:600} .failed{color:#b2182b;font-weight:600}",
        ".cached{color:#555}",
        "code{font-size:.8rem;background:#f6f6f6;padding:0 .2rem;border-radius:3px}",
        "ul.h{margin:0;padding-left:1rem} .err{color:#b2182b;font-size:.8rem}",
        "footer{margin-top:2rem;color:#666;font-size:.8rem}",
    ]
)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _headline_items(headlines: dict, limit: int = 6) -> str:
    items = []
    for k, v in list(headlines.items())[:limit]:
        if v is None:
            v = "—"
        elif isinstance(v, float):
            v = f"{v:,.4g}"
        elif isinstance(v, dict):
            v = ", ".join(f"{a}: {b}" for a, b in v.items())
        items.append(f"<li>{_e(k)}: {_e(v)}</li>")
    return f"<ul class='h'>{''.join(items)}</ul>" if items else ""


def write_index(records: Sequence[dict], out_dir: Path, provenance: dict) -> Path:
    """Write ``index.html`` (atomically): one row per run, every data value escaped."""
    rows = []
    for r in records:
        run = r["run"]
        link = f"runs/{run['run_id']}/report.html"
        has_page = (Path(out_dir) / link).is_file()
        title = f"<a href='{_e(link)}'>{_e(run['title'])}</a>" if has_page else _e(run["title"])
        state = "cached" if r.get("cached") else r["status"]
        css = "failed" if r["status"] != "ok" else ("cached" if r.get("cached") else "ok")
        status = f"<span class='{css}'>{_e(state)}</span>"
        if r["status"] != "ok":
            status += f"<div class='err'>{_e(r.get('error', ''))}</div>"
        params = ", ".join(f"{k}={v}" for k, v in run["parameters"].items()) or "—"
        prov = r.get("provenance", {})
        prov_text = (
            f"commit {prov.get('git_commit', '?')} · v{prov.get('package_version', '?')} · "
            f"data {prov.get('data_hash', '?')}"
        )
        rows.append(
            "<tr>"
            f"<td>{title}<div><code>{_e(run['notebook'])}</code></div></td>"
            f"<td>{_e(params)}</td><td>{status}</td>"
            f"<td>{_headline_items(r.get('headlines') or {})}</td>"
            f"<td>{r.get('duration_s', 0):.1f} s</td>"
            f"<td><code>{_e(prov_text)}</code>"
            f"<div><code>{_e(r.get('finished', ''))}</code></div></td>"
            "</tr>"
        )
    n_ok = sum(r["status"] == "ok" for r in records)
    generated = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    head = (
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{INDEX_TITLE}<style>{_CSS}</style></head>"
    )
    footer = (
        f"<footer>Generated {_e(generated)} · commit {_e(provenance.get('git_commit'))} · "
        f"package {_e(provenance.get('package_version'))} · "
        f"data hash {_e(provenance.get('data_hash'))} · "
        f"code hash {_e(provenance.get('code_hash'))}. Timing is not proof of cause.</footer>"
    )
    header_cells = "".join(
        f"<th>{h}</th>"
        for h in ("Report", "Parameters", "Status", "Headline numbers", "Duration", "Provenance")
    )
    page = f"""<!DOCTYPE html>
{head}
<body>
<h1>Pressure &amp; Precedent — reports</h1>
<p class="lead">Did online pressure come before a legal change, or after it?
{n_ok} of {len(records)} runs succeeded. Each row links to its report; numbers are the run's
headline results.</p>
<table>
<thead><tr>{header_cells}</tr></thead>
<tbody>
{"".join(rows)}
</tbody></table>
{footer}
</body></html>
"""
    return atomic_write(
        Path(out_dir) / "index.html", lambda p: p.write_text(page, encoding="utf-8")
    )
