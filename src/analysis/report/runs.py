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
from typing import TYPE_CHECKING, Any

import yaml

from .. import config

if TYPE_CHECKING:  # only named in annotations: reading a runs file needs no pandas
    from ..study import Study

__all__ = [
    "FOR_EACH",
    "RESERVED",
    "RUN_FILES",
    "RUN_ID_MAX",
    "RUN_ID_RE",
    "STATUS_FILE",
    "ReportConfigError",
    "Run",
    "load_runs",
    "notebook_folders",
    "notebook_parameters",
    "validate_parameters",
]

RUN_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


RESERVED = {"results_path", "data_dir"}

STATUS_FILE = "status.json"
RUN_FILES = (
    "report.html",
    "content.html.gz",
    "content.html",  # written by earlier versions (pages.LEGACY_CONTENT_FILE)
    STATUS_FILE,
    "results.json",
    "notebook.ipynb",
    "kernel.log",
)


class ReportConfigError(ValueError):
    """``reports.yaml`` or a run's parameters are wrong (nothing has run)."""


@dataclass(frozen=True)
class Run:
    """One notebook run: which notebook, with which parameters, into which folder."""

    notebook: str
    parameters: dict[str, Any]
    run_id: str
    title: str
    inputs: tuple[str, ...] = ()
    #: The notebook file the run executes (found beside the runs file or in notebooks/).
    path: str = ""

    def folder(self, out_dir: Path) -> Path:
        """The run's own output folder (``<out>/runs/<run_id>``)."""
        return Path(out_dir) / "runs" / self.run_id


def _slug(value: object) -> str:
    text = re.sub(r"[^a-z0-9_.-]+", "-", str(value).lower()).strip("-.")
    return text or "x"


#: Longest run id: it names a folder (file systems allow 255 bytes per name).
RUN_ID_MAX = 120


def _run_id(notebook: str, params: dict[str, Any]) -> str:
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


def validate_parameters(notebook: Path, parameters: dict[str, Any]) -> list[str]:
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


def load_runs(
    path: Path | None = None,
    notebooks_dir: Path | None = None,
    study: Study | None = None,
    bundled: bool | None = None,
) -> list[Run]:
    """Read and check a runs file (default ``notebooks/reports.yaml``).

    Format::

        runs:
          - notebook: 10_case_study          # a project notebook (without .ipynb)
            parameters: {case_id: george_floyd}
            title: "Case study: George Floyd"   # optional
            id: 10_case_study--george_floyd     # optional; default from notebook and values
            inputs: [tests/data/x.csv]          # optional extra input files (for the cache)
          - notebook: 10_case_study
            for_each: case                   # one run per case the study can answer for
            title: "Case study: {title}"     # {case_id} and {title} of each case
            overrides: {george_floyd: {its_event: "george_floyd:2021-04-20:conviction"}}
          - notebook: 20_event_study
            for_each: event_type             # one run per event type with enough cases
            title: "Event study: {event_words}"

    ``for_each: case`` expands to every case with a day-precision legal event inside
    an observed series window (:func:`analysis.narrative.cases_with_observed_events`);
    ``for_each: event_type`` to every event type with observed windows in at least 5
    cases (:func:`analysis.narrative.major_event_types`). A case or type that has its
    own entry for the same notebook is not expanded again. Expansion needs ``study``.
    ``bundled_only: true`` keeps a run (a replication of published data) out of the
    batch of any study but the bundled one (``bundled``; default: is ``study`` loaded from
    ``data/processed``?).

    Notebooks are looked up beside the runs file, then in the project's ``notebooks/``,
    so a runs file may live anywhere.

    Raises
    ------
    ReportConfigError
        Listing every problem: unknown notebooks, unknown or mistyped parameters,
        unsafe or duplicate run ids, ``for_each`` without a study or of an unknown kind.
    """
    path = Path(path or config.NOTEBOOKS_DIR / "reports.yaml")
    folders = [Path(notebooks_dir)] if notebooks_dir else notebook_folders(path)
    problems: list[str] = []
    runs: list[Run] = []
    entries = read_runs_file(path)
    for i, entry in enumerate(entries, start=1):
        where = f"{path.name}: run {i}"
        is_bundled = _bundled(study) if bundled is None else bundled
        if isinstance(entry, dict) and entry.get("bundled_only") and not is_bundled:
            continue  # e.g. a replication of published data: not part of a user's study
        for item in _expand(entry, entries, study, where, problems):
            run = _parse_run(item, where, folders, problems)
            if run is not None:
                runs.append(run)
                if study is not None:
                    problems += [f"{where}: {p}" for p in _unknown_ids(run.parameters, study)]
    seen: dict[str, int] = {}
    for run in runs:
        seen[run.run_id] = seen.get(run.run_id, 0) + 1
    problems += [
        f"{path.name}: run id {rid!r} is used {n} times" for rid, n in seen.items() if n > 1
    ]
    if problems:
        raise ReportConfigError("\n".join(problems))
    return runs


