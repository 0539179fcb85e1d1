"""Command-line interface: ``python -m analysis COMMAND [options]``.

Every command has ``--help``. Bad input prints one line per problem
(``file:row:column: value — expected …``) on standard error and exits with status 2;
nothing is written in that case.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__, config
from .errors import DataError, DataWarning, Failure, OutputError, did_you_mean

__all__ = [
    "EXIT_DATA_ERROR",
    "build_parser",
    "cmd_data",
    "cmd_fetch",
    "cmd_ingest",
    "cmd_prepare",
    "cmd_report",
    "cmd_timing",
    "cmd_validate",
    "main",
]

EXIT_DATA_ERROR = 2


def _bounded(kind: type, low: float, high: float) -> Callable[[str], Any]:
    """An argparse type: a finite number of ``kind`` in ``[low, high]``, else a clear error."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not (low <= value <= high):  # also refuses nan
            lo, hi = (f"{low:,}", f"{high:,}") if kind is int else (f"{low:g}", f"{high:g}")
            raise argparse.ArgumentTypeError(f"{text} is outside {lo}…{hi}")
        return value

    return parse


def _day(text: str) -> str:
    """An argparse type: a calendar day written ``YYYY-MM-DD`` between 1900 and 2099."""
    import datetime as dt

    try:
        day = dt.date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day that exists") from None
    if day is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day written YYYY-MM-DD")
    if not 1900 <= day.year <= 2099:
        raise argparse.ArgumentTypeError(f"{text} is not between 1900-01-01 and 2099-12-31")
    return text


def _size(text: str) -> str:
    """An argparse type: a memory size such as ``300MB``, between 10MB and 1PB."""
    from .ingest import memory_bytes

    try:
        memory_bytes(text, "--memory-limit")
    except DataError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: expected {err.failures[0].expected}") from None
    return text


def _text(text: str) -> str:
    """An argparse type for every other option: text, not empty (an unset shell
    variable would otherwise mean "all posts" or "the current folder")."""
    if not text.strip() or "\0" in text:
        raise argparse.ArgumentTypeError("is empty" if not text.strip() else "holds a NUL byte")
    return text


def _scheduler(text: str) -> str:
    """An argparse type: ``tcp://HOST:PORT`` of a Dask scheduler."""
    if not re.fullmatch(r"(tcp|tls)://[A-Za-z0-9.\-\[\]:]+:\d{1,5}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not tcp://HOST:PORT")
    return text


def _slug(text: str) -> str:
    """An argparse type: an id of the data contract (a slug)."""
    from .schema import SLUG_EXPECTED, SLUG_RE

    if not SLUG_RE.match(text) or text.endswith("\n"):
        raise argparse.ArgumentTypeError(f"{text!r} is not {SLUG_EXPECTED}")
    return text


