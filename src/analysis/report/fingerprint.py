"""The batch's fingerprint: an unchanged rerun recognised without loading anything.

A complete batch (every run of its runs file, none failed) records in its report
folder's marker what it was made from and what it left behind:

- the settings: project root, runs file, notebooks folder, study folder, report
  folder, ``--show-code`` and kernel;
- its sources (:func:`sources`), hashed when the batch planned its runs: the runs file,
  every place a run's notebook is looked for, every declared run input, the study
  folder (names and contents) with the data manifest, the package's code and page
  templates, the git commit, the versions of the libraries that hash slices and render
  pages, and whether the API reference the index links to is built;
- the state of every entry under the report folder (name, type, size, modification and
  change times, inode): a report deleted, edited or added since is noticed.

:func:`unchanged` recomputes all of it (0.02-0.03 s for the bundled batch) and answers
whether a new batch with the same settings would rerun nothing and rewrite the same
pages; ``python -m analysis report`` then writes nothing and says so, instead of
importing pandas, loading the study and planning 33 runs only to find each cached
(about 1 s). Anything that differs, or any doubt (no fingerprint, a file that cannot
be read, a symbolic link in the report folder), sends the command down the ordinary
path, which checks run by run.

Every batch removes the fingerprint when it claims the folder, before it changes
anything, and leaves a token of its own; it stores a fingerprint only if its sources
did not change while it ran and the token is still its own (no other batch claimed the
folder meanwhile). So an interrupted, partial (``--only``), failed or overtaken batch
leaves none.

Imports only the standard library and the package's light modules: no pandas.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import secrets
import stat
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .. import config
from .._io import MARKER, locked, read_marker, write_marker
from .cache import code_hash, git_commit
from .runs import notebook_folders

__all__ = [
    "FINGERPRINT_KEY",
    "batch_files",
    "forget",
    "outputs_state",
    "remember",
    "settings",
    "sources",
    "unchanged",
]

#: The marker's entry holding the fingerprint of the last complete batch.
FINGERPRINT_KEY = "unchanged_batch"
#: The marker's entry naming the batch that claimed the folder last.
TOKEN_KEY = "batch_token"
_VERSION = 2
#: A larger fingerprint (a runs file with thousands of inputs) is not stored: the
#: marker must stay small (:func:`~analysis._io.read_marker` reads at most 64 KiB).
_MAX_BYTES = 16384
#: The page templates and stylesheet: not code (:func:`~.cache.code_hash` reads ``*.py``),
#: but a batch re-renders every page with them.
_TEMPLATES = Path(__file__).resolve().parent / "templates"
#: Libraries whose version changes a slice's hash or a page's bytes.
_LIBRARIES = ("pandas", "numpy", "pyarrow", "jinja2", "markupsafe", "nbconvert", "nbformat")


def _contents(path: str, st: os.stat_result) -> bytes:
    """What a path holds, for a hash: a file's digest, or the kind of anything else."""
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").digest()
    return b"special"  # a pipe or a device: never read (it could block)


def _files_hash(paths: Iterable[str]) -> str:
    """sha256 over each path and what it holds, read through symbolic links as a reader
    would: a file's contents, a folder's tree (:func:`_tree_hash`), or that it is missing."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(os.fsencode(path) + b"\0")
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            digest.update(b"missing\0")
            continue
        if stat.S_ISDIR(st.st_mode):
            digest.update(_tree_hash(Path(path)).encode())
        else:
            digest.update(_contents(path, st))
    return digest.hexdigest()


def _tree_hash(folder: Path) -> str:
    """sha256 over the relative path and contents of every file under ``folder``
    (a linked folder inside it is not walked: its target is named instead)."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            digest.update(os.fsencode(os.path.relpath(full, folder)) + b"\0")
            try:
                digest.update(_contents(full, os.stat(full)))
            except OSError:  # a dangling link
                digest.update(b"missing")
        for name in dirs:
            full = os.path.join(root, name)
            if os.path.islink(full):
                digest.update(os.fsencode(f"link {name} {os.readlink(full)}") + b"\0")
    return digest.hexdigest()


def outputs_state(out_dir: Path) -> str | None:
    """sha256 over the state of every entry under ``out_dir`` except the marker itself.

    Each entry counts with its path, type and, for a file, mode, size, modification and
    change times (ns) and inode. Change time cannot be set back by hand, so an edited
    report is noticed even when its size and modification time were restored.
    ``None`` when the folder holds a symbolic link (what it points to is not watched).
    """
    out_dir = Path(out_dir)
    rows: list[bytes] = []
    for root, dirs, files in os.walk(out_dir):
        dirs.sort()
        rel_root = os.path.relpath(root, out_dir)
        for name in sorted(dirs + files):
            rel = os.path.normpath(os.path.join(rel_root, name))
            if rel == MARKER:
                continue
            st = os.lstat(os.path.join(root, name))
            if stat.S_ISLNK(st.st_mode):
                return None
            if stat.S_ISDIR(st.st_mode):
                rows.append(b"d " + os.fsencode(rel))
            else:
                facts = f"{st.st_mode:o} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino}"
                rows.append(b"f " + os.fsencode(rel) + b" " + facts.encode())
    return hashlib.sha256(b"\n".join(rows)).hexdigest()


def settings(
    *,
    runs_file: Path,
    notebooks_dir: Path,
    data_dir: Path,
    out_dir: Path,
    show_code: bool,
    kernel: str,
) -> dict[str, Any]:
    """The options that make a batch another batch (paths resolved)."""
    return {
        "project_root": str(config.PROJ_ROOT.resolve()),
        "runs_file": str(Path(runs_file).resolve()),
        "notebooks_dir": str(Path(notebooks_dir).resolve()),
        "data_dir": str(Path(data_dir).resolve()),
        "out_dir": str(Path(out_dir).resolve()),
        "show_code": bool(show_code),
        "kernel": kernel,
    }


