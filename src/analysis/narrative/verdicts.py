"""Verdicts a reader can quote: what a case's labels add up to, and one sentence per report
from its headline numbers, each stating its test and ending with its caveat.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

__all__ = [
    "EVENT_WORDS",
    "LABEL_WORDS",
    "event_words",
    "held_rises",
    "label_breakdown",
    "label_counts_by",
    "labels_verdict",
    "run_verdict",
]


#: Event types whose name does not read as a noun in a sentence ("before a no charge").
EVENT_WORDS: dict[str, str] = {
    "no_charge": "decision not to charge",
    "other": "other legal event",
}


def event_words(event_type: str) -> str:
    """An event type as words in a sentence: ``no_charge`` → "decision not to charge"."""
    return EVENT_WORDS.get(str(event_type), str(event_type).replace("_", " "))


#: What each timing label says, in words a reader can quote.
LABEL_WORDS: dict[str, str] = {
    "preceded": "attention rose before the event",
    "followed": "attention rose only on the day or after",
    "both": "attention rose before and rose again after",
    "neither": "no rise around the event",
    "insufficient data": "too few observed days to tell",
}


def labels_verdict(counts: dict[str, int]) -> str:
    """A case's legal events by label, in one sentence (the preferred row of each event).

    ``counts`` maps labels to numbers of events, as ``value_counts().to_dict()`` gives.
    """
    total = int(sum(counts.values()))
    if total == 0:
        return "No legal event of this case could be labelled."
    order = [k for k in LABEL_WORDS if counts.get(k)]
    if total == 1:
        return f"One legal event: {order[0]} ({LABEL_WORDS[order[0]]})."
    parts = ", ".join(f"{int(counts[k])} {k}" for k in order)
    top = max(counts[k] for k in order)
    leaders = [k for k in order if counts[k] == top]
    tail = (
        f"Most often, {LABEL_WORDS[leaders[0]]}."
        if len(leaders) == 1
        else "No single pattern dominates."
    )
    return f"Of {total} legal events: {parts}. {tail}"


def label_counts_by(timing: pd.DataFrame, column: str) -> dict[str, dict[str, int]]:
    """Numbers of events per label within each value of ``column`` (preferred rows)."""
    rows = timing[timing["preferred"]] if "preferred" in timing else timing
    if rows.empty:
        return {}
    table = rows.groupby(column)["label"].value_counts().unstack(fill_value=0)
    return {
        str(k): {str(label): int(n) for label, n in v.items() if n}
        for k, v in table.to_dict("index").items()
    }


def _p(x: object) -> str:
    """A p-value as a reader quotes it."""
    try:
        value = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "p not computed"
    if not math.isfinite(value):
        return "p not computed"
    if value < 0.001:
        return "p < 0.001"
    return f"p = {value:.3f}" if value < 0.1 else f"p = {value:.2f}"


def _change(p_value: object, estimate: object, where: str) -> str:
    """``"a rise <where> (p = …)"``, ``"a fall …"`` or ``"no detectable change …"``: the
    direction comes from the estimate's sign, never from the p-value alone."""
    try:
        small = float(p_value) < 0.05  # type: ignore[arg-type]
        sign = float(estimate)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        small, sign = False, float("nan")
    if small and math.isfinite(sign) and sign != 0:
        return f"a {'rise' if sign > 0 else 'fall'} {where} ({_p(p_value)})"
    return f"no detectable change {where} ({_p(p_value)})"


def run_verdict(notebook: str, h: dict[str, Any]) -> str:
    """One sentence a reader can quote for a report, from its headline numbers.

    ``notebook`` names the report's kind (``10_case_study`` …); ``h`` is what the
    notebook recorded with :func:`~analysis.narrative.save_headlines`. Every sentence
    states its test and ends with the caveat that matters for it.
    """
    if isinstance(h.get("verdict"), str) and h["verdict"]:
        return str(h["verdict"])
    try:
        return _VERDICTS[notebook](h)
    except (KeyError, TypeError, ValueError):
        return "See the report for its numbers."


def _overview(h: dict[str, Any]) -> str:
    return (
        f"{h['cases']} cases, {h['legal_events']} legal events ({h['day_precision_events']} "
        f"dated to the day) and {h['series']} activity series, {h['series_with_gaps']} of "
        "them with unobserved stretches."
    )


def _event_study(h: dict[str, Any]) -> str:
    words = event_words(h["event_type"])
    article = "an" if words[:1] in "aeiou" else "a"
    if "pre_test_estimate" not in h:  # recorded before estimates were: no direction
        raise KeyError("pre_test_estimate")
    windows = f"{h['n_windows']} event windows in " if "n_windows" in h else ""
    text = (
        f"Pooled over {windows}{h['n_cases']} cases: "
        f"{_change(h['pre_test_p_boot'], h['pre_test_estimate'], f'before {article} {words}')} "
        f"and {_change(h['post_test_p_boot'], h['post_test_estimate'], 'after it')} "
        "(wild cluster bootstrap)."
    )
    placebo = [h.get("placebo_p_pre"), h.get("placebo_p_post")]
    if all(isinstance(p, int | float) for p in placebo):
        text += (
            f" Against dates without events (placebo): before {_p(placebo[0])}, after "
            f"{_p(placebo[1])}"
        )
        agree = (float(placebo[1]) < 0.05) == (float(h["post_test_p_boot"]) < 0.05)  # type: ignore[arg-type]
        text += "." if agree else "; the two tests disagree about after: read the page."
    return text + " A pooled average, not any one case."


