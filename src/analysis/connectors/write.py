"""Writing a fetched series into a study folder: validated first, both tables atomically,
under a lock.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from .. import config
from .._io import locked
from ..datasets import (
    FORMATS,
    find_table,
    merge_activity_unlocked,
    parse_table,
    read_raw,
    refuse_derived,
    write_table,
)
from ..errors import DataError, Failure, OutputError
from ..schema import SLUG_EXPECTED, SLUG_RE
from .common import (
    FetchedSeries,
)

__all__ = [
    "refuse_bundled_id",
    "write_series",
]


def _existing_path(folder: Path, table: str) -> Path:
    try:
        return find_table(folder, table)
    except DataError:
        if any((folder / f"{table}{ext}").exists() for ext in FORMATS):
            raise  # two files hold the table: say so rather than pick one
        return folder / f"{table}.csv"


def _existing(folder: Path, table: str) -> tuple[pd.DataFrame | None, Path]:
    path = _existing_path(folder, table)
    return (parse_table(read_raw(path), table, str(path)) if path.exists() else None), path


def write_series(
    folder: Path, campaign_id: str, series: FetchedSeries, stance: str | None = None
) -> tuple[Path, Path]:
    """Add or update a series in a study folder, safely.

    The ``campaigns`` row is added or replaced (with ``fetched_at``); activity rows of
    this campaign on the fetched days are replaced, other days and campaigns kept, so a
    rerun updates instead of duplicating. Both tables are validated before anything is
    written, and each is written atomically in the folder's existing format.

    ``stance`` (``supporting``, ``counter`` or ``neutral``) says whether the series counts
    as pressure for the case; by default a new series is ``supporting`` (attention to a
    case is pressure in this project's sense) and an updated one keeps its stance.
    """
    if not SLUG_RE.match(campaign_id):
        raise DataError([Failure("--campaign", None, None, campaign_id, SLUG_EXPECTED)])
    folder = Path(folder)
    if folder.is_symlink():
        folder = folder.resolve()
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--data: {folder} is a file; expected a study folder")
    refuse_derived(folder, "--data")
    if folder.resolve() == config.USER_DATA_DIR.resolve():
        refuse_bundled_id(campaign_id)
    folder.mkdir(parents=True, exist_ok=True)
    with locked(folder):  # the two tables change together; a second fetch waits
        campaigns, camp_path = _existing(folder, "campaigns")
        act_path = _existing_path(folder, "campaign_activity")
        row = {
            "campaign_id": campaign_id,
            **series.campaign,
            "stance": stance or "supporting",
            "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        new_row = pd.DataFrame([row])
        if campaigns is not None:
            keep = campaigns[campaigns["campaign_id"] != campaign_id]
            if campaign_id in set(campaigns["campaign_id"]):
                old = campaigns[campaigns["campaign_id"] == campaign_id].iloc[0]
                _refuse_other_kind(old, row, camp_path)
                new_row["stance"] = stance or old["stance"]
            campaigns = pd.concat([keep, new_row], ignore_index=True)
        else:
            campaigns = new_row
        parse_table(campaigns, "campaigns", str(camp_path))  # validate before writing anything
        # The campaign row first: a kill between the two writes leaves a valid study (a
        # series with no days yet), never days of a series the study does not list.
        write_table(campaigns, camp_path, "campaigns")
        merge_activity_unlocked(act_path, series.activity, "--data")
    return camp_path, act_path


def _refuse_other_kind(old: pd.Series, new: dict[str, Any], path: Path) -> None:
    """A rerun updates its own series; it never pours days of one source into another's."""
    for column in ("platform", "source"):
        if str(old.get(column)) != str(new.get(column)):
            raise DataError(
                [
                    Failure(
                        "--campaign",
                        None,
                        None,
                        str(new["campaign_id"]),
                        f"an id {path.name} does not already use for another series (it holds "
                        f"{old.get('label')!r} from {old.get('source')}); choose another id or "
                        "remove that series first",
                    )
                ]
            )


def refuse_bundled_id(campaign_id: str) -> None:
    """data/user is merged into the bundled study: its ids must be new there."""
    path = config.CURATED_DIR / "campaigns.csv"
    try:
        bundled = set(read_raw(path)["campaign_id"].astype(str))
    except (DataError, OSError, KeyError):
        return
    if campaign_id in bundled:
        raise DataError(
            [
                Failure(
                    "--campaign",
                    None,
                    None,
                    campaign_id,
                    "an id the bundled data do not use (data/user is merged into them)",
                )
            ]
        )
