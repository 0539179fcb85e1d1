"""Writing files safely: never half a file, never a file the project did not write.

No heavy imports here. Three guarantees, used by every command that writes:

- :func:`atomic_write` writes a file under a temporary name and renames it, so a reader
  sees the old file or the complete new one; the file gets the mode the umask asks for
  (``tempfile.mkstemp`` alone would leave 0600, unreadable by a colleague or a web server).
- :func:`claim_folder` makes an output folder the project's own: a new or empty folder
  gets a marker file (:data:`MARKER`); a non-empty folder without it is refused with
  :class:`~analysis.errors.OutputError` unless the caller allows it explicitly. Only
  folders that carry the marker are ever cleaned up.
- :func:`replace_folder` switches a folder's whole content in one step (Linux
  ``renameat2(RENAME_EXCHANGE)``), so several tables written together are never seen
  half old, half new.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import glob
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import OutputError

#: The file that marks a folder as written by this project (JSON: what the folder holds).
MARKER = ".pressure-precedent"
#: Files a folder may hold and still count as empty (version-control placeholders and
#: the files desktops leave everywhere); a folder the project replaces keeps them.
PLACEHOLDERS = frozenset({".gitkeep", ".keep", ".DS_Store", "Thumbs.db", "desktop.ini"})


def umask() -> int:
    """The process's file-mode creation mask (read without changing it where possible)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no way to read it without setting it elsewhere
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` and move the result to ``path`` only if it succeeded.

    The temporary file (``.<name>.<random>.tmp``) sits in the destination folder, so the
    final rename is atomic: readers see either the old file or the complete new one,
    never half a file. A new file gets mode ``0666`` less the umask, as for a file
    opened the ordinary way; a replaced file keeps its mode. A symbolic link is
    followed: the file it points to is replaced, the link stays.
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode) if path.is_file() else 0o666 & ~umask()
    except OSError:
        mode = 0o666 & ~umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (``flock`` on the folder itself, no lock file).

    Two commands that read, change and write tables of one folder take turns instead
    of losing each other's rows.
    """
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def temp_names(folder: Path, names: Iterable[str]) -> list[Path]:
    """Temporary files that :func:`atomic_write` of ``names`` left in ``folder`` (if killed)."""
    folder = Path(folder)
    found: list[Path] = []
    for name in names:
        found += [p for p in folder.glob(f".{glob.escape(name)}.*.tmp") if p.is_file()]
    return found


def read_marker(folder: Path) -> dict[str, Any] | None:
    """What the marker of ``folder`` says (``None`` when the folder has no valid marker).

    Only a regular file of at most 64 KiB holding a JSON object with a text ``kind`` and
    ``written_by`` of this project counts (a directory, a pipe or a user's own file of
    that name does not).
    """
    path = Path(folder) / MARKER
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 65536:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = (
        isinstance(data, dict)
        and isinstance(data.get("kind"), str)
        and data.get("written_by") == "pressure-precedent"
    )
    return data if ok else None


def write_marker(folder: Path, kind: str, **info: object) -> Path:
    """Mark ``folder`` as the project's own output of ``kind`` (atomically)."""
    text = json.dumps({"kind": kind, "written_by": "pressure-precedent", **info}, indent=2)
    return atomic_write(Path(folder) / MARKER, lambda p: p.write_text(text, encoding="utf-8"))


def _ignorable(path: Path) -> bool:
    """A placeholder file, or the project's own marker (regular files only)."""
    if path.is_symlink() or not path.is_file():
        return False
    if path.name == MARKER:
        return read_marker(path.parent) is not None
    return path.name in PLACEHOLDERS


def foreign_entries(folder: Path) -> list[Path]:
    """Entries of ``folder`` other than the project's marker and placeholder files."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if not _ignorable(p))


def refuse_foreign_marker(folder: Path, what: str) -> None:
    """Refuse a folder whose marker name is taken by something that is not our marker."""
    if (Path(folder) / MARKER).exists() and read_marker(folder) is None:
        raise OutputError(
            f"{what}: {Path(folder) / MARKER} is not this project's marker (a folder, or a "
            "file of yours by that name); nothing was written. Choose another folder"
        )


def claim_folder(
    folder: Path,
    kind: str,
    *,
    what: str,
    allow_foreign: bool = False,
    looks_ours: Callable[[Path], bool] | None = None,
    **info: object,
) -> Path:
    """Make ``folder`` an output folder of ``kind`` that the project may write to.

    Parameters
    ----------
    folder : Path
        The output folder; created (with its parents) when missing.
    kind : str
        What the folder holds (``"reports"``, ``"study"``); a folder marked with
        another kind is refused.
    what : str
        The option or purpose, for the message (``"report --out"``).
    allow_foreign : bool
        Accept a non-empty folder without a marker (for callers that only add new,
        uniquely named files).
    looks_ours : callable, optional
        Recognises a folder written by an earlier version of the project, before
        markers existed; such a folder is marked and accepted.
    **info
        Extra facts to record in the marker (only when the folder is new to it).

    Raises
    ------
    OutputError
        When ``folder`` is a file, belongs to another kind of output, or is a
        non-empty folder the project did not write.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{what}: {folder} is a file; expected a folder for the {kind}")
    refuse_foreign_marker(folder, what)
    marker = read_marker(folder)
    if marker is not None:
        if marker["kind"] != kind:
            raise OutputError(
                f"{what}: {folder} holds {marker['kind']} written by this project, not {kind}; "
                "choose another folder"
            )
        return folder
    if foreign_entries(folder) and not allow_foreign and not (looks_ours and looks_ours(folder)):
        entries = foreign_entries(folder)
        shown = ", ".join(p.name for p in entries[:3]) + ("…" if len(entries) > 3 else "")
        raise OutputError(
            f"{what}: {folder} is not empty ({shown}) and was not written by this project "
            f"(it has no valid {MARKER} file); nothing was written. Choose a new or empty "
            "folder"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_marker(folder, kind, **info)
    except OSError as exc:
        raise OutputError(f"{what}: cannot write to {folder}: {exc.strerror or exc}") from exc
    return folder


# --------------------------------------------------------------------------- whole folders

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); ``False`` when not supported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if done == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):  # not on this file system
        return False
    raise OSError(err, os.strerror(err), str(b))


def stage_folder(target: Path) -> Path:
    """A new empty folder beside ``target`` to build its replacement in (mode from umask)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".new", dir=target.parent))
    os.chmod(stage, 0o777 & ~umask())
    return stage


def replace_folder(stage: Path, target: Path, *, old_is_ours: bool = False) -> None:
    """Make ``stage`` (a folder from :func:`stage_folder`) the new ``target`` in one step.

    Where the system can swap two folders atomically, a reader of ``target`` sees the
    old content or the new, never a mixture, even if the process is killed. Elsewhere
    the old folder is renamed aside first (a kill between the two renames leaves it
    under ``.<name>.*.old``, and :func:`recover_folder` puts it back). The old content is
    deleted only after the switch, and only if it carries this project's marker or the
    caller checked that it holds nothing else (``old_is_ours``).
    """
    stage, target = Path(stage), Path(target)
    if not target.exists():
        os.rename(stage, target)
        return
    if _exchange(stage, target):
        old = stage
    else:
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        os.rmdir(old)
        os.rename(target, old)
        os.rename(stage, target)
    if old_is_ours or read_marker(old) is not None:
        shutil.rmtree(old, ignore_errors=True)


def recover_folder(target: Path) -> list[Path]:
    """Tidy what an interrupted :func:`replace_folder` left beside ``target``.

    A half-built ``.<name>.*.new`` is removed; an old folder set aside with no new one
    in its place is renamed back. Only folders carrying the project's marker (or empty
    ones) are touched. Returns the paths removed or restored.
    """
    target = Path(target)
    touched: list[Path] = []
    if not target.parent.is_dir():
        return touched
    name = glob.escape(target.name)
    for path in sorted(target.parent.glob(f".{name}.*.old")):
        if read_marker(path) is None:
            continue
        if not target.exists():
            os.rename(path, target)
        else:
            shutil.rmtree(path, ignore_errors=True)
        touched.append(path)
    for path in sorted(target.parent.glob(f".{name}.*.new")):
        if path.is_dir() and (read_marker(path) is not None or not any(path.iterdir())):
            shutil.rmtree(path, ignore_errors=True)
            touched.append(path)
    return touched
