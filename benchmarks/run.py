"""Benchmarks: the main job and the hot paths against what users would do instead.

Run with ``make bench`` (or ``python benchmarks/run.py [--quick] [--only NAME]``).
Each benchmark times ours (A) and the baseline (B) in the same run, interleaved
A B A B, and reports medians and the ratio baseline / ours. Results go to
``benchmarks/results.md`` with the machine's cores and memory. Nothing here is a test:
a slow machine changes the numbers, not the outcome of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


@dataclass
class Row:
    name: str
    baseline: str
    ours_s: float | None
    base_s: float | None
    goal: str
    met: str
    notes: str = ""
    scaling: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> str:
        if self.ours_s and self.base_s:
            return f"{self.base_s / self.ours_s:.1f}×"
        return "—"


def abab(ours: Callable[[], object], base: Callable[[], object], reps: int) -> tuple[float, float]:
    """Median seconds of ``ours`` and ``base``, interleaved A B A B … ``reps`` times each."""
    a, b = [], []
    for _ in range(reps):
        t = time.perf_counter()
        ours()
        a.append(time.perf_counter() - t)
        t = time.perf_counter()
        base()
        b.append(time.perf_counter() - t)
    return statistics.median(a), statistics.median(b)


def timed(fn: Callable[[], object], reps: int = 3) -> float:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def peak_rss_mb(code: str, env: dict | None = None) -> tuple[float, float, str]:
    """(seconds, peak resident memory in MB, stdout) of Python code in a new process."""
    wrapper = textwrap.dedent(
        f"""
        import sys
        exec(compile({code!r}, "<bench>", "exec"), {{"__name__": "__bench__"}})
        # VmHWM starts afresh at exec (ru_maxrss would carry the parent's peak over)
        hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
        print("PEAK_KB", hwm, file=sys.stderr)
        """
    )
    t = time.perf_counter()
    proc = subprocess.run(
        [PY, "-c", wrapper],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    kb = int(proc.stderr.rsplit("PEAK_KB", 1)[1].split()[0])
    return seconds, kb / 1024, proc.stdout


# --------------------------------------------------------------------------- posts


def write_posts(path: Path, n: int, seed: int = 0) -> Path:
    """A CSV of ``n`` posts (ISO timestamps with offsets, text with hashtags)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    chunk = 1_000_000
    tags = np.array(
        [
            "#IchBinHanna text",
            "#WissZeitVG text",
            "#FristIstFrust more",
            "plain words",
            "#ichbinhanna",
        ]
    )
    with pacsv.CSVWriter(
        path, pa.schema([("created_at", pa.string()), ("text", pa.string())])
    ) as writer:
        for lo in range(0, n, chunk):
            m = min(chunk, n - lo)
            secs = rng.integers(0, 3 * 365 * 86400, m)
            stamps = (np.datetime64("2020-01-01T00:00:00") + secs.astype("timedelta64[s]")).astype(
                str
            )
            stamps = np.char.add(stamps, "Z")
            text = tags[rng.integers(0, len(tags), m)]
            writer.write_table(pa.table({"created_at": stamps, "text": text}))
    return path


COUNT_OURS = """
from analysis.ingest import count_posts
d = count_posts({path!r}, campaigns={{"ichbinhanna": ["#ichbinhanna"], "law": ["#wisszeitvg", "#frististfrust"]}},
                match_column="text", memory_limit={limit!r})
print(int(d["value"].sum()))
"""

COUNT_PANDAS = """
import pandas as pd
d = pd.read_csv({path!r})
day = pd.to_datetime(d["created_at"], utc=True).dt.floor("D")
low = d["text"].str.lower()
a = day[low.str.contains("#ichbinhanna", regex=False)].value_counts()
b = day[low.str.contains("#wisszeitvg", regex=False) | low.str.contains("#frististfrust", regex=False)].value_counts()
print(int(a.sum() + b.sum()))
"""


