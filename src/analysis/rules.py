"""The timing rule's parameters, kept free of heavy imports (the CLI reads its defaults)."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "CLI_PARAMETERS",
    "TimingRule",
]

#: The rule's parameters the ``timing`` command exposes, with the range it accepts and
#: its help: ``--window`` sets ``window`` and so on (the type is the default's).
CLI_PARAMETERS: dict[str, tuple[float, float, str]] = {
    "window": (2, 365, "k, days of the fixed run-up and of the long aftermath"),
    "baseline_days": (2, 365, "b, days in the baseline window"),
    "short_window": (1, 30, "days in the short aftermath from the event day"),
    "threshold": (1.0, 1e6, "ratio that counts as a rise"),
    "level": (0.5, 0.999, "1 − chance of a false label on a day with no event"),
    "min_observed": (0.01, 1.0, "share of observed days needed per window"),
    "n_boot": (19, 100_000, "bootstrap replicates for the stability"),
    "seed": (0, 2**32 - 1, "bootstrap seed, recorded"),
}


@dataclass(frozen=True)
class TimingRule:
    """The parameters of the timing label, rule v2 (see :mod:`analysis.timing`).

    Attributes
    ----------
    window : int
        ``k``: the fixed run-up (τ = −k … −1) when no incident or earlier legal event of
        the case is close, and the long aftermath (τ = 0 … k − 1), in days.
    baseline_days : int
        ``b``: days in the baseline window.
    short_window : int
        ``s``: days in the short aftermath (τ = 0 … s − 1) that catches an event-day spike.
    late_window : int
        The late run-up: the last days before the event (a rise that starts inside the
        run-up shows there first); the aftermaths are compared with it.
    min_runup : int
        The run-up since an incident or earlier event is never shorter than this.
    max_runup : int
        An incident or earlier event at most this many days before the event starts the
        run-up; an older one does not (the fixed ``k``-day run-up is used).
    max_baseline_gap : int
        The baseline is moved back before the case's earlier dates (incident, events)
        that would fall in it, but never ending more than this many days before the
        run-up; past that the baseline stays just before the run-up and is flagged.
    threshold : float
        A rise means the later window's mean is at least this many times the earlier
        one (both plus ``offset``).
    level : float
        ``1 − α``: the chance that a date with no event gets any label but ``neither``
        is at most α. α is split: α/2 for the run-up, α/4 for each aftermath; a rise
        must be larger than that quantile of the same comparison on comparison dates.
    min_observed : float
        Share of each window's days that must be observed.
    n_boot : int
        Stationary-bootstrap replicates of the comparison dates, for the stability.
    offset : float
        Added to each window mean before taking logs (in the series' unit).
    spill_days : int
        Another case's event up to this many days before the run-up counts as sharing it.
    local_days : int
        Comparison dates are taken within this many days of the event when there are
        enough of them.
    min_placebo : int
        Fewest comparison dates to calibrate a label on. Under 1/(α/4) of them (80 at
        the default level) the empirical p-value cannot reach α/4, so a t₂ tail fitted
        to them is used instead.
    seed : int
        Seed of the bootstrap (recorded in every result).
    """

    window: int = 14
    baseline_days: int = 28
    short_window: int = 3
    late_window: int = 5
    min_runup: int = 3
    max_runup: int = 28
    max_baseline_gap: int = 56
    threshold: float = 1.5
    level: float = 0.95
    min_observed: float = 0.5
    n_boot: int = 199
    offset: float = 1.0
    spill_days: int = 7
    local_days: int = 365
    min_placebo: int = 30
    seed: int = 0

    def __post_init__(self) -> None:
        checks = [
            (self.window >= 2 and self.baseline_days >= 2, "window and baseline_days ≥ 2"),
            (1 <= self.short_window <= self.window, "1 ≤ short_window ≤ window"),
            (1 <= self.late_window <= self.window, "1 ≤ late_window ≤ window"),
            (1 <= self.min_runup <= self.max_runup, "1 ≤ min_runup ≤ max_runup"),
            (self.max_baseline_gap >= 0, "max_baseline_gap ≥ 0"),
            (0 < self.level < 1, "level in (0, 1)"),
            (0 < self.min_observed <= 1, "min_observed in (0, 1]"),
            (math.isfinite(self.threshold) and self.threshold >= 1, "a finite threshold ≥ 1"),
            (self.n_boot >= 19, "n_boot ≥ 19"),
            (math.isfinite(self.offset) and self.offset >= 0, "a finite offset ≥ 0"),
            (self.spill_days >= 0 and self.local_days >= 1, "spill_days ≥ 0, local_days ≥ 1"),
            (self.min_placebo >= 10, "min_placebo ≥ 10"),
        ]
        wrong = [text for ok, text in checks if not ok]
        if wrong:
            raise ValueError("timing rule needs " + "; ".join(wrong))

    @property
    def alpha(self) -> float:
        """The total size of the three 'rose' tests (α/2 before, α/4 for each aftermath)."""
        return 1 - self.level

    def describe(self) -> str:
        """The rule in plain words, with this rule's numbers."""
        k, b, s = self.window, self.baseline_days, self.short_window
        return (
            f"Run-up: the days since the case's incident or previous legal event when that was "
            f"{self.min_runup}–{self.max_runup} days before (at least {self.min_runup} days), "
            f"else the {k} days before the event. Baseline: the {b} days before the run-up, "
            f"moved back before any earlier date of the same case (so it is the case's own "
            f"level before it began). Aftermath: the event day and {s - 1} more "
            f"(short) and the {k} days from the event day (long). Activity rose when the "
            f"later window's mean is at least {self.threshold:g}× the earlier one (each + "
            f"{self.offset:g}) and unusually large for the series: larger than on "
            f"{1 - self.alpha / 2:.1%} (run-up) or {1 - self.alpha / 4:.2%} (each aftermath) "
            f"of comparison dates of the same series with no event of any case, so a date "
            f"with no event gets a label other than 'neither' at most {self.alpha:.0%} of "
            f"the time. preceded = rose in the run-up only; "
            f"followed = rose in an aftermath only; both; neither; an incident is never "
            f"'preceded'. 'insufficient data' when under {self.min_observed:.0%} of a "
            f"window's days were observed or too few comparison dates exist. Stability: "
            f"the share of {self.n_boot} stationary-bootstrap replicates "
            f"of the comparison dates (seed {self.seed}) and of 9 window/threshold choices "
            f"that give the same label."
        )
