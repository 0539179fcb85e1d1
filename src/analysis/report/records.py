"""What travels through the batch: a run's spec (to a worker) and its record (back).

Both are plain dataclasses of plain values, so they pickle to worker processes and Dask
workers. A record is also written to the run's folder as ``status.json`` (the cache and
the index read it back with :meth:`RunRecord.from_json`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._io import atomic_write
from .runs import STATUS_FILE, Run

__all__ = [
    "RunRecord",
    "RunSpec",
]


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs to execute one run and write its folder.

    Attributes
    ----------
    run : Run
    notebook : str
        The notebook to execute.
    out_dir, data_dir : str
        The report folder and the study folder.
    key : str
        The run's cache key (recorded when it succeeds).
    show_code : bool
        Keep code cells in the HTML.
    provenance : dict
        Commit, package version, data and code hashes, data folder.
    kernel : str
        Jupyter kernel name.
    pass_data_dir : bool
        The notebook declares a ``data_dir`` parameter.
    capture_stderr : bool
        Send the kernel's stderr to the run's ``kernel.log`` (local workers only).
    warm : bool
        Take the worker's warm kernel (:mod:`analysis.report.warm`) when it has one.
    """

    run: Run
    notebook: str
    out_dir: str
    data_dir: str
    key: str
    show_code: bool = False
    provenance: dict[str, Any] = field(default_factory=dict)
    kernel: str = "python3"
    pass_data_dir: bool = True
    capture_stderr: bool = True
    warm: bool = False

    @property
    def folder(self) -> Path:
        """The run's folder in the report folder."""
        return self.run.folder(Path(self.out_dir))


@dataclass(frozen=True)
class RunRecord:
    """The outcome of one run, as the index shows it and ``status.json`` keeps it.

    Attributes
    ----------
    run : Run
    status : str
        ``"ok"`` or ``"failed"``.
    error : str
        The last line of the error of a failed run.
    duration_s : float
        Seconds the run took.
    key : str
        The cache key of a successful run (empty otherwise).
    headlines : dict
        The run's headline numbers (``results.json``).
    provenance : dict
        As in :class:`RunSpec`, with the run's parameters.
    finished : str
        UTC time the run ended (ISO 8601).
    cached : bool
        Reused from an earlier batch, not run again.
    """

    run: Run
    status: str
    error: str = ""
    duration_s: float = 0.0
    key: str = ""
    headlines: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    finished: str = ""
    cached: bool = False

    @property
    def ok(self) -> bool:
        """Whether the run succeeded."""
        return self.status == "ok"

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.run.run_id

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-ready data (``cached`` is not stored: it is per batch)."""
        data = dataclasses.asdict(self)
        data.pop("cached")
        return data

    @classmethod
    def from_json(cls, data: object) -> RunRecord | None:
        """A record read back from ``status.json``, or ``None`` when it is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("run"), dict):
            return None
        try:
            run = dict(data["run"])
            run["inputs"] = tuple(run.get("inputs") or ())
            fields = {f.name for f in dataclasses.fields(cls)} - {"run", "cached"}
            return cls(run=Run(**run), **{k: v for k, v in data.items() if k in fields})
        except TypeError:  # a field missing or unknown: written by another version
            return None

    def write(self, out_dir: Path) -> None:
        """Write ``status.json`` into the run's folder (atomically)."""
        folder = self.run.folder(Path(out_dir))
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_json(), indent=2, default=str)
        atomic_write(folder / STATUS_FILE, lambda p: p.write_text(text))

    @classmethod
    def failed(cls, spec: RunSpec, error: str) -> RunRecord:
        """The record of a run that ended without one of its own (its worker died)."""
        return cls(
            run=spec.run,
            status="failed",
            error=error,
            provenance=spec.provenance,
            finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