def bench_count(tmp: Path, quick: bool) -> list[Row]:
    n = 1_000_000 if quick else 10_000_000
    scaling = []
    for size in [10**5, 10**6] if quick else [10**5, 10**6, 10**7]:
        p = write_posts(tmp / f"posts_{size}.csv", size)
        t_ours, rss, _ = peak_rss_mb(COUNT_OURS.format(path=str(p), limit="300MB"))
        scaling.append(f"{size:,} posts: {t_ours:.1f} s, peak {rss:.0f} MB")
    path = tmp / f"posts_{n}.csv"
    ours_t, base_t, ours_rss, base_rss = [], [], [], []
    for _ in range(2):
        t, rss, out_a = peak_rss_mb(COUNT_OURS.format(path=str(path), limit="300MB"))
        ours_t.append(t)
        ours_rss.append(rss)
        t, rss, out_b = peak_rss_mb(COUNT_PANDAS.format(path=str(path)))
        base_t.append(t)
        base_rss.append(rss)
    same = out_a.strip() == out_b.strip()
    o, b = statistics.median(ours_t), statistics.median(base_t)
    peak = max(ours_rss)
    rows = [
        Row(
            f"count {n:,} posts (CSV, {path.stat().st_size / 1e6:.0f} MB) into daily counts per campaign",
            "pandas read_csv + to_datetime + groupby",
            o,
            b,
            "≥ 2.5× faster, peak ≤ 300 MB",
            "yes" if b / o >= 2.5 and peak <= 300 else "no",
            f"peak RSS ours {peak:.0f} MB vs pandas {max(base_rss):.0f} MB; totals {out_a.strip()} and "
            f"{out_b.strip()} ({'equal' if same else 'DIFFERENT'})",
            scaling,
        )
    ]
    # An archive 4x larger than the memory we allow.
    limit_mb = 100 if not quick else 48
    big = path
    factor = big.stat().st_size / (limit_mb * 1e6)
    t, rss, _ = peak_rss_mb(
        COUNT_OURS.format(path=str(big), limit=f"{limit_mb}MB"),
        env={"PP_MEMORY_LIMIT": f"{limit_mb}MB"},
    )
    _, floor_rss, _ = peak_rss_mb("import analysis.ingest, duckdb, pandas")
    rows.append(
        Row(
            f"count an archive {factor:.1f}× larger than PP_MEMORY_LIMIT={limit_mb}MB",
            "—",
            t,
            None,
            "finishes, memory within the limit",
            "yes" if rss - floor_rss <= limit_mb else "no",
            f"peak RSS {rss:.0f} MB = {floor_rss:.0f} MB interpreter and libraries + {rss - floor_rss:.0f} MB of work",
        )
    )
    return rows


# --------------------------------------------------------------------------- granger


def bench_granger(quick: bool) -> list[Row]:
    from statsmodels.tsa.stattools import grangercausalitytests

    from analysis.causality import granger_f, granger_many

    S = 200 if quick else 1000
    T = 1000
    rng = np.random.default_rng(0)
    x = rng.normal(size=(S, T))
    y = np.zeros((S, T))
    for t in range(2, T):
        y[:, t] = 0.3 * y[:, t - 1] + 0.2 * x[:, t - 2] + rng.normal(size=S)
    sample = 50

    def ours():
        granger_many(y, x, range(1, 15))
        granger_many(x, y, range(1, 15))

    def base():  # statsmodels on `sample` series, both directions, lags 1-14
        for s in range(sample):
            grangercausalitytests(np.column_stack([y[s], x[s]]), 14)
            grangercausalitytests(np.column_stack([x[s], y[s]]), 14)

    o, b_sample = abab(ours, base, 2)
    b = b_sample * S / sample
    ref = grangercausalitytests(np.column_stack([y[0], x[0]]), 14)
    diff = max(
        abs(granger_f(y[:1], x[:1], lag)["f_stat"][0] - ref[lag][0]["ssr_ftest"][0])
        for lag in range(1, 15)
    )
    scaling = []
    for n in (100, 300, 1000):
        scaling.append(
            f"{n} series: {timed(lambda n=n: granger_many(y[:n], x[:n], range(1, 15)), 1) * 2:.1f} s"
        )
    return [
        Row(
            f"Granger both directions, {S:,} series × {T:,} days, lags 1–14",
            f"statsmodels grangercausalitytests loop (timed on {sample} series, × {S // sample})",
            o,
            b,
            "≥ 10×, same F statistics",
            "yes" if b / o >= 10 and diff < 1e-8 else "no",
            f"largest |ΔF| vs statsmodels on series 0, lags 1–14: {diff:.1e}",
            scaling,
        )
    ]


