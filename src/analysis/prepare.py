"""Convert the bundled raw sources into one study folder in the data contract.

``python -m analysis prepare`` reads the curated tables (``data/raw/curated/``: cases,
legal events and the campaigns each series stands for) and the third-party files of
the manifest, turns each series into ``campaign_activity`` rows, validates the whole
study and only then writes ``data/processed/*.parquet``, each file atomically.

How each series is made (raw files are never edited):

- ``blacklivesmatter``, ``alllivesmatter``, ``bluelivesmatter``: the ``blm``, ``alm``
  and ``blulm`` columns of Giorgi et al.'s daily counts (no gaps, 2013–2021).
- ``ferguson``: the MITH daily counts; the days between its four collection windows
  are absent (unobserved), never zero.
- ``mahsaamini`` / ``mahsaamini_original``: Twitter's own daily counts with and
  without retweets. The day of the last update (read from ``dataj.json``) was only
  partly collected, so it is kept as unobserved (NaN).
- ``ichbinhanna`` and related hashtags: counted per UTC day from the tweet-ID
  archives with DuckDB (creation time decoded from each ID), distinct IDs, inside each
  query's window (zeros inside it are observed; days outside it are dropped).
- ``navalny_progov``: the ``shares`` column of the CooRTweet-derived daily counts.

Series a user added with ``fetch`` live in ``data/user`` (``campaigns`` and
``campaign_activity`` tables), which ``prepare`` never writes: they are merged into the
study it builds, so rebuilding ``data/processed`` never loses them. ``data/processed``
is replaced whole and atomically (the previous study stays whole until the new one is
complete); ``prepare --out`` refuses a folder holding files the project did not write.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from . import config
from .datasets import (
    Study,
    assemble_study,
    check_study_folder,
    find_table,
    parse_table,
    read_raw,
    save_study,
)
from .errors import DataError, Failure, OutputError
from .ingest import count_tweet_ids

__all__ = [
    "BUILDERS",
    "ICHBINHANNA_ARCHIVES",
    "blm_series",
    "build_study",
    "ferguson_series",
    "ichbinhanna_series",
    "mahsaamini_series",
    "navalny_series",
    "prepare",
]

#: Query windows of the #IchBinHanna archives (from the authors' code/queries/*.sh;
#: end exclusive). ``None``: not stated, so the span of the archive is used.
ICHBINHANNA_ARCHIVES: dict[str, tuple[str, tuple[str, str] | None]] = {
    "ichbinhanna": ("IchBinHanna", ("2021-01-01", "2021-06-28")),
    "hannaimbundestag": ("HannaImBundestag", ("2021-01-01", "2021-06-28")),
    "wisszeitvg": ("WissZeitVG", ("2018-01-01", "2021-06-28")),
    "frististfrust": ("FristIstFrust", ("2018-01-01", "2021-06-28")),
    "95vswisszeitvg": ("95vsWissZeitVG", ("2018-01-01", "2021-06-28")),
    "acertaindegreeofflexibility": ("ACertainDegreeOfFlexibility", ("2018-01-01", "2021-06-28")),
    "hanna_video": ("video_url", None),
}


def _series(campaign_id: str, dates: pd.Series, values: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "campaign_id": campaign_id,
            "date": pd.to_datetime(dates, format="%Y-%m-%d").astype("datetime64[ns]").to_numpy(),
            "value": pd.to_numeric(values).astype("float64").to_numpy(),
        }
    )


def blm_series(raw_dir: Path) -> pd.DataFrame:
    """#BlackLivesMatter and its two counter-hashtags (Giorgi et al.)."""
    df = pd.read_csv(raw_dir / "blm_giorgi" / "tweet_counts_per_day.csv", dtype={"date_str": str})
    return pd.concat(
        [
            _series("blacklivesmatter", df["date_str"], df["blm"]),
            _series("alllivesmatter", df["date_str"], df["alm"]),
            _series("bluelivesmatter", df["date_str"], df["blulm"]),
        ],
        ignore_index=True,
    )


def ferguson_series(raw_dir: Path) -> pd.DataFrame:
    """Tweets mentioning Ferguson in the four collection windows (gaps stay absent)."""
    df = pd.read_csv(raw_dir / "ferguson_mith" / "ferguson_tweets_per_day.csv", dtype={"date": str})
    return _series("ferguson", df["date"], df["tweets_mentioning_ferguson"])


def mahsaamini_series(raw_dir: Path) -> pd.DataFrame:
    """#MahsaAmini counts with and without retweets; the partial last day is NaN."""
    folder = raw_dir / "mahsaamini_amrollahi"
    last_update = pd.Timestamp(json.loads((folder / "dataj.json").read_text())["last_update"])
    frames = []
    for campaign_id, name in (
        ("mahsaamini", "df_counts_by_day_with_retweet.csv"),
        ("mahsaamini_original", "df_counts_by_day_no_retweet.csv"),
    ):
        df = pd.read_csv(folder / name, dtype={"date": str})
        series = _series(campaign_id, df["date"], df["tweet_count"])
        partial = series["date"] == last_update.normalize()
        series.loc[partial, "value"] = float("nan")
        frames.append(series)
    return pd.concat(frames, ignore_index=True)


def ichbinhanna_series(raw_dir: Path) -> pd.DataFrame:
    """Daily distinct tweet IDs per hashtag archive, inside each query window."""
    folder = raw_dir / "ichbinhanna" / "tweet_IDs"
    frames = []
    for campaign_id, (stem, window) in ICHBINHANNA_ARCHIVES.items():
        start, end = window if window else (None, None)
        path = folder / f"{stem}_TweetIDs.txt.gz"
        if not path.is_file():
            raise FileNotFoundError(2, "no such raw file", str(path))
        frames.append(count_tweet_ids(path, campaign_id, start=start, end=end))
    return pd.concat(frames, ignore_index=True)


