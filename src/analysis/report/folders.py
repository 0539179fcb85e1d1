"""Report folders: claiming them, and removing only what the batch itself left behind."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from .. import config
from .._io import (
    MARKER,
    claim_folder,
    foreign_entries,
    read_marker,
    temp_names,
    write_marker,
)
from ..errors import OutputError
from .pages import ASSETS
from .runs import RUN_FILES, STATUS_FILE, Run
from .site import INDEX_TITLE

__all__ = [
    "claim_reports",
    "looks_like_reports",
    "remove_leftovers",
    "remove_stale_runs",
]


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
        found += [p for p in folder.glob(".table-*.csv.*.tmp") if p.is_file()]
        found += [
            p for p in (folder / ".partial.ipynb", folder / ".results.json.partial") if p.is_file()
        ]
    found += temp_names(out_dir / ASSETS, ["site.css"])
    for path in found:
        path.unlink(missing_ok=True)
    return found


def _is_table(path: Path) -> bool:
    """A table a notebook offers for download (``narrative.table_download``)."""
    return re.fullmatch(r"table-[a-z0-9_]{1,40}\.csv", path.name) is not None and path.is_file()


def _tables(folder: Path) -> list[str]:
    return [p.name for p in folder.glob("table-*.csv") if _is_table(p)]


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
        temps = set(temp_names(folder, [*RUN_FILES, *_tables(folder)]))
        if all(p.name in allowed or p in temps or _is_table(p) for p in folder.iterdir()):
            shutil.rmtree(folder)
            removed.append(folder)
    return removed


def looks_like_reports(folder: Path) -> bool:
    """Whether an unmarked folder holds only what an earlier batch wrote.

    True only for the project's own ``reports/`` holding an ``index.html`` this project
    wrote (its title), ``runs/`` whose every entry is a run folder with a
    ``status.json``, and at most the stylesheet ``assets/site.css`` (reports written
    before folders carried the project's marker).
    """
    folder = Path(folder)
    if folder.resolve() != config.REPORTS_DIR.resolve():
        return False  # only the project's own reports/ predates the marker
    temps = {p.name for p in temp_names(folder, ["index.html"])}
    names = {p.name for p in foreign_entries(folder)} - temps
    if not names <= {"index.html", "runs", ASSETS} or "index.html" not in names:
        return False
    assets = folder / ASSETS
    if assets.exists() and not (
        assets.is_dir() and {p.name for p in assets.iterdir()} <= {"site.css"}
    ):
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