# --------------------------------------------------------------------------- studies


def bench_studies(quick: bool) -> list[Row]:
    from analysis.event_study import event_time_curves, leads_lags, placebo_test
    from analysis.simulate import simulate_study
    from analysis.timing import TimingRule, timing_table

    def pipeline(study):
        timing_table(study, TimingRule())
        event_time_curves(study, window=28, by=None)
        leads_lags(study)
        placebo_test(study, n_draws=1000)

    scaling = []
    sizes = [100, 300] if quick else [100, 1000, 3000]
    studies = {}
    for n in sizes:
        studies[n] = simulate_study(n, n_days=3 * 365, seed=1).study
        scaling.append(f"{n:,} cases: {timed(lambda s=studies[n]: pipeline(s), 1):.1f} s")
    n = 300 if quick else 1000
    study = studies.get(n) or simulate_study(n, n_days=3 * 365, seed=1).study
    o = timed(lambda: pipeline(study), 3)
    return [
        Row(
            f"timing labels + event study + 1,000 placebo draws, {n:,} cases × 3 years",
            "—",
            o,
            None,
            "≤ 10 s",
            "yes" if o <= 10 else "no",
            "timing_table (999 bootstrap replicates), event_time_curves, leads_lags, placebo_test(n_draws=1000)",
            scaling,
        )
    ]


def bench_labels(quick: bool) -> list[Row]:
    """Timing labels v2 with their stability (bootstrap and other rules), per case."""
    from analysis.simulate import simulate_study
    from analysis.timing import TimingRule, timing_table

    sizes = [100, 300] if quick else [100, 1000, 3000]
    scaling, at = [], {}
    for n in sizes:
        study = simulate_study(n, n_days=3 * 365, seed=1).study
        at[n] = timed(lambda s=study: timing_table(s, TimingRule()), 1)
        scaling.append(f"{n:,} cases: {at[n]:.1f} s")
    n = 300 if quick else 1000
    return [
        Row(
            f"timing labels v2 with stability, {n:,} cases × 3 years",
            "—",
            at[n],
            None,
            "≤ 20 s",
            "yes" if at[n] <= 20 else "no",
            "timing_table(TimingRule()): 199 stationary-bootstrap replicates and 9 rules per label",
            scaling,
        )
    ]


def bench_leadlag(quick: bool) -> list[Row]:
    """Granger tests in both directions with circular-shift p-values, one pair per case."""
    from analysis.causality import granger_tests
    from analysis.simulate import simulate_study

    sizes = [30, 100] if quick else [100, 1000, 3000]
    scaling, at = [], {}
    for n in sizes:
        study = simulate_study(n, n_days=3 * 365, seed=2).study
        at[n] = timed(lambda s=study: granger_tests(s, lags="bic", max_lag=14, n_shifts=999), 1)
        scaling.append(f"{n:,} pairs: {at[n]:.1f} s")
    n = 100 if quick else 1000
    return [
        Row(
            f"lead–lag with permutation p-values, {n:,} pairs × 3 years",
            "—",
            at[n],
            None,
            "≤ 60 s",
            "yes" if at[n] <= 60 else "no",
            "granger_tests: lag by BIC (statsmodels VAR) and 999 rotations per pair and direction",
            scaling,
        )
    ]


