"""Cache keys: what decides whether a run must be redone, and reading earlier results."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from collections.abc import Iterable
from pathlib import Path

from .. import __version__, config
from .pages import CONTENT_FILE
from .records import RunRecord
from .runs import STATUS_FILE, Run

__all__ = [
    "cache_key",
    "code_hash",
    "git_commit",
    "hash_files",
]


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


def code_hash(package: Path | None = None) -> str:
    """Hash of the package's source (every module under ``src/analysis``), of the
    notebook exporter's template (it renders each run's page fragment, which a cached run
    keeps) and of the version. The page and index templates are left out: every batch
    renders the pages again."""
    package = package or Path(__file__).resolve().parents[1]  # src/analysis
    exporter = package / "report" / "templates" / "nbconvert"
    return hashlib.sha256(
        (hash_files([*sorted(package.rglob("*.py")), exporter]) + __version__).encode()
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


def _cached(run: Run, out_dir: Path, key: str, record: RunRecord | None) -> RunRecord | None:
    """The run's last record (``record``, from :func:`_previous`) when it succeeded with
    this cache key and its report exists."""
    if record is None or not record.ok or record.key != key:
        return None
    if (run.folder(out_dir) / CONTENT_FILE).is_file():
        return dataclasses.replace(record, cached=True)
    return None


def _previous(run: Run, out_dir: Path) -> RunRecord | None:
    """The run's last record (``status.json``), or ``None``."""
    try:
        data = json.loads((run.folder(out_dir) / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return RunRecord.from_json(data)
