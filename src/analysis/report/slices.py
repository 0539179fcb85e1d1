"""Which part of the study each run reads, hashed: editing one case reruns only what uses it.

A run's cache key holds a hash of the slice of the study its notebook reads, not of the
whole study, so that editing one legal event reruns the case study of that case and the
pooled runs that include it — nothing else. The slices are stated per notebook from what
its code reads (each is tested by editing data outside the slice and checking the
notebook's numbers do not move):

``10_case_study`` (``case_id``)
    The case and every case that shares a series with it (their rows and legal events:
    a shared series' other events shape the comparison dates, the confounding flags and
    the onset's caveat), the case's series (``campaigns`` rows and every day of
    activity).
``20_event_study`` (``event_type``)
    Every legal event of that type and its case; the series of those cases, whole, with
    every event of every case linked to them (the placebo test draws dates anywhere in
    them and avoids those events); and, for the clean-control design, every series and
    every event within the calendar span of the event windows.
anything else
    The whole study (its files' hash). A notebook that reads no study (no ``data_dir``
    parameter) depends on none of it.

Hashes are of the rows themselves (``pandas.util.hash_pandas_object`` with the column
names), so they do not depend on how the files are laid out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..study import Study

__all__ = [
    "SLICED_NOTEBOOKS",
    "slice_hash",
]

#: Notebooks whose runs read a slice of the study (others read all of it).
SLICED_NOTEBOOKS: frozenset[str] = frozenset({"10_case_study", "20_event_study"})

# Days added around the event windows of an event study for its clean controls (the
# window and baseline come from the run's parameters over the notebook's defaults).
_MARGIN_DAYS = 1


def _digest(frames: Iterable[tuple[str, pd.DataFrame]]) -> str:
    digest = hashlib.sha256()
    for name, frame in frames:
        digest.update(name.encode())
        digest.update(",".join(map(str, frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _case_slice(study: Study, case_id: str) -> str:
    links = study.case_campaigns()
    series = set(links.loc[links["case_id"] == case_id, "campaign_id"])
    cases = {case_id} | set(links.loc[links["campaign_id"].isin(series), "case_id"])
    return _digest(
        [
            ("cases", study.cases[study.cases["case_id"].isin(cases)]),
            ("legal_events", study.legal_events[study.legal_events["case_id"].isin(cases)]),
            ("campaigns", study.campaigns[study.campaigns["campaign_id"].isin(series)]),
            ("activity", study.activity[study.activity["campaign_id"].isin(series)]),
        ]
    )


def _event_type_slice(study: Study, event_type: str, parameters: dict[str, Any]) -> str:
    ev = study.legal_events
    links = study.case_campaigns()
    of_type = ev[ev["event_type"] == event_type]
    series = set(links.loc[links["case_id"].isin(of_type["case_id"]), "campaign_id"])
    cases = set(of_type["case_id"]) | set(links.loc[links["campaign_id"].isin(series), "case_id"])
    frames = [
        ("cases", study.cases[study.cases["case_id"].isin(cases)]),
        ("legal_events", ev[ev["case_id"].isin(cases)]),
        ("campaigns", study.campaigns[study.campaigns["campaign_id"].isin(series)]),
        ("activity", study.activity[study.activity["campaign_id"].isin(series)]),
    ]
    day = of_type[of_type["date_precision"] == "day"]
    if len(day):
        window = int(parameters.get("window", 14))
        baseline = int(parameters.get("baseline_days", 28))
        lo = day["date"].min() - pd.Timedelta(days=window + baseline + _MARGIN_DAYS)
        hi = day["date"].max() + pd.Timedelta(days=window + _MARGIN_DAYS)
        act = study.activity
        frames += [
            ("span_activity", act[act["date"].between(lo, hi)]),
            ("span_events", ev[ev["date"].between(lo, hi)]),
            ("links", links),
        ]
        if "start_date" in study.cases:
            start = pd.to_datetime(study.cases["start_date"], errors="coerce")
            frames.append(("span_incidents", study.cases[start.between(lo, hi)]))
    return _digest(frames)


def slice_hash(study: Study, notebook: str, parameters: dict[str, Any], whole: str) -> str:
    """The hash of what a run of ``notebook`` with ``parameters`` reads of ``study``.

    ``parameters`` are the run's values over the notebook's defaults; ``whole`` is the
    hash of the whole study (its files), returned for notebooks that read all of it. The
    slices are described in this module's docstring.
    """
    if notebook == "10_case_study" and parameters.get("case_id"):
        return "case:" + _case_slice(study, str(parameters["case_id"]))
    if notebook == "20_event_study" and parameters.get("event_type"):
        return "event_type:" + _event_type_slice(study, str(parameters["event_type"]), parameters)
    return whole
