"""What every column of a report table is called, and how its numbers are written.

One dictionary for every table a reader sees (:func:`analysis.narrative.readable`) and
for :func:`analysis.results.etable`: a column's human label (with its unit) and its kind,
which decides the format — counts with thousands separators, ratios as ``×``, p-values
as ``< 0.001``, shares as percentages, dates as dates. A column not listed keeps its
name (underscores become spaces) and a plain number format.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "COLUMNS",
    "TERMS",
    "Column",
    "format_value",
    "label_of",
]


@dataclass(frozen=True)
class Column:
    """A column as readers see it: ``label`` (with its unit) and ``kind`` (its format)."""

    label: str
    kind: str = "number"  # count, number, ratio, p, share, pct, date, text, words, term


COLUMNS: dict[str, Column] = {
    # identifiers and words
    "verdict": Column("Verdict", "text"),
    "label": Column("Label", "text"),
    "event_id": Column("Event", "text"),
    "event_type": Column("Event type", "words"),
    "case_id": Column("Case", "text"),
    "country": Column("Country", "text"),
    "category": Column("Category", "words"),
    "date_precision": Column("Dated to the", "words"),
    "variable": Column("Variable (as published)", "text"),
    "campaign_id": Column("Series", "text"),
    "series_scope": Column("Series is", "words"),
    "term": Column("Term", "term"),
    "cause": Column("Cause", "words"),
    "effect": Column("Effect", "words"),
    "note": Column("Note", "text"),
    "first": Column("First day", "date"),
    "last": Column("Last day", "date"),
    "first_day": Column("First day", "date"),
    "last_day": Column("Last day", "date"),
    "span_days": Column("Days spanned", "count"),
    "observed_days": Column("Days observed", "count"),
    "pct_observed": Column("Observed", "pct"),
    "longest_gap_days": Column("Longest gap (days)", "count"),
    "date": Column("Date", "date"),
    # timing windows (activity in the series' unit per day)
    "runup_days": Column("Run-up (days)", "count"),
    "base_mean": Column("Baseline (per day)", "number"),
    "pre_mean": Column("Run-up (per day)", "number"),
    "late_mean": Column("Late run-up (per day)", "number"),
    "short_mean": Column("Event days (per day)", "number"),
    "post_mean": Column("Aftermath (per day)", "number"),
    "lr_pre_base_p": Column("Rise before: p", "p"),
    "lr_late_base_p": Column("Late rise: p", "p"),
    "lr_short_pre_p": Column("Spike on the day: p", "p"),
    "lr_post_pre_p": Column("Rise after: p", "p"),
    "n_placebo": Column("Comparison dates", "count"),
    "stability_boot": Column("Same label, resampled", "share"),
    "stability_spec": Column("Same label, other rules", "share"),
    # coverage
    "observed": Column("Days observed", "share"),
    "n_days": Column("Days", "count"),
    "n_observed": Column("Observed days", "count"),
    "n_gaps": Column("Gaps", "count"),
    "longest_gap": Column("Longest gap (days)", "count"),
    # model results (results.TIDY_COLUMNS and their ratios)
    "estimate": Column("Estimate", "number"),
    "std_error": Column("Standard error", "number"),
    "statistic": Column("Test statistic", "number"),
    "p_value": Column("p-value", "p"),
    "p_adjusted": Column("p (adjusted, BH)", "p"),
    "p_shift": Column("p (rotations)", "p"),
    "conf_low": Column("95% CI low", "number"),
    "conf_high": Column("95% CI high", "number"),
    "odds_ratio": Column("Odds ratio", "ratio"),
    "hazard_ratio": Column("Hazard ratio", "ratio"),
    "rate_ratio": Column("Rate ratio", "ratio"),
    "f_stat": Column("F", "number"),
    "lag": Column("Lag (days)", "count"),
    "n_obs": Column("Days used", "count"),
    "n_events": Column("Legal events", "count"),
    "N": Column("Observations", "count"),
    "vcov": Column("Standard errors", "text"),
    # placebo dates
    "placebo_mean": Column("Mean at placebo dates", "number"),
    "n_rows": Column("Event windows", "count"),
    "n_draws": Column("Placebo draws", "count"),
    # Granger discoveries and impulse responses
    "pairs": Column("Case–series pairs", "count"),
    "tested": Column("Pairs tested", "count"),
    "discoveries": Column("Discoveries", "count"),
    "ordering": Column("Order", "words"),
    "impulse": Column("Shock to", "words"),
    "response": Column("Response of", "words"),
    "step": Column("Days after", "count"),
    "horizon": Column("Days after the shock", "count"),
    "lag_order": Column("VAR lags", "count"),
    "response_value": Column("Response", "number"),
    # replication of published models
    "hr_published": Column("Hazard ratio (published)", "number"),
    "hr_ours": Column("Hazard ratio (ours)", "number"),
    "se_published": Column("Robust SE (published)", "number"),
    "se_ours": Column("Robust SE (ours)", "number"),
    "match": Column("Same to 4 decimals", "yesno"),
    "n_published": Column("N (published)", "count"),
    "n_ours": Column("N (ours)", "count"),
    "events_published": Column("Events (published)", "count"),
    "events_ours": Column("Events (ours)", "count"),
}

#: Model terms in words (a term not listed keeps its name, underscores as spaces).
TERMS: dict[str, str] = {
    "const": "intercept",
    "intercept": "intercept",
    "time": "time (per day)",
    "level_change": "level change at the event",
    "slope_change": "slope change after the event",
    "pre_vs_base": "before the event vs the baseline",
    "post_vs_pre": "after the event vs before it",
    "pre_pressure": "pressure before the event (log)",
    "log_base": "baseline level (log)",
    "pressure": "pressure (log activity, week before)",
    "pressure_sd": "pressure (SDs of the series' own log activity, week before)",
}


def _term(name: str) -> str:
    """A model term in words; ``duration^k`` (a discrete hazard's time terms) included."""
    if name in TERMS:
        return TERMS[name]
    power = re.fullmatch(r"duration\^(\d+)", name)
    if power:
        k = int(power.group(1))
        return "time since the incident (share of the horizon)" + (
            "" if k == 1 else f", to the power {k}"
        )
    return name.replace("_", " ")


def label_of(name: str) -> str:
    """The human label of a column (its name with spaces when not in :data:`COLUMNS`)."""
    column = COLUMNS.get(name)
    return column.label if column else name.replace("_", " ")


def _pct(x: float) -> str:
    """A percentage (0–100) with one decimal that never rounds to 0 or 100 when it is not."""
    text = f"{x:.1f}"
    if text == "100.0" and x < 100:
        text = "99.9"
    if text == "0.0" and x > 0:
        text = "0.1"
    return f"{text}%"


def _number(x: float) -> str:
    size = abs(x)
    if size >= 100:
        return f"{x:,.0f}"
    if size >= 1 or x == 0:
        return f"{x:.2f}"
    if size >= 0.001:
        return f"{x:.3f}"
    # two significant digits, never e-notation: 0.00027, not 2.7e-04
    return np.format_float_positional(x, precision=2, unique=False, fractional=False, trim="-")


_FORMATS = {
    "count": lambda x: f"{x:,.0f}",
    "p": lambda x: "< 0.001" if x < 0.001 else f"{x:.3f}",
    "share": lambda x: f"{100 * x:.0f}%",
    "pct": _pct,
    "ratio": lambda x: f"{x:.2f}×" if abs(x) >= 0.01 or x == 0 else f"{x:.2g}×",
    "number": _number,
}


def format_value(name: str, value: object) -> str:
    """``value`` written as its column's kind says (empty for missing values)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    kind = COLUMNS[name].kind if name in COLUMNS else "number"
    if kind == "text":
        return str(value)
    if kind == "yesno":
        return "yes" if bool(value) else "no"
    if kind == "words":  # a vocabulary value: 'no_charge' reads 'no charge'
        return str(value).replace("_", " ")
    if kind == "term":
        return _term(str(value))
    if kind == "date" or isinstance(value, pd.Timestamp):
        return pd.Timestamp(value).strftime("%-d %b %Y")  # type: ignore[arg-type]
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        return str(value)  # numpy's integers and floats are Real too
    x = float(value)
    if not math.isfinite(x):
        return "—"
    return str(_FORMATS.get(kind, _number)(x))
