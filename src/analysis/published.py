"""Reading the published data the project reproduces (data layer).

Kelley & Simmons (2015) publish their risk sets; :mod:`analysis.replication` refits their
Cox models on the frames read here and compares with the published estimates.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import config

__all__ = ["KS_REFERENCE_DIR", "ks_risk_sets", "load_reference"]

#: Where ``make data`` puts the authors' risk sets.
KS_REFERENCE_DIR: Path = config.RAW_DATA_DIR / "reference" / "kelley_simmons_2015"
KS_FILES: tuple[str, ...] = ("ks_table1_riskset.csv", "ks_table3_riskset.csv")


def ks_risk_sets(folder: Path | None = None) -> dict[str, pd.DataFrame]:
    """The authors' two risk sets (one row per country-year at risk), by file name.

    Parameters
    ----------
    folder : Path, optional
        Folder holding ``ks_table1_riskset.csv`` and ``ks_table3_riskset.csv`` (default:
        :data:`KS_REFERENCE_DIR`).
    """
    folder = Path(folder or KS_REFERENCE_DIR)
    return {name: pd.read_csv(folder / name) for name in KS_FILES}


def load_reference(path: Path) -> pd.DataFrame:
    """Published (R) estimates: ``model``, ``term``, ``hazard_ratio``, ``coef``, ``robust_se``."""
    return pd.read_csv(path, comment="#", dtype={"model": str})
