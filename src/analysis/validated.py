"""A study validated once is trusted until its files, or the code that checks them, change.

:func:`analysis.datasets.load_study` reads a study folder, types every cell and checks it
with pandera — about a second and a half in a fresh process, most of it importing pandera
(and, through it, dask). Every report run loads the same study in a new kernel. So after a
folder has been loaded and validated, its typed tables are kept in
``CACHE_DIR/validated/<key>/`` as Parquet, with its warnings, under a key that hashes:

- the folder's four table files (names and bytes), and
- the source of the code that reads, types and checks them (``schema``, ``datasets``,
  ``study``, ``errors``, this module) and the package version.

:func:`load_trusted` returns the kept study when the key matches, without importing any
validation code; otherwise it loads and validates the folder (a bad folder raises
:class:`~analysis.errors.DataError` as always) and keeps the result. A changed byte in a
table file, or in the checking code, means a new key and a full validation. Only the
project's own cache folder is written; the newest entries are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from . import __version__, config
from .study import Study

__all__ = [
    "is_trusted",
    "load_trusted",
    "trust_key",
]

_TABLES = ("cases", "legal_events", "campaigns", "campaign_activity")
_FRAMES = {"cases": "cases", "legal_events": "legal_events", "campaigns": "campaigns"}
_FRAMES["campaign_activity"] = "activity"
_SUFFIXES = (".csv", ".parquet", ".xlsx")
_KEEP = 8  # cache entries kept (the newest)
_PACKAGE = Path(__file__).resolve().parent
_CHECKING_CODE = ("schema.py", "study.py", "errors.py", "validated.py", "datasets")


def _table_files(data_dir: Path) -> dict[str, Path] | None:
    """The one file of each table, or ``None`` when a table has none or several (then the
    full loader, which names the problem, must run)."""
    found = {}
    for table in _TABLES:
        files = [
            data_dir / f"{table}{s}" for s in _SUFFIXES if (data_dir / f"{table}{s}").is_file()
        ]
        if len(files) != 1:
            return None
        found[table] = files[0]
    return found


def _code_digest() -> str:
    digest = hashlib.sha256(__version__.encode())
    for name in _CHECKING_CODE:
        path = _PACKAGE / name
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(f.name.encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()


def trust_key(data_dir: Path) -> str | None:
    """The cache key of a study folder (files and checking code), or ``None`` when the
    folder does not hold exactly one file per table."""
    files = _table_files(Path(data_dir))
    if files is None:
        return None
    digest = hashlib.sha256(_code_digest().encode())
    for table, f in files.items():
        digest.update(f"{table}:{f.name}:".encode())
        digest.update(hashlib.sha256(f.read_bytes()).digest())
    return digest.hexdigest()[:32]


def _read(entry: Path, source: str) -> Study:
    meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    frames = {_FRAMES[t]: pd.read_parquet(entry / f"{t}.parquet") for t in _TABLES}
    return Study(**frames, warnings=tuple(meta["warnings"]), source=source)


def _keep(study: Study, key: str) -> None:
    """Write the study's tables under ``key`` (a whole folder, renamed into place)."""
    root = config.CACHE_DIR / "validated"
    root.mkdir(parents=True, exist_ok=True)
    entry = root / key
    if entry.is_dir():
        return
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
    try:
        for table in _TABLES:
            getattr(study, _FRAMES[table]).to_parquet(tmp / f"{table}.parquet")
        (tmp / "meta.json").write_text(
            json.dumps({"warnings": list(study.warnings), "key": key}), encoding="utf-8"
        )
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)  # mkdtemp makes 0700; outputs respect the umask
        os.rename(tmp, entry)  # atomic; another process may have won the race
    except OSError:
        pass
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    entries = sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in entries[_KEEP:]:
        shutil.rmtree(old, ignore_errors=True)


def is_trusted(data_dir: Path) -> bool:
    """Whether :func:`load_trusted` would take the study in ``data_dir`` from the cache
    (it was validated, and neither its files nor the checking code changed since)."""
    key = trust_key(Path(data_dir))
    return key is not None and (config.CACHE_DIR / "validated" / key / "meta.json").is_file()


def load_trusted(data_dir: Path) -> Study:
    """The study in ``data_dir``, validated: from the cache when neither its files nor the
    checking code changed since it was last validated, else by
    :func:`analysis.datasets.load_study` (whose result is then kept).

    Warnings are kept on ``Study.warnings`` and not emitted. Raises
    :class:`~analysis.errors.DataError` for an invalid folder, as ``load_study`` does.
    """
    data_dir = Path(data_dir)
    key = trust_key(data_dir)
    entry = config.CACHE_DIR / "validated" / key if key else None
    if entry is not None and (entry / "meta.json").is_file():
        try:
            study = _read(entry, str(data_dir))
            os.utime(entry)  # recently used: kept when older entries are pruned
            return study
        except (OSError, ValueError, KeyError):  # a damaged entry: validate again
            shutil.rmtree(entry, ignore_errors=True)
    from .datasets import load_study

    study = load_study(data_dir, warn=False)
    if key is not None:
        _keep(study, key)
    return study
