"""The commands of python -m analysis: one function per sub-command, taking the parsed
arguments and returning the exit status.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import time
import warnings
from pathlib import Path

from .. import config
from ..errors import DataError, DataWarning, Failure, OutputError, did_you_mean
from .args import (
    EXIT_DATA_ERROR,
)

__all__ = [
    "cmd_check_pages",
    "cmd_data",
    "cmd_fetch",
    "cmd_ingest",
    "cmd_prepare",
    "cmd_report",
    "cmd_timing",
    "cmd_validate",
]


def _refuse_foreign_output(path: Path, header: str) -> None:
    """An --out file may be new or one this command wrote before (its header), nothing else."""
    if path.is_dir():
        raise OutputError(f"--out: {path} is a folder; expected a file name")
    if path.exists():
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                first = fh.readline()
        except OSError as exc:
            raise OutputError(f"--out: cannot read {path}: {exc.strerror}") from exc
        if not first.startswith(header):
            raise OutputError(
                f"--out: {path} exists and is not a table this command wrote; nothing was "
                "written. Choose a new file name"
            )


def _fmt_pct(x: float) -> str:
    from ..study import percent

    return f"{percent(x):>6}"


def cmd_data(args: argparse.Namespace) -> int:
    from ..manifest import fetch

    mirror = Path(args.mirror) if args.mirror else None
    done = fetch(
        Path(args.dest), mirror=mirror, download=not args.no_download, progress=not args.quiet
    )
    counts: dict[str, int] = {}
    for action in done.values():
        counts[action] = counts.get(action, 0) + 1
    summary = ", ".join(f"{n} {a}" for a, n in sorted(counts.items()))
    print(f"{len(done)} raw files verified against {config.MANIFEST_FILE.name} ({summary})")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from ..prepare import prepare

    written = prepare(Path(args.out), progress=not args.quiet)
    for path in written:
        print(f"wrote {path}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from ..datasets import load_study

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        study = load_study(Path(args.data))
    print(f"study: {args.data}")
    print(f"cases: {len(study.cases)}")
    by_country = study.cases["country"].value_counts()
    print("  by country: " + ", ".join(f"{k} {v}" for k, v in by_country.items()))
    ev = study.legal_events
    print(f"legal events: {len(ev)}")
    table = ev.groupby(["event_type", "date_precision"]).size().unstack(fill_value=0)
    for col in ("day", "month", "year"):
        if col not in table:
            table[col] = 0
    print("  event_type                     day  month  year")
    for event_type, row in table[["day", "month", "year"]].iterrows():
        print(f"  {event_type:<28} {row['day']:>5} {row['month']:>6} {row['year']:>5}")
    cov = study.coverage()
    print(f"series: {len(study.campaigns)} ({len(cov)} with observed days)")
    print("  campaign_id                   first       last        observed   gaps")
    for rec in cov.to_dict("records"):
        print(
            f"  {rec['campaign_id']:<28} {rec['first_day']:%Y-%m-%d}  {rec['last_day']:%Y-%m-%d}  "
            f"{_fmt_pct(rec['pct_observed'])}  {rec['n_gaps']:>5}"
        )
    for w in caught:
        print(f"warning: {w.message}")
    return 0


def _refuse_unlisted_campaign(out: Path, campaign: str) -> None:
    """Counts added to a study folder need their series listed in its campaigns table."""
    from ..datasets import find_table, read_raw, refuse_derived

    refuse_derived(out.parent, "--out")  # data/processed first: prepare rebuilds it
    try:
        table = find_table(out.parent, "campaigns")
        listed = set(read_raw(table)["campaign_id"].astype(str).str.strip())
    except (DataError, KeyError, OSError):
        return  # not a study folder (or an unreadable table, which validate reports)
    if campaign not in listed:
        raise DataError(
            [
                Failure(
                    "--campaign",
                    None,
                    None,
                    campaign,
                    f"a campaign_id listed in {table} (add its row first: label, platform, "
                    "metric, unit, source, license), or an --out outside a study folder",
                )
            ]
        )


def cmd_ingest(args: argparse.Namespace) -> int:
    from ..datasets import update_activity
    from ..ingest import count_posts

    if args.match_column and not args.term:
        print("ingest: --match-column needs at least one --term", file=sys.stderr)
        return EXIT_DATA_ERROR
    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".parquet", ".xlsx"):
        raise OutputError(f"--out: {out} — expected a .csv, .parquet or .xlsx file name")
    if out.parent.resolve() == config.USER_DATA_DIR.resolve():
        from ..connectors.write import refuse_bundled_id

        refuse_bundled_id(args.campaign)
    _refuse_unlisted_campaign(out, args.campaign)
    campaigns = {args.campaign: args.term} if args.term else args.campaign
    daily = count_posts(
        [Path(p) for p in args.paths],
        timestamp=args.timestamp,
        campaigns=campaigns,
        match_column=args.match_column,
        unit=args.unit,
        fmt=args.format,
        distinct=args.distinct,
        start=args.start,
        end=args.end,
        memory_limit=args.memory_limit,
    )
    with warnings.catch_warnings(record=True) as caught:  # said in one line each
        warnings.simplefilter("always", DataWarning)
        update_activity(Path(args.out), daily, what="--out")
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    observed = int(daily["value"].notna().sum())
    print(
        f"wrote {args.out}: {observed} days, {int(daily['value'].sum())} posts for {args.campaign}"
    )
    return 0


def cmd_timing(args: argparse.Namespace) -> int:
    from .._io import atomic_write
    from ..datasets import load_study
    from ..rules import CLI_PARAMETERS, TimingRule
    from ..timing import timing_table

    if args.out:  # before any work: an --out that cannot be written is said at once
        _refuse_foreign_output(Path(args.out), "event_id,case_id,event_type")
    rule = TimingRule(**{name: getattr(args, name) for name in CLI_PARAMETERS})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        study = load_study(Path(args.data))
    if args.case:
        unknown = sorted(set(args.case) - set(study.cases["case_id"]))
        if unknown:
            known = list(study.cases["case_id"])
            hints = [f"{u!r}{did_you_mean(u, known)}" for u in unknown]
            print(f"timing: --case: unknown case {', '.join(hints)}", file=sys.stderr)
            return EXIT_DATA_ERROR
    result = timing_table(
        study,
        rule,
        include_incidents=not args.no_incidents,
        cases=args.case or None,
        stability=not args.no_stability,
        progress=not args.quiet,
    )
    table = result.table.assign(date=result.table["date"].dt.strftime("%Y-%m-%d"))
    for col in ("baseline_start", "baseline_end"):
        table[col] = table[col].dt.strftime("%Y-%m-%d")
    if args.out:
        atomic_write(Path(args.out), lambda p: table.to_csv(p, index=False, float_format="%.6g"))
        print(f"wrote {args.out}: {len(table)} (event, series) rows")
    else:
        table.to_csv(sys.stdout, index=False, float_format="%.6g")
    counts = ", ".join(f"{r['label']} {r['n']}" for r in result.counts().to_dict("records"))
    print(f"labels: {counts}", file=sys.stderr)
    flagged = int((table["confounded_by"] != "").sum())
    print(
        f"{flagged} rows share their windows with another case's events (confounded_by); "
        f"{int(table['borderline'].sum())} are borderline",
        file=sys.stderr,
    )
    ex = result.excluded.drop_duplicates("event_id")
    for reason, group in ex.groupby("reason", sort=True):
        ids = list(group["event_id"])
        shown = ", ".join(ids[:8]) + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")
        word = "event" if len(ids) == 1 else "events"
        print(f"{len(ids)} {word} not labelled ({reason}): {shown}", file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    if not args.force and args.only is None and _unchanged_batch(args):
        return 0  # before the imports below: they take pandas (0.3-0.5 s)
    from ..report import ReportConfigError, read_runs_file
    from ..report.execute import kernel_template
    from ..validated import is_trusted

    try:
        read_runs_file(Path(args.runs))  # an unreadable runs file is said first
    except ReportConfigError as err:
        for line in str(err).splitlines():
            print(line, file=sys.stderr)
        return EXIT_DATA_ERROR
    # Runs will surely be made when forced, or when the study changed (it must be checked
    # again). Their kernels are forked from a template that imports the notebooks'
    # modules (3-4 s): started now, it imports while the study is checked. Otherwise a
    # batch that finds something to run starts the template itself.
    runs_ahead = args.force or not is_trusted(Path(args.data))
    if args.scheduler or not runs_ahead:
        return _report(args)
    with kernel_template(args.workers or os.cpu_count() or 1):
        return _report(args)


def _unchanged_batch(args: argparse.Namespace) -> bool:
    """Say so and return True when the last complete batch in ``--out`` is still current.

    Its fingerprint (:mod:`analysis.report.fingerprint`) matches: same settings, runs
    file, notebooks, inputs, study, code and commit, and every report file as it left
    them. Nothing is written then; the index keeps describing the batch that made it.
    Checked before pandas is imported, so this answer takes a fraction of a second.
    """
    from ..report.fingerprint import unchanged

    t0 = time.perf_counter()
    runs_file = Path(args.runs)
    n = unchanged(
        Path(args.out),
        runs_file=runs_file,
        notebooks_dir=runs_file.parent,
        data_dir=Path(args.data),
        show_code=args.show_code,
    )
    if n is None:
        return False
    index = Path(args.out).resolve() / "index.html"
    print(
        f"{n} runs: 0 ran, {n} unchanged (cached), 0 failed in "
        f"{time.perf_counter() - t0:.1f} s; index: {index} (nothing changed since the "
        "last complete batch: no file rewritten)"
    )
    return True


def _report(args: argparse.Namespace) -> int:
    from ..report import ReportConfigError, load_runs, run_batch
    from ..validated import load_trusted

    # invalid: one line a problem, exit 2; validated once, trusted until a file changes
    study = load_trusted(Path(args.data))
    try:
        runs = load_runs(Path(args.runs), study=study)
    except ReportConfigError as err:
        for line in str(err).splitlines():
            print(line, file=sys.stderr)
        return EXIT_DATA_ERROR
    ids = [run.run_id for run in runs]
    if args.only is not None and not any(args.only in i for i in ids):
        # a mistyped prefix ("41_kelly") is compared with ids cut to its length
        score = {
            i: difflib.SequenceMatcher(None, args.only, i[: len(args.only) + 3]).ratio()
            for i in ids
        }
        close = [
            i for i in sorted(ids, key=lambda i: score[i], reverse=True)[:3] if score[i] >= 0.7
        ]
        hint = (
            f"; did you mean {', '.join(close)}?" if close else f"; run ids: {', '.join(ids[:8])}"
        )
        print(f"report: --only {args.only!r} matches no run of {args.runs}{hint}", file=sys.stderr)
        return EXIT_DATA_ERROR
    result = run_batch(
        runs,
        runs_file=Path(args.runs),
        data_dir=Path(args.data),
        out_dir=Path(args.out),
        notebooks_dir=Path(args.runs).parent,
        study=study,
        workers=args.workers,
        force=args.force,
        show_code=args.show_code,
        scheduler=args.scheduler,
        only=args.only,
        progress=not args.quiet,
    )
    c = result.counts
    print(
        f"{len(result.records)} runs: {c['ok']} ran, {c['cached']} unchanged (cached), "
        f"{c['failed']} failed in {result.elapsed_s:.1f} s; index: {result.index}"
    )
    for r in result.failed:
        print(f"failed: {r.run_id}: {r.error}", file=sys.stderr)
    return 1 if result.failed else 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from .. import connectors as c

    if args.cases is not None:
        return _fetch_cases(args)
    if not args.campaign:
        raise DataError(
            [Failure("--campaign", None, None, "", "a campaign_id to write (or --cases)")]
        )
    http = c.default_http(refresh=args.refresh)
    request = c.Request(
        campaign=args.campaign,
        query=tuple(args.query),
        start=args.start,
        end=args.end,
        metric=args.metric,
        lang=args.lang,
        file=Path(args.file) if args.file else None,
    )
    try:
        series = c.CONNECTORS[args.source].fetch(http, request)
    except c.FetchError as exc:
        print(f"fetch {args.source}: {exc}", file=sys.stderr)
        return 1
    camp, act = c.write_series(Path(args.data), args.campaign, series, stance=args.stance)
    observed = int(series.activity["value"].notna().sum())
    print(f"{args.campaign}: {observed} observed days written to {act} (campaign row in {camp})")
    return 0


def _fetch_cases(args: argparse.Namespace) -> int:
    """``fetch wikipedia --cases``: each case's own page views, one series per case."""
    from .. import case_pages as cp
    from .. import connectors as c

    if args.source != "wikipedia":
        raise DataError(
            [Failure("--cases", None, None, args.source, "the wikipedia source (articles)")]
        )
    given = {"--campaign": args.campaign, "--query": args.query, "--metric": args.metric}
    for option, value in {**given, "--file": args.file}.items():
        if value:
            expected = "no value: --cases names each case's series and article itself"
            raise DataError([Failure(option, None, None, str(value), expected)])
    cases, events, where = cp.cases_of(Path(args.data))
    pages, skipped = cp.plan_case_pages(
        cases, events, args.cases or None, args.start, args.end, args.lang
    )
    n = len(pages)
    print(f"{n} {'case' if n == 1 else 'cases'} of {where} to fetch")
    titles = dict(zip(cases["case_id"], cases["title"], strict=True))
    done = cp.fetch_cases(
        c.default_http(refresh=args.refresh), Path(args.data), pages, titles, args.stance
    )
    for page, observed, act in done.written:
        print(
            f"{page.case_id}: {page.lang}.wikipedia {page.title!r} -> {page.campaign_id}, "
            f"{observed} observed days from {page.start} to {page.end} ({act})"
        )
    for page, error in done.failed:
        print(f"{page.case_id}: {error}", file=sys.stderr)
    if done.not_asked:
        print(
            f"stopped after {cp.MAX_SERVICE_FAILURES} failures of the service in a row; not "
            f"asked: {', '.join(p.case_id for p in done.not_asked)}",
            file=sys.stderr,
        )
    for line in skipped:
        print(f"skipped {line}", file=sys.stderr if args.cases else sys.stdout)
    print(
        f"{len(done.written)} series written, {len(done.failed)} failed, "
        f"{len(done.not_asked)} not asked, {len(skipped)} skipped"
    )
    # a case asked for by name and left out is a failure too
    return 1 if done.failed or done.not_asked or (args.cases and skipped) else 0


def cmd_check_pages(args: argparse.Namespace) -> int:
    from .._io import read_marker
    from ..report import looks_like_reports
    from ..report.browser import check_folder, find_chromium

    out = Path(args.out)
    if not (out / "index.html").is_file():
        raise OutputError(f"--out: {out} has no index.html; run `python -m analysis report` first")
    marker = read_marker(out)
    if not ((marker and marker.get("kind") == "reports") or looks_like_reports(out)):
        # it writes screenshots/ and short-lived copies of pages into the folder
        raise OutputError(
            f"--out: {out} is not a report folder this project wrote; nothing was written"
        )
    if find_chromium() is None:
        raise OutputError("check-pages needs Chromium (Debian: apt-get install chromium)")
    checks = check_folder(out, screenshots=not args.no_screenshots)
    bad = 0
    for c in checks:
        for problem in c.problems():
            bad += 1
            print(f"{c.page} at {c.width} px: {problem}", file=sys.stderr)
    pages = len({c.page for c in checks})
    shots = "" if args.no_screenshots else f"; screenshots in {out / 'screenshots'}"
    print(f"{pages} pages at {len(checks) // max(pages, 1)} widths: {bad} problems{shots}")
    return 1 if bad else 0