def bench_gibbs(quick: bool) -> list[Row]:
    """A case study's counterfactuals: our banded state draw against statsmodels' CFA."""
    from analysis import its, its_paths

    class StatsmodelsCFA:  # the previous sweep: update the model, then its CFA smoother
        def __init__(self, model: object) -> None:
            self.model = model
            self.smoother = model.simulation_smoother(method="cfa")  # type: ignore[attr-defined]

        def draw(self, variances: np.ndarray, variates: np.ndarray) -> np.ndarray:
            self.model.update(variances)  # type: ignore[attr-defined]
            self.smoother.simulate(variates=variates)
            return np.asarray(self.smoother.simulated_state)

    rng = np.random.default_rng(0)
    n = 600
    level = 5 + np.cumsum(rng.normal(0, 0.1, n)) + rng.normal(0, 0.3, n)
    series = pd.Series(np.expm1(level), index=pd.date_range("2020-01-01", periods=n))
    t0 = series.index[400]

    def work() -> list[pd.DataFrame]:  # what 10_case_study fits around its key event
        a = its.counterfactual(series, t0, pre_days=90, post_days=28, seed=1)
        b = its.counterfactual(series, t0, pre_days=90, post_days=28, seed=1, prior="causalimpact")
        c = its.placebo_in_time(series, t0, offsets=(28, 56, 84), pre_days=90, post_days=28, seed=1)
        return [a.pointwise, b.pointwise, c]

    ours = its_paths.BandedStates.of

    def baseline() -> list[pd.DataFrame]:
        its_paths.BandedStates.of = classmethod(lambda cls, model, *a: StatsmodelsCFA(model))
        try:
            return work()
        finally:
            its_paths.BandedStates.of = ours

    diff = max(
        float(np.nanmax(np.abs(x.select_dtypes("number").to_numpy(float) - y.select_dtypes("number").to_numpy(float))))
        for x, y in zip(work(), baseline(), strict=True)
    )  # fmt: skip
    o, b = abab(work, baseline, 2 if quick else 6)
    return [
        Row(
            "a case study's counterfactuals (2 fits + 3 placebo dates, 1,100 Gibbs sweeps each)",
            "statsmodels' CFA simulation smoother in the same sampler",
            o,
            b,
            "—",
            "—",
            f"BandedStates draws the same states from the same variates: largest difference "
            f"in the results {diff:.1e} (in the series' unit)",
        )
    ]


def bench_case_study(tmp: Path, quick: bool) -> list[Row]:
    """A case study notebook executed in a kernel that is ready (started and imported)."""
    import papermill as pm

    from analysis.report import warm
    from analysis.report.execute import INLINE_BACKEND

    os.environ["MPLBACKEND"] = INLINE_BACKEND
    nb = ROOT / "notebooks" / "10_case_study.ipynb"
    params = {"case_id": "george_floyd", "its_event": "george_floyd:2021-04-20:conviction"}
    times = []
    for i in range(2 if quick else 5):  # this VM's run-to-run spread is ±10 %
        warm.start_next("python3")
        taken = warm.take("python3", tmp)  # waits until the imports are done
        assert taken is not None, "no kernel"
        t = time.perf_counter()
        pm.execute_notebook(
            str(nb), str(tmp / f"case{i}.ipynb"), parameters=params, cwd=str(tmp),
            kernel_name="python3", progress_bar=False, km=taken[0],
            log_output=False, request_save_on_cell_execute=False,  # as the batch runs it
        )  # fmt: skip
        times.append(time.perf_counter() - t)
        taken[0].shutdown_kernel(now=True)
        taken[1].close()
    warm.discard()
    o = statistics.median(times)
    return [
        Row(
            "a case study notebook (George Floyd), in a ready kernel",
            "—",
            o,
            None,
            "≤ 3 s of computation after kernel start",
            "yes" if o <= 3 else "no",
            "papermill execution of every cell (figures drawn, tables shown); each run: "
            + ", ".join(f"{t:.2f}" for t in times)
            + " s; benchmarks/profiles.md profiles the computation",
        )
    ]


# --------------------------------------------------------------------------- the batch


def _subset_yaml(tmp: Path, n_runs: int | None) -> tuple[Path, list]:
    """A runs file of the bundled batch's runs (all of them when ``n_runs`` is None)."""
    from analysis import config
    from analysis.report import load_runs
    from analysis.validated import load_trusted

    runs = load_runs(study=load_trusted(config.PROCESSED_DATA_DIR))
    if n_runs is None:
        chosen = runs
    else:
        chosen = (
            runs[:1]
            + [r for r in runs if r.notebook == "10_case_study"][: max(0, n_runs - 4)]
            + [
                r
                for r in runs
                if r.notebook in ("20_event_study", "30_lead_lag", "41_kelley_simmons_replication")
            ][:3]
        )
    nbs = tmp / "notebooks"
    if not nbs.exists():
        shutil.copytree(ROOT / "notebooks", nbs)
    import yaml

    entries = [
        {
            "notebook": r.notebook,
            "parameters": r.parameters,
            "id": r.run_id,
            "title": r.title,
            "inputs": list(r.inputs),
        }
        for r in chosen
    ]
    (nbs / "reports.yaml").write_text(yaml.safe_dump({"runs": entries}))
    return nbs / "reports.yaml", chosen