class _Parser(argparse.ArgumentParser):
    """Bad options get one line (the command, the option, what was wrong) and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_DATA_ERROR, f"{self.prog}: {message} (see {self.prog} --help)\n")


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
    from .study import percent

    return f"{percent(x):>6}"


def cmd_data(args: argparse.Namespace) -> int:
    from .manifest import fetch

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
    from .prepare import prepare

    written = prepare(Path(args.out), progress=not args.quiet)
    for path in written:
        print(f"wrote {path}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .datasets import load_study

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
    from .datasets import find_table, read_raw, refuse_derived

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
    from .datasets import update_activity
    from .ingest import count_posts

    if args.match_column and not args.term:
        print("ingest: --match-column needs at least one --term", file=sys.stderr)
        return EXIT_DATA_ERROR
    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".parquet", ".xlsx"):
        raise OutputError(f"--out: {out} — expected a .csv, .parquet or .xlsx file name")
    if out.parent.resolve() == config.USER_DATA_DIR.resolve():
        from .connectors.write import refuse_bundled_id

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
    from ._io import atomic_write
    from .datasets import load_study
    from .rules import TimingRule
    from .timing import timing_table

    if args.out:  # before any work: an --out that cannot be written is said at once
        _refuse_foreign_output(Path(args.out), "event_id,case_id,event_type")
    rule = TimingRule(
        window=args.window,
        baseline_days=args.baseline_days,
        short_window=args.short_window,
        threshold=args.threshold,
        level=args.level,
        min_observed=args.min_observed,
        n_boot=args.n_boot,
        seed=args.seed,
    )
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
    from .datasets import load_study
    from .report import ReportConfigError, load_runs, read_runs_file, run_batch

    try:
        read_runs_file(Path(args.runs))  # an unreadable runs file is said first
    except ReportConfigError as err:
        for line in str(err).splitlines():
            print(line, file=sys.stderr)
        return EXIT_DATA_ERROR
    study = load_study(Path(args.data), warn=False)  # invalid: one line a problem, exit 2
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
        print(f"failed: {r['run']['run_id']}: {r['error']}", file=sys.stderr)
    return 1 if result.failed else 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from . import connectors as c

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
    from tqdm.auto import tqdm

    from . import case_pages as cp
    from . import connectors as c

    if args.source != "wikipedia":
        raise DataError(
            [Failure("--cases", None, None, args.source, "the wikipedia source (articles)")]
        )
    for option, given in (("--campaign", args.campaign), ("--query", args.query)):
        if given:
            expected = "no value: --cases names each case's series and article itself"
            raise DataError([Failure(option, None, None, str(given), expected)])
    cases, events, where = cp.cases_of(Path(args.data))
    pages, skipped = cp.plan_case_pages(
        cases, events, args.cases or None, args.start, args.end, args.lang
    )
    titles = dict(zip(cases["case_id"], cases["title"], strict=True))
    print(f"{len(pages)} cases of {where} name a Wikipedia article")
    http = c.default_http(refresh=args.refresh)
    failed = 0
    for page in tqdm(pages, desc="page views", unit="case", disable=None):
        try:
            series = cp.fetch_case_page(http, page, titles.get(page.case_id))
        except c.FetchError as exc:
            failed += 1
            print(f"{page.case_id}: {exc}", file=sys.stderr)
            continue
        _, act = c.write_series(Path(args.data), page.campaign_id, series, stance=args.stance)
        observed = int(series.activity["value"].notna().sum())
        print(
            f"{page.case_id}: {page.lang}.wikipedia {page.title!r} -> {page.campaign_id}, "
            f"{observed} days {page.start} to {page.end} ({act})"
        )
    for line in skipped:
        print(f"skipped {line}")
    print(f"{len(pages) - failed} series written, {failed} failed, {len(skipped)} skipped")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m analysis`` (one sub-command per stage)."""
    parser = _Parser(
        prog="python -m analysis",
        description=(
            "Pressure & Precedent: did online pressure come before a legal change, or after it?"
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "data",
        help="fetch the third-party raw files and check their hashes",
        description=(
            "Make every file listed in data/raw/sources.toml present under data/raw and check its "
            "sha256. Files are copied from the mirror (PP_DATA_MIRROR, default ../shared/data/raw) "
            "when it has them, else downloaded from their pinned upstream URL."
        ),
    )
    p.add_argument(
        "--dest",
        default=str(config.RAW_DATA_DIR),
        help="folder for raw files (default: %(default)s)",
    )
    p.add_argument(
        "--mirror", help="local mirror folder (default: PP_DATA_MIRROR or ../shared/data/raw)"
    )
    p.add_argument("--no-download", action="store_true", help="only use the mirror; never download")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser(
        "prepare",
        help="convert the bundled raw data to the data contract (data/processed)",
        description=(
            "Build the bundled study from data/raw (curated cases, events and campaigns; the "
            "third-party activity files), validate it whole, then write Parquet files atomically. "
            "Nothing is written if anything is invalid."
        ),
    )
    p.add_argument(
        "--out",
        default=str(config.PROCESSED_DATA_DIR),
        help=(
            "study folder to create or replace whole (default: %(default)s); a folder holding "
            "files this project did not write is refused"
        ),
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser(
        "validate",
        help="check a study folder against the data contract and print its coverage",
        description=(
            "Load a study folder (cases, legal_events, campaigns, campaign_activity as .csv, "
            ".parquet or .xlsx), report every problem as file:row:column: value — expected …, "
            "and print cases, events by type and precision, and each series' coverage."
        ),
    )
    p.add_argument(
        "--data", default=str(config.PROCESSED_DATA_DIR), help="study folder (default: %(default)s)"
    )
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "ingest",
        help="count a post archive (CSV, JSON lines, Parquet, tweet IDs) into daily activity",
        description=(
            "Stream post files through DuckDB and count posts per UTC day for one campaign. "
            "Memory stays bounded (cap it with --memory-limit or PP_MEMORY_LIMIT). Days inside "
            "--start..--end with no post are written as 0 (observed); days outside are not written."
        ),
    )
    p.add_argument("paths", nargs="+", help="archive files or glob patterns")
    p.add_argument(
        "--campaign", required=True, type=_slug, help="campaign_id for the counts (a slug)"
    )
    p.add_argument(
        "--out",
        required=True,
        help=(
            "activity table to add the counts to (.csv, .parquet or .xlsx); other series and "
            "other days in it are kept, this campaign's counted days are replaced"
        ),
    )
    p.add_argument(
        "--timestamp", default="created_at", help="timestamp column (default: %(default)s)"
    )
    p.add_argument(
        "--unit",
        choices=["auto", "s", "ms", "snowflake"],
        default="auto",
        help=(
            "how the timestamp is written: ISO text/timestamp (auto), epoch seconds, "
            "epoch ms, or tweet IDs"
        ),
    )
    p.add_argument(
        "--format",
        choices=["auto", "csv", "json", "parquet", "ids"],
        default="auto",
        help="archive format (default: from the file names)",
    )
    p.add_argument("--match-column", help="text or hashtag column to match --term against")
    p.add_argument(
        "--term",
        action="append",
        help="count only posts whose match column contains this (repeatable)",
    )
    p.add_argument("--distinct", help="count distinct values of this column (e.g. a post id)")
    p.add_argument(
        "--start", type=_day, help="first observed day YYYY-MM-DD (default: first day with a post)"
    )
    p.add_argument(
        "--end", type=_day, help="last observed day YYYY-MM-DD (default: last day with a post)"
    )
    p.add_argument(
        "--memory-limit",
        type=_size,
        help="DuckDB memory cap such as 300MB (default: PP_MEMORY_LIMIT)",
    )
    p.set_defaults(func=cmd_ingest)

    from .rules import TimingRule

    d = TimingRule()
    p = sub.add_parser(
        "timing",
        help="label each legal event: did activity rise before it, after it, both, or neither?",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Write one row per (day-precision legal event, linked series) with the numbers "
            "behind its label.\n\n"
            "In plain words: for each legal event we compare the activity in the days "
            "before it with the level before the case began, and the activity on the day "
            "and after it with the last days before it. 'preceded': activity was already up "
            "before the event. 'followed': it went up only on the day or after. 'both', "
            "'neither'. A rise counts when it is at least --threshold times the earlier "
            "level and larger than the series usually moves on days when no case has an "
            "event, so a day with nothing happening is labelled 'neither' with probability "
            "--level. An incident (a killing) is never 'preceded'. 'confounded_by' names "
            "other cases whose events fall in the same days of a shared series; "
            "'borderline' marks labels that change with the windows or the comparison "
            "days; 'preferred' marks the series that answers for the event (the case's own "
            "first). Timing is not proof of cause.\n\n"
            "The rule in full: " + d.describe()
        ),
    )
    p.add_argument(
        "--data", default=str(config.PROCESSED_DATA_DIR), help="study folder (default: %(default)s)"
    )
    p.add_argument(
        "--case",
        action="append",
        metavar="ID",
        help="label only this case's events (repeatable; other cases still count as confounders)",
    )
    p.add_argument(
        "--window",
        type=_bounded(int, 2, 365),
        default=d.window,
        help="k, days of the fixed run-up and of the long aftermath (default: %(default)s)",
    )
    p.add_argument(
        "--baseline-days",
        type=_bounded(int, 2, 365),
        default=d.baseline_days,
        help="b, days in the baseline window (default: %(default)s)",
    )
    p.add_argument(
        "--short-window",
        type=_bounded(int, 1, 30),
        default=d.short_window,
        help="days in the short aftermath from the event day (default: %(default)s)",
    )
    p.add_argument(
        "--threshold",
        type=_bounded(float, 1.0, 1e6),
        default=d.threshold,
        help="ratio that counts as a rise (default: %(default)s)",
    )
    p.add_argument(
        "--level",
        type=_bounded(float, 0.5, 0.999),
        default=d.level,
        help="1 − chance of a false label on a day with no event (default: %(default)s)",
    )
    p.add_argument(
        "--min-observed",
        type=_bounded(float, 0.01, 1.0),
        default=d.min_observed,
        help="share of observed days needed per window (default: %(default)s)",
    )
    p.add_argument(
        "--n-boot",
        type=_bounded(int, 19, 100_000),
        default=d.n_boot,
        help="bootstrap replicates for the stability (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=_bounded(int, 0, 2**32 - 1),
        default=d.seed,
        help="bootstrap seed, recorded (default: %(default)s)",
    )
    p.add_argument(
        "--no-incidents",
        action="store_true",
        help="leave out each case's triggering incident (cases.start_date)",
    )
    p.add_argument(
        "--no-stability",
        action="store_true",
        help="skip the stability columns (nine times faster)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", help="CSV file to write (default: standard output)")
    p.set_defaults(func=cmd_timing)

    p = sub.add_parser(
        "report",
        help="run every notebook of notebooks/reports.yaml and write reports/index.html",
        description=(
            "Check every run's parameters against its notebook, execute the notebooks with "
            "papermill in worker processes (or on a Dask cluster), render self-contained HTML "
            "into reports/runs/<run>/ and write reports/index.html. Runs whose notebook, "
            "parameters, data and package code are unchanged are skipped. Exits 1 if a run "
            "failed (the others still finish), 2 if reports.yaml is invalid."
        ),
    )
    p.add_argument(
        "--data", default=str(config.PROCESSED_DATA_DIR), help="study folder (default: %(default)s)"
    )
    p.add_argument(
        "--runs",
        default=str(config.NOTEBOOKS_DIR / "reports.yaml"),
        help="run list (default: %(default)s)",
    )
    p.add_argument(
        "--out",
        default=str(config.REPORTS_DIR),
        help=(
            "report folder (default: %(default)s): new, empty, or written by this project "
            "for the same runs file"
        ),
    )
    p.add_argument(
        "--workers", type=_bounded(int, 1, 256), help="worker processes (default: one per core)"
    )
    p.add_argument(
        "--force", action="store_true", help="rerun runs whose cached result is still valid"
    )
    p.add_argument("--show-code", action="store_true", help="keep code cells in the HTML")
    p.add_argument(
        "--scheduler", type=_scheduler, help="tcp://HOST:PORT of a Dask scheduler to run on instead"
    )
    p.add_argument("--only", help="run only runs whose id contains this text")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_report)

    from .sources import SOURCES

    sources = "; ".join(f"{c.name}: {c.summary}" for c in SOURCES.values())
    p = sub.add_parser(
        "fetch",
        help="build a campaign series from Wikipedia, GDELT, Media Cloud or a Google Trends export",
        description=(
            "Fetch a daily activity series and add it to a study folder (campaigns + "
            "campaign_activity; a rerun updates the same days, other series are kept). By "
            "default the series goes to data/user, which `prepare` merges into "
            f"data/processed and never deletes. Sources — {sources}. Replies are cached in "
            ".cache/http (PP_CACHE_DIR); set PP_USER_AGENT to your contact."
        ),
    )
    p.add_argument("source", choices=list(SOURCES), help="where from")
    p.add_argument("--campaign", type=_slug, help="campaign_id to write (a slug)")
    p.add_argument(
        "--cases",
        nargs="*",
        metavar="CASE_ID",
        type=_slug,
        help="wikipedia only, instead of --campaign/--query: fetch each case's own article "
        "(cases.wikipedia_article) into a series <case_id>_wikipedia linked to that case; "
        "all cases that name one, or those listed. Cases come from --data when it has a "
        "cases table, else from the bundled study",
    )
    p.add_argument(
        "--query",
        action="append",
        default=[],
        help="article title (wikipedia, repeatable), query (gdelt, mediacloud) or column "
        "(google-trends)",
    )
    p.add_argument("--start", type=_day, help="first day YYYY-MM-DD")
    p.add_argument("--end", type=_day, help="last day YYYY-MM-DD")
    p.add_argument(
        "--data",
        default=str(config.USER_DATA_DIR),
        help="study folder to add to (default: %(default)s)",
    )
    p.add_argument("--lang", default="en", help="Wikipedia language edition (default: %(default)s)")
    p.add_argument(
        "--metric",
        help="; ".join(f"{c.name}: {'|'.join(c.metrics)}" for c in SOURCES.values() if c.metrics)
        + " (default: the first)",
    )
    p.add_argument("--file", help="google-trends: the exported CSV")
    p.add_argument(
        "--stance",
        choices=["supporting", "counter", "neutral"],
        help="does the series count as pressure for the case? (default: supporting for a "
        "new series; an updated one keeps its stance)",
    )
    p.add_argument(
        "--refresh", action="store_true", help="ignore cached replies and ask the service again"
    )
    p.set_defaults(func=cmd_fetch)
    for command in sub.choices.values():  # every other text option: not empty
        for action in command._actions:
            if action.type is None and action.nargs != 0 and action.dest != "help":
                action.type = _text
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 on bad input)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DataError as err:
        for line in err.lines():
            print(line, file=sys.stderr)
        n = len(err.failures)
        print(f"{n} problem{'s' if n != 1 else ''} found; nothing was written.", file=sys.stderr)
        return EXIT_DATA_ERROR
    except OutputError as err:
        print(f"{args.command}: {err}", file=sys.stderr)
        return EXIT_DATA_ERROR
    except OSError as err:  # a folder or file that cannot be written (read-only, full, busy)
        where = err.filename or ""
        print(
            f"{args.command}: cannot write {where}: {err.strerror or err}; files already "
            "finished are kept whole",
            file=sys.stderr,
        )
        return EXIT_DATA_ERROR
    except KeyboardInterrupt as exc:
        terminated = type(exc).__name__ == "BatchTerminated"
        print(
            f"{args.command}: {'terminated' if terminated else 'interrupted'}; files already "
            "finished are kept whole, unfinished ones were not written",
            file=sys.stderr,
        )
        return 143 if terminated else 130