def batch_files(
    runs_file: Path, notebook_names: Iterable[str], run_files: Iterable[Path]
) -> list[str]:
    """The files a batch's runs read besides the study, as absolute paths (unresolved).

    The runs file first; then, sorted, every place a notebook named in it is looked for
    (:func:`~.runs.notebook_folders`: a notebook that appears in an earlier place takes
    over) and ``run_files`` (the notebooks the runs execute and their declared inputs).
    """
    first = os.path.abspath(runs_file)
    folders = notebook_folders(runs_file)
    places = [f / f"{name}.ipynb" for f in folders for name in set(notebook_names)]
    rest = {os.path.abspath(p) for p in [*places, *run_files]} - {first}
    return [first, *sorted(rest)]


def _environment() -> dict[str, str]:
    versions = {"python": sys.version, "prefix": sys.prefix}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "none"
    return versions


def sources(
    files: Sequence[str],
    data_dir: Path,
    *,
    code: str | None = None,
    commit: str | None = None,
) -> dict[str, Any]:
    """Hashes of everything a batch reads, as a JSON object (see the module's docstring).

    Parameters
    ----------
    files : sequence of str
        :func:`batch_files`.
    data_dir : Path
        The study folder.
    code, commit : str, optional
        :func:`~.cache.code_hash` and :func:`~.cache.git_commit`, when already known.
    """
    study = _tree_hash(Path(data_dir).resolve()) + _files_hash([str(config.MANIFEST_FILE)])
    return {
        "files": list(files),
        "files_hash": _files_hash(files),
        "study_hash": hashlib.sha256(study.encode()).hexdigest(),
        "code_hash": code or code_hash(),
        "templates_hash": _tree_hash(_TEMPLATES),
        "git_commit": commit or git_commit(),
        "environment": _environment(),
        "api_reference": (config.PROJ_ROOT / "docs" / "api" / "index.html").is_file(),
    }


def _info(marker: dict[str, Any]) -> dict[str, Any]:
    """What a marker says besides its kind and author, without a fingerprint."""
    skip = ("kind", "written_by", FINGERPRINT_KEY)
    return {k: v for k, v in marker.items() if k not in skip}


def forget(out_dir: Path) -> str:
    """Remove the fingerprint from the marker of ``out_dir`` and claim it for one batch.

    Returns the batch's token, which :func:`remember` needs. ``out_dir`` must carry
    the project's marker (the batch has claimed it).
    """
    token = secrets.token_hex(8)
    with locked(Path(out_dir)):
        marker = read_marker(out_dir) or {"kind": "reports"}
        write_marker(out_dir, str(marker["kind"]), **{**_info(marker), TOKEN_KEY: token})
    return token


def remember(
    out_dir: Path,
    token: str,
    batch_settings: dict[str, Any],
    batch_sources: dict[str, Any],
    n_runs: int,
) -> bool:
    """Store the fingerprint of a complete batch in the marker of ``out_dir``.

    Nothing is stored (False) when another batch claimed the folder since ``token``
    was given, when the sources differ from ``batch_sources`` (hashed when the batch
    planned: a file changed while it ran), when the folder holds a symbolic link, or
    when the fingerprint would not fit in the marker.
    """
    out_dir = Path(out_dir)
    if sources(batch_sources["files"], Path(batch_settings["data_dir"])) != batch_sources:
        return False
    with locked(out_dir):
        marker = read_marker(out_dir)
        if marker is None or marker.get("kind") != "reports" or marker.get(TOKEN_KEY) != token:
            return False
        state = outputs_state(out_dir)
        fingerprint = {
            "version": _VERSION,
            "settings": batch_settings,
            "sources": batch_sources,
            "runs": int(n_runs),
            "outputs": state,
        }
        if state is None or len(json.dumps(fingerprint)) > _MAX_BYTES:
            return False
        write_marker(out_dir, "reports", **{**_info(marker), FINGERPRINT_KEY: fingerprint})
    return True


def unchanged(
    out_dir: Path,
    *,
    runs_file: Path,
    notebooks_dir: Path,
    data_dir: Path,
    show_code: bool = False,
    kernel: str = "python3",
) -> int | None:
    """The number of runs when a batch with these settings would change nothing, else None.

    True only when ``out_dir`` holds the fingerprint of a complete batch with the same
    settings, its sources hash as they did then and every entry under ``out_dir`` is as
    that batch left it. Any file that cannot be read, or a fingerprint of another
    shape, answers ``None`` (the ordinary batch then decides run by run).
    """
    try:
        marker = read_marker(Path(out_dir))
        fp = marker.get(FINGERPRINT_KEY) if marker and marker.get("kind") == "reports" else None
        if not isinstance(fp, dict) or fp.get("version") != _VERSION:
            return None
        now = settings(
            runs_file=runs_file,
            notebooks_dir=notebooks_dir,
            data_dir=data_dir,
            out_dir=out_dir,
            show_code=show_code,
            kernel=kernel,
        )
        old = fp["sources"]
        files = old["files"]
        same = (
            fp["settings"] == now
            and isinstance(files, list)
            and all(isinstance(f, str) for f in files)
            and files[:1] == [os.path.abspath(runs_file)]
            and fp["outputs"] is not None
            and fp["outputs"] == outputs_state(Path(out_dir))
            and sources(files, Path(now["data_dir"])) == old
        )
        runs = fp["runs"]
        return runs if same and isinstance(runs, int) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
