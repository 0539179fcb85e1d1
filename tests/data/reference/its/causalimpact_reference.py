"""Reference intervals for analysis.its.counterfactual, from bsts-causalimpact.

Run from the project root (bsts-causalimpact is not a dependency of the project; the
bundled data must be prepared: ``make prepare``):
    .venv/bin/python -m pip install bsts-causalimpact==1.7.0
    .venv/bin/python tests/data/reference/its/causalimpact_reference.py
Writes ``causalimpact_reference.csv``: R-compatible CausalImpact (default priors,
standardised data, local level, 20,000 draws after 500 warm-up, seed 1) on log1p
activity around two events of the case studies; the average effect per post day and
its 95 % interval.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from causal_impact import CausalImpact

from analysis import config
from analysis.align import SeriesBank
from analysis.datasets import load_study

HERE = Path(__file__).resolve().parent
CASES = [  # series, first post day, training days, post days
    ("mahsaamini", "2022-11-24", 60, 60),
    ("mahsaamini", "2022-11-24", 60, 28),
    ("blacklivesmatter", "2021-04-20", 90, 28),
]


def main() -> None:
    warnings.simplefilter("ignore")
    bank = SeriesBank.from_activity(load_study(config.PROCESSED_DATA_DIR).activity)
    rows = []
    for cid, day, pre, post in CASES:
        y = np.log1p(bank.series(cid))
        t0 = pd.Timestamp(day)
        win = y[(y.index >= t0 - pd.Timedelta(days=pre)) & (y.index < t0 + pd.Timedelta(days=post))]
        frame = pd.DataFrame({"y": win.to_numpy()}, index=win.index)
        ci = CausalImpact(
            frame,
            [win.index[0], t0 - pd.Timedelta(days=1)],
            [t0, win.index[-1]],
            model_args={"niter": 20000, "nwarmup": 500, "seed": 1},
        )
        st = ci.summary_stats
        rows.append(
            {
                "campaign_id": cid,
                "event_date": day,
                "pre_days": pre,
                "post_days": post,
                "avg_effect": st["point_effect_mean"],
                "avg_effect_low": st["ci_lower"],
                "avg_effect_high": st["ci_upper"],
            }
        )
    out = pd.DataFrame(rows)
    out.to_csv(HERE / "causalimpact_reference.csv", index=False, float_format="%.8g")
    print(out.to_string())


if __name__ == "__main__":
    main()