def navalny_series(raw_dir: Path) -> pd.DataFrame:
    """Pro-government retweets per UTC day around Navalny's arrest and trials."""
    df = pd.read_csv(
        raw_dir / "navalny_coortweet" / "russian_progov_retweets_per_day_utc.csv",
        dtype={"date_utc": str},
    )
    return _series("navalny_progov", df["date_utc"], df["shares"])


BUILDERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    "blm_giorgi": blm_series,
    "ferguson_mith": ferguson_series,
    "mahsaamini_amrollahi": mahsaamini_series,
    "ichbinhanna": ichbinhanna_series,
    "navalny_coortweet": navalny_series,
}


def _user_tables(
    user_dir: Path, bundled: dict[str, pd.DataFrame]
) -> tuple[dict[str, Any], list[Any]]:
    """The ``campaigns`` / ``campaign_activity`` tables a user fetched into ``user_dir``."""
    found: dict[str, tuple[pd.DataFrame, str]] = {}
    failures: list[Failure] = []
    for table in ("campaigns", "campaign_activity"):
        try:
            path = find_table(user_dir, table)
        except DataError as err:  # no such table is fine; two files for one table is not
            failures += [f for f in err.failures if " and " in f.value]
            continue
        try:
            found[table] = (parse_table(read_raw(path), table, str(path)), str(path))
        except DataError as err:
            failures += err.failures
    taken = set(bundled["campaigns"]["campaign_id"])
    for table in ("campaigns", "campaign_activity"):
        if table not in found:
            continue
        frame, file = found[table]
        for i, cid in enumerate(frame["campaign_id"]):
            if cid in taken:
                failures.append(
                    Failure(file, i + 2, "campaign_id", cid, "an id the bundled data do not use")
                )
    return found, failures


def build_study(
    raw_dir: Path | None = None,
    curated_dir: Path | None = None,
    *,
    user_dir: Path | None = None,
    progress: bool = True,
) -> Study:
    """Build and validate the bundled study in memory (nothing is written).

    Parameters
    ----------
    raw_dir, curated_dir : Path, optional
        Third-party raw files and curated tables (defaults: ``data/raw``,
        ``data/raw/curated``).
    user_dir : Path, optional
        A folder of series added with ``fetch`` (``campaigns`` and
        ``campaign_activity``), merged into the study; ``None`` merges nothing.

    Raises
    ------
    DataError
        If a curated table or a converted series breaks the contract, a user series
        reuses a bundled id, or a raw file is missing (run ``make data`` first).
    """
    raw_dir = Path(raw_dir or config.RAW_DATA_DIR)
    curated_dir = Path(curated_dir or config.CURATED_DIR)
    failures: list[Failure] = []
    tables: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    for table in ("cases", "legal_events", "campaigns"):
        path = curated_dir / f"{table}.csv"
        files[table] = str(path)
        try:
            tables[table] = parse_table(read_raw(path), table, str(path))
        except DataError as err:
            failures += err.failures
    parts = []
    for name, builder in tqdm(
        BUILDERS.items(), desc="prepare", unit="source", disable=not progress
    ):
        try:
            parts.append(builder(raw_dir))
        except FileNotFoundError as exc:
            failures.append(
                Failure(
                    str(exc.filename or raw_dir / name),
                    None,
                    None,
                    "",
                    "this raw file (run `make data`)",
                )
            )
    user: dict[str, tuple[pd.DataFrame, str]] = {}
    if user_dir is not None and Path(user_dir).is_dir() and "campaigns" in tables:
        user, more = _user_tables(Path(user_dir), tables)
        failures += more
    if failures:
        raise DataError(failures)
    activity_label = "campaign_activity (built from data/raw)"
    files["campaign_activity"] = activity_label
    activity = parse_table(pd.concat(parts, ignore_index=True), "campaign_activity", activity_label)
    tables["campaign_activity"] = activity
    for table, (frame, file) in user.items():
        tables[table] = pd.concat([tables[table], frame], ignore_index=True)
        files[table] = f"{files[table]} + {file}"
    return assemble_study(tables, files, str(raw_dir))


def prepare(
    out_dir: Path | None = None,
    raw_dir: Path | None = None,
    curated_dir: Path | None = None,
    *,
    user_dir: Path | None = None,
    progress: bool = True,
) -> list[Path]:
    """Build, validate, then write the bundled study as Parquet (``data/processed``).

    Nothing is written unless the whole study is valid. The tables are written into a
    new folder that replaces the old one in a single atomic step, so a reader or a kill
    sees the previous study whole or the new one whole. Series in ``user_dir``
    (default ``data/user``, filled by ``fetch``) are merged in.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    DataError
        Invalid input (nothing written).
    OutputError
        ``out_dir`` holds files the project did not write (nothing written).
    """
    out = Path(out_dir or config.PROCESSED_DATA_DIR)
    user = config.USER_DATA_DIR if user_dir is None else user_dir
    if out.resolve() == Path(user).resolve():
        raise OutputError(
            f"--out: {out} holds the series you fetched, which prepare merges in; it is never "
            "replaced. Choose another folder (default: data/processed)"
        )
    legacy = out.resolve() == config.PROCESSED_DATA_DIR.resolve()
    check_study_folder(out, legacy_ok=legacy)  # refuse before the work
    study = build_study(raw_dir, curated_dir, user_dir=user, progress=progress)
    return save_study(study, out, fmt="parquet", legacy_ok=legacy)
