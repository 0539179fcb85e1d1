"""Calibration of the studies on simulated data with planted truth (not speed).

Run with ``.venv/bin/python benchmarks/calibration.py`` (about two minutes on two cores);
writes ``benchmarks/calibration.md``. Every figure is seeded, so a rerun gives the same
numbers. The tests hold weaker bounds on fewer seeds; this script measures more.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from analysis.align import SeriesBank  # noqa: E402
from analysis.event_study import ks_uniform, placebo_test  # noqa: E402
from analysis.its import counterfactual, placebo_in_time  # noqa: E402
from analysis.simulate import simulate_study  # noqa: E402
from analysis.timing import TimingRule, detect_onset, timing_table  # noqa: E402


def label_accuracy() -> list[str]:
    """Share of 400 simulated events whose label matches the planted pattern, by lead."""
    lines = [
        "| lead (days) | accuracy | preceded | followed | both | neither |",
        "|---|---|---|---|---|---|",
    ]
    for lead in (7, 10, 14, 21, 28):
        sim = simulate_study(400, lead=lead, effect=1.0, noise=0.25, seed=3)
        t = timing_table(sim.study, TimingRule(n_boot=499)).table.merge(
            sim.truth[["event_id", "pattern"]], on="event_id"
        )
        hit = t["label"] == t["pattern"]
        per = hit.groupby(t["pattern"]).mean()
        lines.append(
            f"| {lead} | {hit.mean():.1%} | {per['preceded']:.0%} | {per['followed']:.0%} | {per['both']:.0%} | {per['neither']:.0%} |"
        )
    return lines


def onset_coverage(seeds: int = 40) -> str:
    covered, exact = [], []
    for seed in range(seeds):
        sim = simulate_study(1, patterns="preceded", lead=21, n_days=200, seed=seed)
        ev = sim.truth.iloc[0]
        s = SeriesBank.from_activity(sim.study.activity).series(ev["campaign_id"])
        s = s[
            (s.index >= ev["date"] - pd.Timedelta(days=60))
            & (s.index <= ev["date"] + pd.Timedelta(days=20))
        ]
        o = detect_onset(s, n_boot=99, seed=seed)
        covered.append(o.onset_low is not None and o.onset_low <= ev["onset"] <= o.onset_high)
        exact.append(o.onset == ev["onset"])
    return f"onset 95% band covers the planted onset in {np.mean(covered):.1%} of {seeds} seeds; exact onset in {np.mean(exact):.1%}"


def placebo_uniformity(seeds: int = 100) -> str:
    p = [
        placebo_test(
            simulate_study(10, patterns="neither", seed=100 + s).study, n_draws=199, seed=s
        ).p_values["post_vs_pre"]
        for s in range(seeds)
    ]
    return f"placebo p-values under the null: KS p = {ks_uniform(p):.2f} over {seeds} seeds; {np.mean(np.array(p) < 0.05):.1%} below 0.05"


def _local_level(seed: int, shift: float, n: int, t0: int) -> tuple[pd.Series, pd.Timestamp]:
    rng = np.random.default_rng(seed)
    y = 5 + np.cumsum(rng.normal(0, 0.02, n)) + rng.normal(0, 0.1, n) + shift * (np.arange(n) >= t0)
    days = pd.date_range("2022-01-01", periods=n)
    return pd.Series(y, index=days), days[t0]


def counterfactual_calibration() -> list[str]:
    alarms = []
    for seed in range(40):
        y, t0 = _local_level(seed, 0.0, 260, 220)
        p = placebo_in_time(
            y, t0, offsets=(30, 60, 90), post_days=20, pre_days=100, transform="none", n_sims=400
        )
        alarms += p["excludes_zero"].tolist()
    covered = []
    for seed in range(60):
        y, t0 = _local_level(seed, 0.5, 160, 120)
        c = counterfactual(
            y, t0, pre_days=100, post_days=20, transform="none", n_sims=400, seed=seed
        ).cumulative
        covered.append(c["conf_low"] <= 10 <= c["conf_high"])
    return [
        f"counterfactual placebo dates with an interval excluding 0: {np.mean(alarms):.1%} of {len(alarms)} (nominal 5%)",
        f"counterfactual 95% interval covers a planted cumulative effect in {np.mean(covered):.1%} of 60 seeds",
    ]


def main() -> int:
    warnings.simplefilter("ignore")
    t = time.perf_counter()
    out = [
        "# Calibration on simulated data",
        "",
        "Regenerate with `.venv/bin/python benchmarks/calibration.py` (seeded).",
        "",
        "## Timing labels: accuracy by lead",
        "",
        "400 events (100 per pattern), planted rise of 1.0 log units, AR(1) log noise sd 0.25 (SNR 4), "
        "φ 0.5, window 14 days, baseline 28 days, 499 bootstrap replicates.",
        "",
        *label_accuracy(),
        "",
        "## Onsets, placebo inference and the counterfactual",
        "",
        f"- {onset_coverage()}",
        f"- {placebo_uniformity()}",
        *[f"- {line}" for line in counterfactual_calibration()],
        "",
    ]
    path = ROOT / "benchmarks" / "calibration.md"
    path.write_text("\n".join(out) + "\n")
    print("\n".join(out))
    print(f"wrote {path} in {time.perf_counter() - t:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
