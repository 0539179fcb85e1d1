"""Every path the project uses, in one place.

The project root is found from the environment variable ``PP_ROOT``, else by walking up
from the working directory to a ``pyproject.toml`` that names this project, else from
this file's location (an editable install). Nothing else in the package builds paths
from strings.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "CACHE_DIR",
    "CURATED_DIR",
    "DATA_DIR",
    "FIGURES_DIR",
    "MANIFEST_FILE",
    "NOTEBOOKS_DIR",
    "PROCESSED_DATA_DIR",
    "PROJECT_NAME",
    "PROJ_ROOT",
    "RAW_DATA_DIR",
    "REPORTS_DIR",
    "USER_DATA_DIR",
    "data_mirror",
    "find_root",
    "memory_limit",
]

PROJECT_NAME = "pressure-precedent"


def _is_project_root(path: Path) -> bool:
    pyproject = path / "pyproject.toml"
    try:
        return f'name = "{PROJECT_NAME}"' in pyproject.read_text(encoding="utf-8")
    except OSError:
        return False


def find_root(start: Path | None = None) -> Path:
    """Return the project root directory.

    Parameters
    ----------
    start : Path, optional
        Where to start looking (default: the working directory).

    Returns
    -------
    Path
        ``$PP_ROOT`` if set; else the nearest ancestor of ``start`` holding this
        project's ``pyproject.toml``; else the checkout this module lives in.
    """
    if os.environ.get("PP_ROOT"):
        return Path(os.environ["PP_ROOT"]).resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if _is_project_root(candidate):
            return candidate
    return Path(__file__).resolve().parents[2]


PROJ_ROOT: Path = find_root()
DATA_DIR: Path = PROJ_ROOT / "data"
RAW_DATA_DIR: Path = DATA_DIR / "raw"
CURATED_DIR: Path = RAW_DATA_DIR / "curated"
MANIFEST_FILE: Path = RAW_DATA_DIR / "sources.toml"
PROCESSED_DATA_DIR: Path = DATA_DIR / "processed"
#: Series a user fetched (``fetch``): never rebuilt, merged into the study by ``prepare``.
USER_DATA_DIR: Path = DATA_DIR / "user"
NOTEBOOKS_DIR: Path = PROJ_ROOT / "notebooks"
REPORTS_DIR: Path = PROJ_ROOT / "reports"
FIGURES_DIR: Path = REPORTS_DIR / "figures"
#: Replies of fetch and other caches (``PP_CACHE_DIR`` moves them, e.g. for tests).
CACHE_DIR: Path = Path(os.environ.get("PP_CACHE_DIR") or PROJ_ROOT / ".cache")


def data_mirror() -> Path | None:
    """Return the local mirror of third-party raw files, if there is one.

    ``$PP_DATA_MIRROR`` when set (it must exist), else ``../shared/data/raw`` beside
    the project root when that folder exists, else ``None`` (files are downloaded).
    """
    env = os.environ.get("PP_DATA_MIRROR")
    if env:
        return Path(env).resolve()
    default = PROJ_ROOT.parent / "shared" / "data" / "raw"
    return default.resolve() if default.is_dir() else None


def memory_limit() -> str | None:
    """Return the memory cap for streaming work (``$PP_MEMORY_LIMIT``, e.g. ``"300MB"``)."""
    return os.environ.get("PP_MEMORY_LIMIT") or None
