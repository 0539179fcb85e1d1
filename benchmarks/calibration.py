"""Calibration of the studies on simulated data with planted truth (not speed).

Run with ``.venv/bin/python benchmarks/calibration.py`` (about twenty minutes on two cores);
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


def _local_level(
    seed: int, shift: float, n: int, t0: int, walk: float = 0.02
) -> tuple[pd.Series, pd.Timestamp]:
    rng = np.random.default_rng(seed)
    y = 5 + np.cumsum(rng.normal(0, walk, n)) + rng.normal(0, 0.1, n) + shift * (np.arange(n) >= t0)
    days = pd.date_range("2022-01-01", periods=n)
    return pd.Series(y, index=days), days[t0]


def _true_parameter_alarm(y: pd.Series, t0: pd.Timestamp, walk: float, seed: int) -> bool:
    """The same check with the data-generating variances plugged in (the best possible)."""
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    train = y[(y.index >= t0 - pd.Timedelta(days=100)) & (y.index < t0)].to_numpy()
    res = UnobservedComponents(train, level="local level").filter([0.01, walk**2])
    sims = res.simulate(20, repetitions=1000, anchor="end", rng=np.random.default_rng(seed))
    effects = y[(y.index >= t0)].iloc[:20].sum() - np.asarray(sims).reshape(20, -1).sum(axis=0)
    lo, hi = np.quantile(effects, [0.025, 0.975])
    return bool(lo > 0 or hi < 0)


def _placebo_alarms(job: tuple[int, float]) -> dict[str, list[bool]]:
    """False alarms at three placebo dates of one no-effect series, by method."""
    warnings.simplefilter("ignore")
    seed, walk = job
    y, t0 = _local_level(seed, 0.0, 260, 220, walk)
    out = {}
    for method in ("bayes", "mle"):
        p = placebo_in_time(
            y,
            t0,
            offsets=(30, 60, 90),
            post_days=20,
            pre_days=100,
            transform="none",
            method=method,
            n_sims=1000,
            seed=seed,
        )
        out[method] = p["excludes_zero"].tolist()
    out["truth"] = [
        _true_parameter_alarm(y, t0 - pd.Timedelta(days=off), walk, seed) for off in (30, 60, 90)
    ]
    return out


def _covers(seed: int) -> dict[str, bool]:
    warnings.simplefilter("ignore")
    y, t0 = _local_level(seed, 0.5, 160, 120)
    out = {}
    for method in ("bayes", "mle"):
        c = counterfactual(
            y,
            t0,
            pre_days=100,
            post_days=20,
            transform="none",
            method=method,
            n_sims=1000,
            seed=seed,
        ).cumulative
        out[method] = bool(c["conf_low"] <= 10 <= c["conf_high"])
    return out


def counterfactual_calibration(series: int = 100, seeds: int = 100) -> list[str]:
    """False alarms at placebo dates and coverage of a planted effect, Bayes against ML."""
    from concurrent.futures import ProcessPoolExecutor

    walks = (0.0, 0.02, 0.05)
    lines = [
        f"Local level (noise sd 0.1) with no effect: {series} series × 3 placebo dates = "
        f"{3 * series} windows per row; 100 training days, 20 effect days, 95 % interval of "
        "the 20-day sum from 1,000 paths. Share of windows whose interval excludes 0 "
        "(nominal 5 %):",
        "",
        "| level walk sd | true parameters | Bayes (default) | ML plug-in |",
        "|---|---|---|---|",
    ]
    with ProcessPoolExecutor(2) as pool:
        for walk in walks:
            rows = list(pool.map(_placebo_alarms, [(s, walk) for s in range(series)]))
            rate = {m: np.mean([a for r in rows for a in r[m]]) for m in ("truth", "bayes", "mle")}
            lines.append(
                f"| {walk} | {rate['truth']:.1%} | {rate['bayes']:.1%} | {rate['mle']:.1%} |"
            )
        covered = list(pool.map(_covers, range(seeds)))
    lines += [
        "",
        f"A planted shift of 0.5 per day (walk sd 0.02, 20 days: cumulative effect 10) is inside "
        f"the 95 % interval in {np.mean([c['bayes'] for c in covered]):.1%} of {seeds} seeds "
        f"(Bayes) and {np.mean([c['mle'] for c in covered]):.1%} (ML).",
    ]
    return lines


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
        "## Onsets and placebo inference",
        "",
        f"- {onset_coverage()}",
        f"- {placebo_uniformity()}",
        "",
        "## The counterfactual (its.counterfactual)",
        "",
        *counterfactual_calibration(),
        "",
    ]
    path = ROOT / "benchmarks" / "calibration.md"
    path.write_text("\n".join(out) + "\n")
    print("\n".join(out))
    print(f"wrote {path} in {time.perf_counter() - t:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
