"""Profile the computation of one case study and one event study (cProfile).

Run with ``.venv/bin/python benchmarks/profile_runs.py``: it loads the bundled study,
runs what ``notebooks/10_case_study.ipynb`` (George Floyd) and
``notebooks/20_event_study.ipynb`` (charges) compute — without the kernel, the figures'
display or the page — once to warm up and once under cProfile, and writes the 25 most
expensive calls of each (cumulative time) to ``benchmarks/profiles.md``. Imports are
timed apart: in the batch they are paid once per worker (kernels are forked from a
template that has imported them, :mod:`analysis.report.zygote`).
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
ROOT = Path(__file__).resolve().parents[1]

t0 = time.perf_counter()
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from analysis import narrative, plots  # noqa: E402
from analysis.event_study import (  # noqa: E402
    event_time_curves,
    leads_lags,
    placebo_test,
    stacked_event_study,
)
from analysis.its import counterfactual, placebo_in_time, segmented_regression  # noqa: E402
from analysis.timing import TimingRule, onsets, timing_table  # noqa: E402

IMPORTS = time.perf_counter() - t0


def case_study(
    case_id: str = "george_floyd", its_event: str = "george_floyd:2021-04-20:conviction"
) -> None:
    """What the case-study notebook computes and draws, with its default parameters."""
    study = narrative.load("")
    case = narrative.case_header(study, case_id)
    series_id = narrative.primary_series(study, case_id)
    timing = timing_table(
        study, TimingRule(window=14, n_boot=199, seed=0), include_incidents=True, cases=[case_id]
    ).table
    o = onsets(study, cases=[case_id], n_boot=199, seed=0).iloc[0]
    shown = narrative.case_window(study, case_id, series_id)
    events = study.legal_events.query("case_id == @case_id and date_precision == 'day'")
    plots.series_with_events(
        shown, events, title="t", onset=(o["onset"], o["onset_low"], o["onset_high"])
    )
    narrative.onset_conclusion(study, case, series_id, o)
    narrative.timing_conclusion(timing, case)
    key = narrative.key_event(timing, case_id, its_event)
    series = narrative.case_window(study, case_id, series_id, before=400, after=400)
    segmented_regression(series, key["date"], pre_days=60, post_days=60)
    impact = counterfactual(series, key["date"], pre_days=90, post_days=28, seed=0)
    counterfactual(series, key["date"], pre_days=90, post_days=28, seed=0, prior="causalimpact")
    placebo_in_time(series, key["date"], offsets=(28, 56, 84), pre_days=90, post_days=28, seed=0)
    window = series[key["date"] - pd.Timedelta(days=90) : key["date"] + pd.Timedelta(days=28)]
    plots.counterfactual(window, impact.pointwise, key["date"], title="t")
    plt.close("all")


def event_study(event_type: str = "charge") -> None:
    """What the event-study notebook computes and draws, with its default parameters."""
    study = narrative.load("")
    narrative.event_sample(study, event_type, 14, 28)
    curves = event_time_curves(study, window=14, event_types=[event_type], n_boot=999, seed=0)
    plots.event_time_curves(curves)
    ll = leads_lags(study, window=14, event_types=[event_type], seed=0)
    plots.coefficients(ll.tidy())
    stacked_event_study(study, window=14, event_types=[event_type], seed=0)
    placebo_test(study, window=14, event_types=[event_type], n_draws=1000, seed=0)
    plt.close("all")


def profile(fn) -> tuple[float, str]:
    fn()  # warm up (first calls load caches)
    t = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t
    prof = cProfile.Profile()
    prof.runcall(fn)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).strip_dirs().sort_stats("cumulative").print_stats(25)
    return seconds, out.getvalue()


def main() -> int:
    lines = [
        "# Profiles of one case study and one event study",
        "",
        f"Written by `benchmarks/profile_runs.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        f"Imports of a notebook's modules in a fresh process: {IMPORTS:.2f} s (paid once per "
        "worker in the batch: kernels are forked from a template that has them).",
        "",
    ]
    for name, fn in (
        ("Case study: George Floyd", case_study),
        ("Event study: charge", event_study),
    ):
        seconds, table = profile(fn)
        lines += [f"## {name}: {seconds:.2f} s of computation", "", "```", table.strip(), "```", ""]
        print(f"{name}: {seconds:.2f} s")
    (ROOT / "benchmarks" / "profiles.md").write_text("\n".join(lines) + "\n")
    print("wrote benchmarks/profiles.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
