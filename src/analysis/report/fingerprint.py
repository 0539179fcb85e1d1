"""The batch's fingerprint: an unchanged rerun recognised without loading anything.

A complete batch (every run of its runs file, none failed) records in its report
folder's marker what it was made from and what it left behind:

- the settings: runs file, notebooks folder, study folder, report folder,
  ``--show-code`` and kernel;
- a hash of the runs file, of every notebook its runs execute and of every declared
  run input; of the study folder with the data manifest; of the package's code and
  page templates; the git commit (the pages print it);
- the state of every entry under the report folder (name, type, size, modification and
  change times, inode): a report deleted, edited or added since is noticed.

:func:`unchanged` recomputes all of it (about 0.05 s for the bundled batch) and answers
whether a new batch with the same settings would rerun nothing and rewrite the same
pages; ``python -m analysis report`` then writes nothing and says so, instead of
importing pandas, loading the study and planning 33 runs only to find each cached
(about 1 s). Anything that differs, or any doubt (no fingerprint, a file that cannot
be read), sends the command down the ordinary path, which checks run by run.

Every batch removes the fingerprint when it claims the folder, before it changes
anything, so an interrupted, partial (``--only``) or failed batch leaves none.

Imports only the standard library and the package's light modules: no pandas.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import config
from .._io import MARKER, read_marker, write_marker
from .cache import code_hash, git_commit, hash_files

__all__ = [
    "FINGERPRINT_KEY",
    "batch_fingerprint",
    "forget",
    "remember",
    "unchanged",
]

#: The marker's entry holding the fingerprint of the last complete batch.
FINGERPRINT_KEY = "unchanged_batch"
_VERSION = 1
#: A larger fingerprint (a runs file with thousands of inputs) is not stored: the
#: marker must stay small (:func:`~analysis._io.read_marker` reads at most 64 KiB).
_MAX_BYTES = 16384
#: The page templates and stylesheet: not code (:func:`~.cache.code_hash` reads ``*.py``),
#: but a batch re-renders every page with them.
_TEMPLATES = Path(__file__).resolve().parent / "templates"


def _files_hash(paths: Iterable[Path]) -> str:
    """sha256 over each file's full path and contents (a missing file counts as such)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path).encode() + b"\0")
        try:
            digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
        except FileNotFoundError:
            digest.update(b"missing")
    return digest.hexdigest()


def outputs_state(out_dir: Path) -> str:
    """sha256 over the state of every entry under ``out_dir`` except the marker itself.

    Each entry counts with its path, type and, for a file, size, modification and
    change times (ns) and inode; a symbolic link with its target. Change time cannot be
    set back by hand, so an edited report is noticed even when its size and
    modification time were restored.
    """
    out_dir = Path(out_dir)
    rows: list[str] = []
    for root, dirs, files in os.walk(out_dir):
        dirs.sort()
        rel_root = os.path.relpath(root, out_dir)
        for name in sorted(dirs + files):
            rel = os.path.normpath(os.path.join(rel_root, name))
            if rel == MARKER:
                continue
            st = os.lstat(os.path.join(root, name))
            if stat.S_ISLNK(st.st_mode):
                rows.append(f"l {rel} {os.readlink(os.path.join(root, name))}")
            elif stat.S_ISDIR(st.st_mode):
                rows.append(f"d {rel}")
            else:
                rows.append(
                    f"f {rel} {st.st_mode:o} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} "
                    f"{st.st_ino}"
                )
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def _settings(
    runs_file: Path,
    notebooks_dir: Path,
    data_dir: Path,
    out_dir: Path,
    show_code: bool,
    kernel: str,
) -> dict[str, Any]:
    return {
        "runs_file": str(Path(runs_file).resolve()),
        "notebooks_dir": str(Path(notebooks_dir).resolve()),
        "data_dir": str(Path(data_dir).resolve()),
        "out_dir": str(Path(out_dir).resolve()),
        "show_code": bool(show_code),
        "kernel": kernel,
    }


def batch_fingerprint(
    *,
    runs_file: Path,
    notebooks_dir: Path,
    data_dir: Path,
    out_dir: Path,
    show_code: bool,
    kernel: str,
    files: Iterable[Path],
    n_runs: int,
    data_hash: str,
    code: str,
    commit: str,
) -> dict[str, Any]:
    """What a complete batch was made from and what it left in ``out_dir`` (a JSON object).

    Parameters
    ----------
    files : iterable of Path
        The notebooks the runs execute and the runs' declared inputs (the runs file is
        added here).
    n_runs : int
        How many runs the batch made or reused (all of the runs file's).
    data_hash, code, commit : str
        :func:`~.cache.hash_files` of the study folder and manifest, :func:`~.cache.code_hash`
        and :func:`~.cache.git_commit`, as the batch computed them.
    """
    paths = [str(Path(runs_file).resolve())]
    paths += sorted({str(Path(f).resolve()) for f in files} - {paths[0]})
    return {
        "version": _VERSION,
        "settings": _settings(runs_file, notebooks_dir, data_dir, out_dir, show_code, kernel),
        "files": paths,
        "files_hash": _files_hash(Path(p) for p in paths),
        "data_hash": data_hash,
        "code_hash": code,
        "templates_hash": hash_files([_TEMPLATES]),
        "git_commit": commit,
        "runs": int(n_runs),
        "outputs": outputs_state(out_dir),
    }


def remember(out_dir: Path, fingerprint: dict[str, Any]) -> None:
    """Store ``fingerprint`` in the marker of ``out_dir`` (a folder the batch has claimed)."""
    marker = read_marker(out_dir)
    if marker is None or marker.get("kind") != "reports":
        return
    if len(json.dumps(fingerprint)) > _MAX_BYTES:
        return
    info = {k: v for k, v in marker.items() if k not in ("kind", "written_by", FINGERPRINT_KEY)}
    write_marker(out_dir, "reports", **info, **{FINGERPRINT_KEY: fingerprint})


def forget(out_dir: Path) -> None:
    """Remove the fingerprint from the marker of ``out_dir``, if it holds one."""
    marker = read_marker(out_dir)
    if marker is None or FINGERPRINT_KEY not in marker:
        return
    info = {k: v for k, v in marker.items() if k not in ("kind", "written_by", FINGERPRINT_KEY)}
    write_marker(out_dir, str(marker["kind"]), **info)


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
    settings, and the runs file, notebooks, run inputs, study, manifest, package code,
    git commit and every file under ``out_dir`` are as that batch left them. Any file
    that cannot be read, or a fingerprint of another shape, answers ``None`` (the
    ordinary batch then decides run by run).
    """
    try:
        marker = read_marker(Path(out_dir))
        fp = marker.get(FINGERPRINT_KEY) if marker and marker.get("kind") == "reports" else None
        if not isinstance(fp, dict) or fp.get("version") != _VERSION:
            return None
        settings = _settings(runs_file, notebooks_dir, data_dir, out_dir, show_code, kernel)
        files = fp["files"]
        same = (
            fp["settings"] == settings
            and isinstance(files, list)
            and files[:1] == [settings["runs_file"]]
            and fp["outputs"] == outputs_state(Path(out_dir))
            and fp["files_hash"] == _files_hash(Path(str(p)) for p in files)
            and fp["data_hash"] == hash_files([Path(settings["data_dir"]), config.MANIFEST_FILE])
            and fp["code_hash"] == code_hash()
            and fp["templates_hash"] == hash_files([_TEMPLATES])
            and fp["git_commit"] == git_commit()
        )
        runs = fp["runs"]
        return runs if same and isinstance(runs, int) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