def read_runs_file(path: Path) -> list[Any]:
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


def _bundled(study: Study | None) -> bool:
    """Is ``study`` the bundled one (``data/processed``)? Unknown (no study): yes."""
    if study is None or not study.source:
        return True
    return Path(study.source).resolve() == config.PROCESSED_DATA_DIR.resolve()


def _unknown_ids(parameters: dict[str, Any], study: Study) -> list[str]:
    """Case ids, event types and event ids the study does not have (with a suggestion)."""
    from ..vocabulary import EVENT_TYPES

    known = {
        "case_id": list(study.cases["case_id"]),
        "event_type": list(EVENT_TYPES),
        "its_event": list(study.legal_events["event_id"]),
    }
    out = []
    for key, values in known.items():
        value = parameters.get(key)
        if value in (None, "") or value in values:
            continue
        close = difflib.get_close_matches(str(value), values, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        out.append(f"{key} {value!r} is not in the study{hint}")
    return out


#: What ``for_each`` may expand over, with the parameter each item sets.
FOR_EACH = {"case": "case_id", "event_type": "event_type"}


def _expand(
    entry: object, entries: list[Any], study: Study | None, where: str, problems: list[str]
) -> list[Any]:
    """The entries a ``for_each`` entry stands for (an ordinary entry stands for itself)."""
    if not isinstance(entry, dict) or "for_each" not in entry:
        return [entry]
    kind = entry["for_each"]
    if kind not in FOR_EACH:
        problems.append(f"{where}: for_each is one of {sorted(FOR_EACH)}, not {kind!r}")
        return []
    if study is None:
        problems.append(f"{where}: for_each needs the study (pass --data)")
        return []
    from ..narrative import cases_with_observed_events, event_words, major_event_types

    key = FOR_EACH[kind]
    items = cases_with_observed_events(study) if kind == "case" else major_event_types(study)
    own = {
        str((e.get("parameters") or {}).get(key))
        for e in entries
        if isinstance(e, dict)
        and "for_each" not in e
        and e.get("notebook") == entry.get("notebook")
    }
    titles = dict(zip(study.cases["case_id"], study.cases["title"], strict=True))
    overrides = entry.get("overrides") or {}
    if not isinstance(overrides, dict):
        problems.append(f"{where}: overrides must map an item to its parameters")
        return []
    out = []
    for item in items:
        if item in own:
            continue
        fields = {
            "case_id": item,
            "event_type": item,
            "title": titles.get(item, item),
            "event_words": event_words(item),
        }
        name = str(entry.get("notebook", "")).removesuffix(".ipynb")
        out.append(
            {
                "notebook": entry.get("notebook"),
                "parameters": {
                    **(entry.get("parameters") or {}),
                    **(overrides.get(item) or {}),
                    key: item,
                },
                "title": str(entry["title"]).format_map(fields) if entry.get("title") else None,
                "id": _run_id(name, {key: item}),
                "inputs": entry.get("inputs"),
            }
        )
    return out


def notebook_folders(runs_file: Path) -> list[Path]:
    """Where the notebooks of a runs file are looked for, first match first: beside the
    runs file, then in the project's ``notebooks/``."""
    return [Path(runs_file).parent, config.NOTEBOOKS_DIR]


def _parse_run(entry: object, where: str, folders: list[Path], problems: list[str]) -> Run | None:
    """One entry of a runs file as a :class:`Run`; ``None`` (and ``problems``) if unusable."""
    if not isinstance(entry, dict) or "notebook" not in entry:
        problems.append(f"{where} needs a 'notebook'")
        return None
    name = str(entry["notebook"]).removesuffix(".ipynb")
    found = [f / f"{name}.ipynb" for f in folders if (f / f"{name}.ipynb").is_file()]
    if not RUN_ID_RE.match(name) or not found:
        known = sorted({n.stem for f in folders for n in f.glob("*.ipynb")})
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f"; notebooks: {', '.join(known)}"
        problems.append(f"{where}: no notebook {name!r}{hint}")
        return None
    nb_path = found[0]
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
    return Run(name, params, run_id, title, tuple(inputs), str(nb_path.resolve()))