def shell_loop(runs, nbs: Path, out: Path, data_dir: Path) -> None:
    """What a user would do: one papermill CLI and one nbconvert CLI per run."""
    bindir = Path(PY).parent
    out.mkdir(parents=True, exist_ok=True)
    for r in runs:
        nb_out = out / f"{r.run_id}.ipynb"
        args = [
            str(bindir / "papermill"),
            str(nbs / f"{r.notebook}.ipynb"),
            str(nb_out),
            "--no-progress-bar",
            "-k",  # the notebooks name the kernel `make kernel` registers; use the env's own
            "python3",
        ]
        params = {**r.parameters, "results_path": str(out / f"{r.run_id}.json")}
        if r.notebook != "41_kelley_simmons_replication":
            params["data_dir"] = str(data_dir)
        for k, v in params.items():
            args += ["-y", json.dumps({k: v})]
        subprocess.run(args, check=True, capture_output=True, cwd=out)
        subprocess.run(
            [str(bindir / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(nb_out)],
            check=True,
            capture_output=True,
        )


def _report_cmd(yaml_path: Path, out: Path, data_dir: Path) -> list[str]:
    return [
        PY, "-m", "analysis", "report", "--runs", str(yaml_path), "--out", str(out),
        "--data", str(data_dir), "--quiet",
    ]  # fmt: skip


def _edit_one_event(data_dir: Path, event_id: str) -> None:
    """Move one legal event of a processed study by a day (as an edit of the curated
    table followed by ``prepare`` would)."""
    path = data_dir / "legal_events.parquet"
    ev = pd.read_parquet(path)
    ids = ev["case_id"] + ":" + ev["date"].astype(str) + ":" + ev["event_type"]
    if (ids == event_id).sum() != 1:
        raise SystemExit(f"benchmark: no single legal event {event_id} in {path}")
    moved = (pd.Timestamp(event_id.split(":")[1]) + pd.Timedelta(days=1)).date()
    # prepare stores day-precision dates as ISO text (month and year precision too)
    day = ev["date"].where(ids != event_id, moved.isoformat())
    ev.assign(date=day).to_parquet(path)


def bench_batch(tmp: Path, quick: bool) -> list[Row]:
    data_dir = ROOT / "data" / "processed"
    yaml_path, runs = _subset_yaml(tmp, 8 if quick else None)
    out = tmp / "reports"
    cmd = _report_cmd(yaml_path, out, data_dir)

    def ours():
        subprocess.run([*cmd, "--force"], check=True, capture_output=True)

    def base():
        shell_loop(runs, yaml_path.parent, tmp / "loop", data_dir)

    o, b = abab(ours, base, 1)
    cold = min(o, timed(ours, 1))  # a second cold run: the better of two
    cached = timed(lambda: subprocess.run(cmd, check=True, capture_output=True), 3)
    # Nothing changed, but no fingerprint to say so (a report file was touched, say): the
    # study is loaded and every run's cache key checked.
    from analysis.report.fingerprint import forget

    def checked() -> None:
        forget(out)
        subprocess.run(cmd, check=True, capture_output=True)

    run_by_run = timed(checked, 3)
    # One legal event of one case edited: only the runs that read it are redone.
    edit_dir = tmp / "study_edit"
    shutil.copytree(data_dir, edit_dir)
    edit_out = tmp / "reports_edit"
    ecmd = _report_cmd(yaml_path, edit_out, edit_dir)
    subprocess.run(ecmd, check=True, capture_output=True)
    event = "ichbinhanna:2023-03-17:policy_change"
    _edit_one_event(edit_dir, event)
    start = time.time()
    t = time.perf_counter()
    subprocess.run(ecmd, check=True, capture_output=True)
    edited = time.perf_counter() - t
    redone = sorted(
        f.parent.name
        for f in (edit_out / "runs").glob("*/status.json")
        if f.stat().st_mtime >= start
    )
    n = len(runs)
    rows = [
        Row(
            f"report batch, the {n} runs of the bundled data, cold",
            "shell loop: papermill CLI + jupyter nbconvert per run",
            cold,
            b,
            "≤ 75 s; ≥ 5× the loop",
            "yes" if cold <= 75 and b / cold >= 5 else "no",
            f"{os.cpu_count()} worker processes, kernels forked from a warm template",
        ),
        Row(
            f"same batch, nothing changed ({n} runs)",
            "the same shell loop",
            cached,
            b,
            "≤ 1 s",
            "yes" if cached <= 1 else "no",
            "the last complete batch's fingerprint matches: nothing loaded, no file written",
        ),
        Row(
            f"same batch, nothing changed, checked run by run ({n} runs)",
            "the same shell loop",
            run_by_run,
            b,
            "—",
            "—",
            "no fingerprint (as after a report file is touched): study loaded, every run "
            "reused by its cache key (its slice of the study, code and notebook)",
        ),
        Row(
            f"one legal event edited ({event})",
            "—",
            edited,
            None,
            "≤ 25 s, only the dependent runs",
            "yes" if edited <= 25 else "no",
            f"{len(redone)} of {n} runs redone: {', '.join(redone)}",
        ),
    ]
    # Per-run overhead: a trivial notebook through the batch vs the floor, a kernel started
    # and made to import what the notebooks import (issue 18's definition).
    from analysis.report.warm import WARM_IMPORTS

    tiny = tmp / "tiny"
    tiny.mkdir()
    import nbformat

    book = nbformat.v4.new_notebook()
    book.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    }
    cell = nbformat.v4.new_code_cell('data_dir = ""\nresults_path = "results.json"')
    cell.metadata["tags"] = ["parameters"]
    # the cell imports what the project's notebooks import (the floor's imports too)
    imports = "import importlib\n" + "".join(
        f"importlib.import_module({m!r})\n" for m in WARM_IMPORTS
    )
    book.cells = [cell, nbformat.v4.new_code_cell(imports + "print(1)")]
    nbformat.write(book, tiny / "tiny.ipynb")
    import yaml

    (tiny / "reports.yaml").write_text(
        yaml.safe_dump({"runs": [{"notebook": "tiny", "id": f"t{i}"} for i in range(8)]})
    )
    tcmd = [
        PY,
        "-m",
        "analysis",
        "report",
        "--runs",
        str(tiny / "reports.yaml"),
        "--out",
        str(tmp / "tiny_out"),
        "--data",
        str(data_dir),
        "--quiet",
        "--force",
        "--workers",
        "1",
    ]
    floor_code = textwrap.dedent(
        """
        from jupyter_client.manager import start_new_kernel
        km, kc = start_new_kernel(kernel_name="python3")
        kc.execute_interactive(IMPORTS)
        kc.stop_channels(); km.shutdown_kernel(now=True)
        """
    ).replace("IMPORTS", repr(imports))
    floors, starts, totals = [], [], []
    for _ in range(3):  # interleaved, so a busy moment hits all three alike
        floors.append(
            timed(
                lambda: subprocess.run([PY, "-c", floor_code], check=True, capture_output=True), 1
            )
        )
        starts.append(
            timed(
                lambda: subprocess.run(
                    [PY, "-c", "import analysis.report, papermill, nbconvert"],
                    check=True,
                    capture_output=True,
                ),
                1,
            )
        )
        totals.append(timed(lambda: subprocess.run(tcmd, check=True, capture_output=True), 1))
    floor, start, total = (statistics.median(x) for x in (floors, starts, totals))
    per_run = (total - start) / 8
    rows.append(
        Row(
            "per-run overhead (a one-cell notebook, 8 runs on 1 worker)",
            "floor: kernel start + the notebooks' imports",
            per_run,
            floor,
            "within 1.3× of the floor",
            "yes" if per_run <= 1.3 * floor else "no",
            f"batch {total:.1f} s for 8 runs (the first pays the worker's warm-up), minus {start:.1f} s of "
            "command start-up; floor: jupyter_client start_new_kernel + the imports of "
            "analysis.report.warm.WARM_IMPORTS",
        )
    )
    return rows