def _lead_lag(h: dict[str, Any]) -> str:
    found = int(h["discoveries_activity_to_events"]) + int(h["discoveries_events_to_activity"])
    text = (
        f"{found} of {h['pairs']} case–series pairs show activity predicting legal events or "
        f"the reverse at a {float(h['alpha']):.0%} false discovery rate (rotation p-values)."
    )
    if "event_rate_ratio" in h:
        interval = ""
        if "event_rate_low" in h:
            interval = (
                f", 95% CI {float(h['event_rate_low']):.2f}–{float(h['event_rate_high']):.2f}"
            )
        text += (
            f" Legal events were {float(h['event_rate_ratio']):.2f}× as frequent for each "
            "standard deviation of higher activity in the week before (in each series' own "
            f"units{interval}; {_p(h.get('event_rate_p'))}). Predictability, not cause."
        )
    return text


def _outcomes(h: dict[str, Any]) -> str:
    parts = []
    if "logit_or_pre_pressure" in h:
        interval = ""
        if "logit_or_low" in h:
            interval = f" (95% CI {float(h['logit_or_low']):.2f}–{float(h['logit_or_high']):.2f})"
        parts.append(
            "each e-fold (2.7×) rise of activity in the run-up over its baseline goes with "
            f"{float(h['logit_or_pre_pressure']):.2f}× the odds that the event was favourable"
            f"{interval}, over {h['logit_n']} favourable or unfavourable events (neutral "
            "ones left out)"
        )
    if "cox_hr" in h:
        parts.append(
            f"hazard ratio of a charge {float(h['cox_hr']):.2f} (95 % CI "
            f"{float(h['cox_hr_low']):.2f}–{float(h['cox_hr_high']):.2f}) per unit of log "
            f"{h['cox_series']} activity, from {h['cox_events']} charges"
        )
    if not parts:
        return "Not enough data for the outcome models."
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + ". Associations over few events, not causes."


def _replication(h: dict[str, Any]) -> str:
    return (
        f"{h['models_matched']} of {h['models']} published Cox models reproduced "
        "(coefficients and robust errors)."
    )


_VERDICTS = {
    "00_data_overview": _overview,
    "10_case_study": lambda h: labels_verdict(h["labels"]),
    "20_event_study": _event_study,
    "30_lead_lag": _lead_lag,
    "40_outcomes": _outcomes,
    "41_kelley_simmons_replication": _replication,
}


def _clean(legal: pd.DataFrame) -> pd.DataFrame:
    """Labels with no other case's event in their windows and not borderline."""
    clean = legal
    if "confounded_by" in legal:
        clean = clean[clean["confounded_by"].fillna("") == ""]
    if "borderline" in legal:
        clean = clean[~clean["borderline"].fillna(False).astype(bool)]
    return clean


def held_rises(timing: pd.DataFrame) -> list[dict[str, str]]:
    """The legal events before which attention rose ("preceded" or "both") and whose
    label holds: no other case's event in its windows and not borderline (the ``clean``
    count of :func:`label_breakdown`). Each as ``{"event": words, "date": ISO day}``,
    in date order, so the front page can name them."""
    rows = timing[timing["preferred"]] if "preferred" in timing else timing
    legal = rows[rows["event_type"] != "incident"]
    held = _clean(legal[legal["label"].isin(["preceded", "both"])]).sort_values("date")
    return [
        {"event": event_words(t), "date": pd.Timestamp(d).date().isoformat()}
        for t, d in zip(held["event_type"], held["date"], strict=True)
    ]


def label_breakdown(timing: pd.DataFrame) -> dict[str, dict[str, int]]:
    """A case's labels (the row that answers for each event) split the ways the front
    page reports them: ``legal`` (legal events), ``incident`` (the incidents that began
    the case, never "preceded" by rule), and among legal events ``shared`` (the label rests
    on a series other cases share) and ``clean`` (no other case's event in its windows,
    and not borderline)."""
    rows = timing[timing["preferred"]] if "preferred" in timing else timing

    def counts(frame: pd.DataFrame) -> dict[str, int]:
        return {str(k): int(v) for k, v in frame["label"].value_counts().items()}

    incident = rows["event_type"] == "incident"
    legal = rows[~incident]
    clean = _clean(legal)
    shared = legal[legal["series_scope"] == "shared"] if "series_scope" in legal else legal.iloc[:0]
    return {
        "legal": counts(legal),
        "incident": counts(rows[incident]),
        "shared": counts(shared),
        "clean": counts(clean),
    }
