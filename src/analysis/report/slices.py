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

import numpy as np
import pandas as pd

from ..study import Study

__all__ = [
    "SLICED_NOTEBOOKS",
    "SliceHasher",
    "slice_hash",
]

#: Notebooks whose runs read a slice of the study (others read all of it).
SLICED_NOTEBOOKS: frozenset[str] = frozenset({"10_case_study", "20_event_study"})

# Days added around the event windows of an event study for its clean controls (the
# window and baseline come from the run's parameters over the notebook's defaults).
_MARGIN_DAYS = 1


class SliceHasher:
    """Slice hashes of one study, each table's rows hashed once.

    A batch asks for one slice per run; hashing each table's rows once and digesting
    the rows a slice selects gives the same hash as hashing the selected rows (a row's
    hash depends on its own values only) at a fraction of the cost: 33 runs of the
    bundled study took 0.83 s, most of it rehashing the same rows. The study must not
    change while a hasher is used.
    """

    def __init__(self, study: Study) -> None:
        self.study = study
        self.links = study.case_campaigns()
        self._tables = {**study.tables(), "links": self.links}
        self._rows = {
            name: pd.util.hash_pandas_object(t, index=False).to_numpy()
            for name, t in self._tables.items()
        }
        self._columns = {n: ",".join(map(str, t.columns)).encode() for n, t in self._tables.items()}
        self._groups: dict[tuple[str, str], dict[Any, np.ndarray]] = {}
        self._series_of = self.links.groupby("case_id")["campaign_id"].agg(set).to_dict()
        self._cases_on = self.links.groupby("campaign_id")["case_id"].agg(set).to_dict()

    def _member(self, table: str, column: str, keys: set[str]) -> np.ndarray:
        """Rows of ``table`` whose ``column`` is one of ``keys`` (a boolean mask), from
        each key's row positions, found once per table and column."""
        if (table, column) not in self._groups:
            indices = self._tables[table].groupby(column, sort=False).indices
            self._groups[(table, column)] = {k: np.asarray(v) for k, v in indices.items()}
        groups = self._groups[(table, column)]
        mask = np.zeros(len(self._tables[table]), dtype=bool)
        for key in keys:
            if key in groups:
                mask[groups[key]] = True
        return mask

    def _linked(self, cases: set[str]) -> tuple[set[str], set[str]]:
        """The series of ``cases``, and those cases with every case on those series."""
        series = set().union(*(self._series_of.get(c, set()) for c in cases))
        return series, set(cases).union(*(self._cases_on.get(s, set()) for s in series))

    def __call__(self, notebook: str, parameters: dict[str, Any], whole: str) -> str:
        """The hash of what a run of ``notebook`` with ``parameters`` reads (see
        :func:`slice_hash`)."""
        if notebook == "10_case_study" and parameters.get("case_id"):
            return "case:" + self._case_slice(str(parameters["case_id"]))
        if notebook == "20_event_study" and parameters.get("event_type"):
            return "event_type:" + self._event_type_slice(str(parameters["event_type"]), parameters)
        return whole

    def _digest(self, parts: Iterable[tuple[str, str, Any]]) -> str:
        """sha256 over (label, the table's column names, the selected rows' hashes)."""
        digest = hashlib.sha256()
        for label, table, rows in parts:
            digest.update(label.encode())
            digest.update(self._columns[table])
            digest.update(self._rows[table][np.asarray(rows, dtype=bool)].tobytes())
        return digest.hexdigest()

    def _case_slice(self, case_id: str) -> str:
        return self._digest(self._linked_rows({case_id}))

    def _linked_rows(self, cases: set[str]) -> list[tuple[str, str, Any]]:
        """The rows of ``cases``, every case sharing a series with them and those series:
        (label, table, rows) parts for :meth:`_digest`."""
        series, cases = self._linked(cases)
        return [
            ("cases", "cases", self._member("cases", "case_id", cases)),
            ("legal_events", "legal_events", self._member("legal_events", "case_id", cases)),
            ("campaigns", "campaigns", self._member("campaigns", "campaign_id", series)),
            (
                "activity",
                "campaign_activity",
                self._member("campaign_activity", "campaign_id", series),
            ),
        ]

    def _event_type_slice(self, event_type: str, parameters: dict[str, Any]) -> str:
        st, links = self.study, self.links
        ev = st.legal_events
        of_type = ev[self._member("legal_events", "event_type", {event_type})]
        parts = self._linked_rows(set(of_type["case_id"]))
        day = of_type[of_type["date_precision"] == "day"]
        if len(day):
            window = int(parameters.get("window", 14))
            baseline = int(parameters.get("baseline_days", 28))
            lo = day["date"].min() - pd.Timedelta(days=window + baseline + _MARGIN_DAYS)
            hi = day["date"].max() + pd.Timedelta(days=window + _MARGIN_DAYS)
            parts += [
                ("span_activity", "campaign_activity", st.activity["date"].between(lo, hi)),
                ("span_events", "legal_events", ev["date"].between(lo, hi)),
                ("links", "links", np.ones(len(links), dtype=bool)),
            ]
            if "start_date" in st.cases:
                start = pd.to_datetime(st.cases["start_date"], errors="coerce")
                parts.append(("span_incidents", "cases", start.between(lo, hi)))
        return self._digest(parts)


def slice_hash(study: Study, notebook: str, parameters: dict[str, Any], whole: str) -> str:
    """The hash of what a run of ``notebook`` with ``parameters`` reads of ``study``.

    ``parameters`` are the run's values over the notebook's defaults; ``whole`` is the
    hash of the whole study (its files), returned for notebooks that read all of it. The
    slices are described in this module's docstring. For many runs of one study, build
    one :class:`SliceHasher` and call it per run.
    """
    return SliceHasher(study)(notebook, parameters, whole)
