"""Write the panels whose Cox fits R's survival provides as reference numbers.

Run from the project root: ``.venv/bin/python tests/data/reference/cox/make_panels.py``,
then ``Rscript tests/data/reference/cox/cox_reference.R`` (Debian: r-base-core,
r-cran-survival). Writes ``panel_sim.csv`` (committed: simulated, seeded) and
``panel_blm.csv`` (not committed: built from the bundled data in data/processed, the
time from each #BlackLivesMatter case's incident to its first arrest/charge/indictment
in case-weeks, exactly as the 40_outcomes report builds it).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def simulated_panel(n_cases: int = 40, weeks: int = 30, seed: int = 7) -> pd.DataFrame:
    """Weekly counting-process rows with a time-varying covariate, ties and event-free weeks."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_cases):
        level = rng.normal()
        x2 = float(rng.integers(0, 2))
        for w in range(weeks):
            pressure = level + 0.3 * rng.normal()
            hazard = 0.03 * np.exp(0.5 * pressure + 0.4 * x2)
            event = int(rng.random() < hazard)
            rows.append((f"c{i:02d}", 7 * w, 7 * w + 7, event, round(pressure, 6), x2))
            if event:
                break
    return pd.DataFrame(rows, columns=["case_id", "start", "stop", "event", "pressure", "x2"])


def blm_panel() -> pd.DataFrame:
    from analysis import config
    from analysis.datasets import load_study
    from analysis.outcomes import time_to_event_panel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = load_study(config.PROCESSED_DATA_DIR)
    return time_to_event_panel(study, campaign_id="blacklivesmatter")


if __name__ == "__main__":
    sim = simulated_panel()
    sim.to_csv(HERE / "panel_sim.csv", index=False)
    print(f"panel_sim.csv: {len(sim)} rows, {sim['event'].sum()} events")
    blm = blm_panel()
    blm.to_csv(HERE / "panel_blm.csv", index=False, float_format="%.17g")
    print(f"panel_blm.csv: {len(blm)} rows, {blm['event'].sum()} events")
