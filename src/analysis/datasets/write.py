"""Writing tables and study folders atomically, never over a file the project did not write."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from .._io import (
    MARKER,
    PLACEHOLDERS,
    atomic_write,
    foreign_entries,
    locked,
    read_marker,
    recover_folder,
    refuse_foreign_marker,
    replace_folder,
    stage_folder,
    write_marker,
)
from ..errors import DataError, OutputError
from ..schema import (
    TABLES,
)
from ..study import (
    Study,
    to_contract,
)
from .parse import parse_table
from .read import FORMATS, read_raw

__all__ = [
    "check_study_folder",
    "merge_activity_unlocked",
    "refuse_derived",
    "save_study",
    "update_activity",
    "write_table",
]


def write_table(frame: pd.DataFrame, path: Path, table: str) -> Path:
    """Write one contract table atomically as ``.csv``, ``.parquet`` or ``.xlsx``."""
    path = Path(path)
    out = to_contract(table, frame)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return atomic_write(path, lambda p: out.to_csv(p, index=False, date_format="%Y-%m-%d"))
    if suffix == ".parquet":
        return atomic_write(path, lambda p: out.to_parquet(p, index=False))
    if suffix == ".xlsx":
        return atomic_write(path, lambda p: _write_xlsx(out, p))
    raise ValueError(f"cannot write {path}: expected .csv, .parquet or .xlsx")


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    """One sheet; text that starts with ``=`` stays text (never a live formula)."""
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        frame.to_excel(writer, index=False)
        for row in next(iter(writer.sheets.values())).iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"


def _has_fetched_series(path: Path) -> bool:
    """A campaigns table holding series added with ``fetch`` (they carry ``fetched_at``)."""
    if not path.name.startswith("campaigns."):
        return False
    try:
        return "fetched_at" in read_raw(path).columns
    except (DataError, OSError, ValueError):
        return True  # unreadable: not ours to replace


def refuse_derived(folder: Path, what: str) -> None:
    """Refuse to add rows to a study folder that ``prepare`` replaces whole.

    Raises
    ------
    OutputError
        If ``folder`` carries the marker of a study written by :func:`save_study`:
        what was added there would vanish at the next ``prepare``.
    """
    marker = read_marker(Path(folder))
    if marker is not None and marker.get("kind") == "study":
        raise OutputError(
            f"{what}: {folder} is rebuilt whole by `prepare`, so what is added there would "
            "be lost; nothing was written. Add series to data/user (the default of `fetch`, "
            "merged by `prepare`) or to a study folder of your own (a copy of a prepared "
            f"study becomes yours once you delete its {MARKER} file)"
        )


def update_activity(path: Path, new: pd.DataFrame, *, what: str = "--out") -> Path:
    """Add or update days of series in an activity table file, keeping every other row.

    Rows of ``new`` replace the rows of the same campaign on the same day; every other
    row of the file (other campaigns, other days) is kept, so writing one series into a
    study's ``campaign_activity`` table never loses the others. The result is validated
    before it is written (atomically, in the file's format).

    Raises
    ------
    DataError
        If the existing file is not a valid ``campaign_activity`` table.
    OutputError
        If the file sits in a folder that ``prepare`` rebuilds (see :func:`refuse_derived`).
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    if path.suffix.lower() not in FORMATS:
        raise OutputError(f"{what}: {path} — expected a .csv, .parquet or .xlsx file name")
    if path.parent.exists() and not path.parent.is_dir():
        raise OutputError(f"{what}: {path.parent} is a file; expected a folder")
    refuse_derived(path.parent, what)
    twins = [
        path.with_suffix(ext).name
        for ext in FORMATS
        if ext != path.suffix.lower() and path.with_suffix(ext).exists()
    ]
    if twins and path.stem in TABLES:
        raise OutputError(
            f"{what}: {path.parent} already holds {', '.join(twins)}; a study folder has one "
            f"file per table, so write to that one"
        )
    if path.is_dir():
        raise OutputError(f"{what}: {path} is a folder; expected a table file")
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path.parent):  # concurrent updates take turns instead of losing rows
        return merge_activity_unlocked(path, new, what)


def merge_activity_unlocked(path: Path, new: pd.DataFrame, what: str) -> Path:
    """The read-merge-write of :func:`update_activity`; the caller holds the folder lock."""
    if path.exists():
        _refuse_workbook_with_sheets(path, what)
        old = parse_table(read_raw(path), "campaign_activity", str(path))
        keys = pd.MultiIndex.from_frame(new[["campaign_id", "date"]])
        same = pd.MultiIndex.from_frame(old[["campaign_id", "date"]]).isin(keys)
        new = pd.concat([old[~same], new], ignore_index=True)
    merged = new.sort_values(["campaign_id", "date"], kind="stable").reset_index(drop=True)
    parse_table(merged, "campaign_activity", str(path))
    return write_table(merged, path, "campaign_activity")