# --------------------------------------------------------------------------- main


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores, {mem:.0f} GiB memory, {platform.machine()}, Python {platform.python_version()}, "
        f"pandas {pd.__version__}, numpy {np.__version__}"
    )


def _kept_rows(path: Path, names: set[str]) -> tuple[list[str], list[str]]:
    """Table rows and scaling lines of an earlier results file, but those of ``names``
    (``--only`` re-measures some rows and keeps the others as they were)."""
    if not path.is_file():
        return [], []
    table, scaling = [], []
    stems = {_stem(n) for n in names}
    for line in path.read_text().splitlines():
        is_row = line.startswith("| ") and not line.startswith(("| what", "|---"))
        if is_row and _stem(line.split(" | ")[0][2:]) not in stems:
            table.append(line)
        elif line.startswith("- **") and _stem(line[4:].split("**")[0]) not in stems:
            scaling.append(line)
    return table, scaling


def _stem(name: str) -> str:
    """A row's name up to its first digit: the same row at another size (12 runs, 33
    runs) replaces the earlier one instead of standing beside it."""
    return re.split(r"\d", name, maxsplit=1)[0]


def write_results(rows: list[Row], path: Path, quick: bool, keep_others: bool = False) -> None:
    earlier, earlier_scaling = _kept_rows(path, {r.name for r in rows}) if keep_others else ([], [])
    lines = [
        "# Benchmark results",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}"
        + (" (quick sizes)" if quick else "")
        + ".",
        "Medians of interleaved runs (A B A B); ratio = baseline / ours. Regenerate with `make bench`.",
        *(
            [
                f"Re-measured at that time (--only): {', '.join(r.name for r in rows)}; the other "
                "rows are kept from the previous results file (its git history says when)."
            ]
            if earlier
            else []
        ),
        "",
        "| what | baseline | ours | baseline time | ratio | goal | met | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += earlier
    for r in rows:
        ours = f"{r.ours_s:.2f} s" if r.ours_s is not None else "—"
        base = f"{r.base_s:.2f} s" if r.base_s is not None else "—"
        lines.append(
            f"| {r.name} | {r.baseline} | {ours} | {base} | {r.ratio} | {r.goal} | {r.met} | {r.notes} |"
        )
    lines += ["", "## How cost grows with size", "", *earlier_scaling]
    for r in rows:
        if r.scaling:
            lines.append(f"- **{r.name}**: " + "; ".join(r.scaling))
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes (minutes, not tens of minutes)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["count", "granger", "studies", "labels", "leadlag", "gibbs", "case", "batch"],
        help="run these benchmarks (their rows replace the same rows in the results file)",
    )
    parser.add_argument(
        "--out", default=str(ROOT / "benchmarks" / "results.md"), help="Markdown table to write"
    )
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="pp-bench-") as tmp:
        tmp = Path(tmp)
        steps = {
            "studies": lambda: bench_studies(args.quick),
            "labels": lambda: bench_labels(args.quick),
            "leadlag": lambda: bench_leadlag(args.quick),
            "granger": lambda: bench_granger(args.quick),
            "count": lambda: bench_count(tmp, args.quick),
            "gibbs": lambda: bench_gibbs(args.quick),
            "case": lambda: bench_case_study(tmp, args.quick),
            "batch": lambda: bench_batch(tmp, args.quick),
        }
        for name, step in steps.items():
            if args.only and name not in args.only:
                continue
            print(f"[bench] {name} …", flush=True)
            new = step()
            for r in new:
                print(
                    f"  {r.name}: ours {r.ours_s} s, baseline {r.base_s} s, ratio {r.ratio}, goal {r.goal}: {r.met}",
                    flush=True,
                )
            rows += new
            # written after each step, the other rows kept, so a failing step loses nothing
            write_results(rows, Path(args.out), args.quick, keep_others=True)
    write_results(rows, Path(args.out), args.quick, keep_others=bool(args.only))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
