"""What the notebooks read and write: the study they load and the headline numbers each run
records.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config
from .._io import atomic_write
from ..study import Study
from ..validated import load_trusted

__all__ = [
    "load",
    "reference_source",
    "save_headlines",
    "table_download",
]


def load(data_dir: str | Path = "") -> Study:
    """Load a study folder (default: ``data/processed``), validated; warnings are kept on
    the study. A folder validated before, unchanged since, is read from the cache of
    :mod:`analysis.validated` without importing the validation code."""
    return load_trusted(Path(data_dir) if str(data_dir) else config.PROCESSED_DATA_DIR)


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is pd.NaT or value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return value


def save_headlines(path: str | Path, **numbers: object) -> None:
    """Write a run's headline numbers as JSON (atomically); the report index shows them.

    NaN, NaT and infinities become ``null``; numpy scalars and timestamps become plain
    JSON values. An empty ``path`` (a notebook opened in JupyterLab rather than run by
    the batch) writes nothing, so no ``results.json`` lands among the notebooks.
    """
    if not str(path):
        return
    data = _jsonable(numbers)
    atomic_write(Path(path), lambda p: p.write_text(json.dumps(data, indent=2, ensure_ascii=False)))


def reference_source(name: str) -> list[dict[str, str]]:
    """A published source of the manifest (``data/raw/sources.toml``) for a page footer:
    ``label`` (its title), ``source`` (its citation), ``license`` and ``source_url``
    (its repository). Empty when the manifest does not list it."""
    import tomllib

    try:
        entry = tomllib.loads(config.MANIFEST_FILE.read_text(encoding="utf-8"))["sources"][name]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return []
    return [
        {
            "campaign_id": "",
            "label": str(entry.get("title", name)),
            "source": str(entry.get("citation", "")),
            "license": str(entry.get("license", "")),
            "source_url": str(entry.get("repository", "")),
        }
    ]


def table_download(frame: pd.DataFrame, name: str, results_path: str | Path = "") -> str:
    """Write ``frame`` as ``table-<name>.csv`` beside the run's results and return a
    Markdown link to it, for a reader who wants the numbers (all columns, full precision).

    Only batch runs write it (``results_path`` set: the file goes into the run's own
    folder, beside its page); a notebook opened by hand writes nothing and gets ``""``.
    """
    if not results_path:
        return ""
    if not re.fullmatch(r"[a-z0-9_]{1,40}", name):
        raise ValueError(f"table name {name!r}: lower-case letters, digits and '_' only")
    path = Path(results_path).parent / f"table-{name}.csv"
    atomic_write(path, lambda p: frame.to_csv(p, index=False))
    return f"[Download this table (CSV)]({path.name})"
