"""Runs files: the YAML list of runs, checked against each notebook's parameters."""

from __future__ import annotations

import ast
import difflib
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import config

RUN_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


RESERVED = {"results_path", "data_dir"}

STATUS_FILE = "status.json"
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
def _parameters(path: str, _mtime_ns: int, _size: int) -> tuple[tuple[str, object], ...]:
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
    problems: list[str] = []
    runs: list[Run] = []
    for i, entry in enumerate(_read_runs_file(path), start=1):
        run = _parse_run(entry, f"{path.name}: run {i}", notebooks_dir, problems)
        if run is not None:
            runs.append(run)
    seen: dict[str, int] = {}
    for run in runs:
        seen[run.run_id] = seen.get(run.run_id, 0) + 1
    problems += [
        f"{path.name}: run id {rid!r} is used {n} times" for rid, n in seen.items() if n > 1
    ]
    if problems:
        raise ReportConfigError("\n".join(problems))
    return runs


def _read_runs_file(path: Path) -> list:
    """The list under ``runs:`` of a YAML file (one clear error for anything else)."""
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
    return raw.get("runs") or []


def _parse_run(entry: object, where: str, notebooks_dir: Path, problems: list[str]) -> Run | None:
    """One entry of a runs file as a :class:`Run`; ``None`` (and ``problems``) if unusable."""
    if not isinstance(entry, dict) or "notebook" not in entry:
        problems.append(f"{where} needs a 'notebook'")
        return None
    name = str(entry["notebook"]).removesuffix(".ipynb")
    nb_path = notebooks_dir / f"{name}.ipynb"
    if not RUN_ID_RE.match(name) or not nb_path.is_file():
        problems.append(f"{where}: no notebook {name!r} in {notebooks_dir}")
        return None
    params = dict(entry.get("parameters") or {})
    if "results_path" not in notebook_parameters(nb_path):
        problems.append(f"{where}: {name}.ipynb must declare results_path")
    reserved = RESERVED & set(params)
    if reserved:
        problems.append(f"{where}: {sorted(reserved)} are set by the batch")
    try:
        problems += [f"{where}: {p}" for p in validate_parameters(nb_path, params)]
    except ReportConfigError as exc:
        problems.append(str(exc))
        return None
    for key in ("case_id", "event_type"):
        if key in params and not RUN_ID_RE.match(str(params[key])):
            problems.append(f"{where}: {key} {params[key]!r} is not a slug")
    run_id = str(entry.get("id") or _run_id(name, params))
    if not RUN_ID_RE.match(run_id) or ".." in run_id or len(run_id) > RUN_ID_MAX:
        problems.append(
            f"{where}: run id {run_id!r} is not a safe folder name "
            f"(letters, digits, '_', '.', '-'; at most {RUN_ID_MAX} characters)"
        )
        return None
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
        problems.append(f"{where}: inputs must be a list of file paths inside the project")
        return None
    return Run(name, params, run_id, title, tuple(inputs))
