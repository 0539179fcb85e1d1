"""Shared fixtures: the minimal example study, and the real bundled data (via the mirror)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

TESTS_DIR = Path(__file__).resolve().parent
MINIMAL_STUDY = TESTS_DIR / "data" / "minimal_study"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture
def minimal_dir(tmp_path: Path) -> Path:
    """A writable copy of the minimal example study folder."""
    dest = tmp_path / "study"
    shutil.copytree(MINIMAL_STUDY, dest)
    return dest


@pytest.fixture(scope="session")
def raw_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The third-party raw files, fetched through the manifest into a temporary folder."""
    from analysis.config import data_mirror
    from analysis.errors import DataError
    from analysis.manifest import fetch

    if data_mirror() is None:
        pytest.skip("no data mirror (set PP_DATA_MIRROR or place ../shared/data/raw)")
    dest = tmp_path_factory.mktemp("raw")
    try:
        fetch(dest, download=False, progress=False)
    except DataError as err:
        pytest.skip(f"raw data unavailable: {err.lines()[0]}")
    return dest


@pytest.fixture(scope="session")
def real_study(raw_dir: Path):
    """The bundled real study, built from the raw files (not from data/processed)."""
    from analysis.prepare import build_study

    return build_study(raw_dir, progress=False)


@pytest.fixture(scope="session")
def processed_dir(raw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``prepare`` run into a temporary folder."""
    from analysis.prepare import prepare

    out = tmp_path_factory.mktemp("processed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepare(out, raw_dir, progress=False)
    return out
