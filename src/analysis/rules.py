"""The timing rule's parameters, kept free of heavy imports (the CLI reads its defaults)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TimingRule:
    """The parameters of the timing label (see the module docstring for the rule).

    Attributes
    ----------
    window : int
        ``k``: days in the pre window (τ = −k … −1) and in the post window (τ = 0 … k − 1).
    baseline_days : int
        ``b``: days in the baseline window just before the pre window.
    threshold : float
        A rise means the window mean is at least this many times the earlier one.
    level : float
        Confidence level of the bootstrap intervals.
    min_observed : float
        Share of days that must be observed in each window.
    n_boot : int
        Bootstrap replicates.
    block : int or None
        Moving-block length in days; ``None`` = ⌈window^(1/3)⌉.
    offset : float
        Added to each window mean before taking logs (in the series' unit).
    seed : int
        Seed of the bootstrap (recorded in every result).
    """

    window: int = 14
    baseline_days: int = 28
    threshold: float = 1.5
    level: float = 0.95
    min_observed: float = 0.5
    n_boot: int = 999
    block: int | None = None
    offset: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.window < 2 or self.baseline_days < 2:
            raise ValueError("window and baseline_days must be at least 2 days")
        if not 0 < self.level < 1 or not 0 < self.min_observed <= 1:
            raise ValueError("level must be in (0, 1) and min_observed in (0, 1]")
        if self.threshold < 1 or self.n_boot < 99 or self.offset < 0:
            raise ValueError("threshold must be ≥ 1, n_boot ≥ 99 and offset ≥ 0")

    @property
    def block_length(self) -> int:
        """The moving-block length actually used."""
        return self.block or max(1, math.ceil(self.window ** (1 / 3)))

    def describe(self) -> str:
        """The rule in one paragraph, with this rule's numbers."""
        k, b = self.window, self.baseline_days
        pct = f"{self.level:.0%}"
        return (
            f"Windows around each event day (τ = 0): baseline τ = −{k + b}…−{k + 1}, "
            f"pre τ = −{k}…−1, post τ = 0…{k - 1}. A window rose when the lower end of the {pct} "
            f"moving-block bootstrap interval (block {self.block_length} days, {self.n_boot} "
            f"replicates, seed {self.seed}) of log((mean + {self.offset:g}) / (earlier mean + "
            f"{self.offset:g})) exceeds log({self.threshold:g}). 'preceded' = pre rose over "
            "baseline only; 'followed' = post rose over pre only; 'both'; 'neither'; "
            f"'insufficient data' when under {self.min_observed:.0%} of a window's days "
            "were observed."
        )