def _refuse_workbook_with_sheets(path: Path, what: str) -> None:
    """Rewriting a workbook keeps one sheet: refuse one that holds more."""
    if path.suffix.lower() != ".xlsx":
        return
    import openpyxl

    try:
        sheets = openpyxl.load_workbook(path, read_only=True).sheetnames
    except Exception:  # not a readable workbook: read_raw says why
        return
    if len(sheets) > 1:
        raise OutputError(
            f"{what}: {path} has {len(sheets)} sheets ({', '.join(sheets[:3])}); rewriting it "
            "would keep only the table. Nothing was written: use a .csv or .parquet table, "
            "or a workbook with one sheet"
        )


def save_study(
    study: Study, folder: Path, fmt: str = "parquet", *, legacy_ok: bool = False
) -> list[Path]:
    """Write a study's four tables as ``<table>.<fmt>``, replacing ``folder`` whole.

    The tables are written into a new folder beside ``folder`` and switched in with one
    atomic exchange, so a reader (or a kill at any moment) sees the previous study whole
    or the new one whole, never a mixture. ``folder`` must be new, empty, or a study
    folder this function wrote (it carries the project's marker); a folder holding
    anything else is refused, since its files would be lost.

    Parameters
    ----------
    study : Study
        The study to write.
    folder : Path
        The study folder to create or replace.
    fmt : {"parquet", "csv", "xlsx"}
        File format of every table.
    legacy_ok : bool
        Accept an unmarked folder that holds only contract tables (a folder written
        before markers existed, such as the project's own ``data/processed``).

    Raises
    ------
    OutputError
        If ``folder`` is a file, another kind of output, or holds files the project
        did not write.
    """
    folder = Path(folder)
    if folder.is_symlink():  # replace what the link points to, keep the link
        folder = folder.resolve()
    check_study_folder(folder, legacy_ok=legacy_ok)  # before creating anything
    folder.parent.mkdir(parents=True, exist_ok=True)
    with locked(folder.parent):  # one prepare at a time may replace this folder
        return _save_study(study, folder, fmt, legacy_ok)


def _save_study(study: Study, folder: Path, fmt: str, legacy_ok: bool) -> list[Path]:
    recover_folder(folder)
    check_study_folder(folder, legacy_ok=legacy_ok)
    stage = stage_folder(folder)
    try:
        write_marker(stage, "study", format=fmt)
        for keep in PLACEHOLDERS:
            if (folder / keep).is_file():
                shutil.copy2(folder / keep, stage / keep)
        for table, frame in study.tables().items():
            write_table(frame, stage / f"{table}.{fmt}", table)
        replace_folder(stage, folder, old_is_ours=True)  # checked above: only ours
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return [folder / f"{table}.{fmt}" for table in study.tables()]


def check_study_folder(folder: Path, *, legacy_ok: bool = False) -> None:
    """Refuse a study folder that :func:`save_study` may not replace (before any work).

    Raises
    ------
    OutputError
        ``folder`` is a file, another kind of output, or holds files the project did
        not write.
    """
    folder = Path(folder).resolve() if Path(folder).is_symlink() else Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is a file; expected a folder for the study")
    if folder.parent.exists() and not folder.parent.is_dir():
        raise OutputError(f"{folder.parent} is a file; expected a folder to hold {folder.name}")
    refuse_foreign_marker(folder, "--out")
    marker = read_marker(folder)
    # what an earlier save wrote: the marker says in which format (before markers: any)
    written = [f".{marker['format']}"] if marker and marker.get("format") else FORMATS
    tables = {f"{table}{ext}" for table in TABLES for ext in written}
    others = [p.name for p in foreign_entries(folder) if p.name not in tables or p.is_dir()]
    if marker is not None and marker.get("kind") != "study":
        raise OutputError(f"{folder} holds {marker['kind']}, not a study; choose another folder")
    if marker is None and legacy_ok and not others:
        others = [p.name for p in foreign_entries(folder) if _has_fetched_series(p)]
    if others or (marker is None and foreign_entries(folder) and not legacy_ok):
        listed = ", ".join((others or [p.name for p in foreign_entries(folder)])[:4])
        raise OutputError(
            f"{folder} holds files this project did not write ({listed}); the study folder "
            "is replaced whole, so they would be lost. Nothing was written: choose a new or "
            "empty folder, or move those files elsewhere"
        )
