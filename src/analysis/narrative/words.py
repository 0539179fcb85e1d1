"""The sentences the notebooks print: each number with its unit, each analysis ending with
a verdict and its main caveat, and Markdown/HTML escaping of every data value.
"""

from __future__ import annotations

import html
import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .verdicts import (
    LABEL_WORDS,
    label_breakdown,
    label_counts_by,
    labels_verdict,
    run_verdict,
)

if TYPE_CHECKING:  # its.py imports statsmodels; notebooks without an ITS need not
    from ..event_study import LeadsLagsResult
    from ..its import ImpactResult
    from ..results import ModelResult
    from .conclusions import Conclusion

__all__ = [
    "LABEL_WORDS",
    "granger_sentence",
    "impact_sentence",
    "label_breakdown",
    "label_counts_by",
    "label_summary",
    "labels_verdict",
    "leads_lags_sentence",
    "link",
    "logit_sentence",
    "md",
    "not_enough",
    "onset_sentence",
    "placebo_counts",
    "readable",
    "relative_days",
    "replication_sentence",
    "run_verdict",
    "stacked_sentence",
    "time_to_charge_sentence",
    "timing_sentence",
    "timing_sentences",
]


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~$])")


def md(text: object) -> str:
    """Text from the data made safe for ``IPython.display.Markdown``.

    HTML is escaped (a case title cannot inject markup or script into a report) and
    Markdown punctuation is backslash-escaped (``#BlackLivesMatter`` stays text, not a
    heading).
    """
    return _MD_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False))


def _num(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 10 else f"{x:,.1f}"


def _pct(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:+,.0f}%"


def relative_days(days: int, what: str) -> str:
    """A signed number of days as prose: ``-28`` → "28 days before <what>"."""
    if days == 0:
        return f"on the day of {what}"
    n = abs(days)
    unit = "day" if n == 1 else "days"
    return f"{n} {unit} {'before' if days < 0 else 'after'} {what}"


def _days_text(n: int) -> str:
    return "the day" if n == 1 else f"the {n} days"


def timing_sentence(
    row: pd.Series, label: str, unit: str = "posts per day", window: int = 14
) -> str:
    """One sentence stating a timing label, the series that answered and the numbers behind it.

    ``label`` is the series' name as readers know it (``#BlackLivesMatter``); ``window``
    is kept for callers of the first rule and is not needed (the row has its windows).
    """
    date = pd.Timestamp(row["date"]).strftime("%d %B %Y").lstrip("0")
    what = str(row["event_type"]).replace("_", " ")
    scope = (
        "a series shared with other cases"
        if row.get("series_scope") == "shared"
        else "the case's own series"
    )
    head = f"{label} ({scope}) around the {what} on {date}"
    if row["label"] == "insufficient data":
        why = row.get("why") or "too few observed days"
        return (
            f"{head}: cannot say ({why}: {int(row['n_base'])} baseline, "
            f"{int(row['n_pre'])} run-up and {int(row['n_post'])} aftermath days observed)."
        )
    runup = int(row["runup_days"])
    since = (
        " (since the case's previous date)"
        if row.get("runup_since") == "previous date of the case"
        else ""
    )
    base_when = (
        "its level before the case began"
        if str(row.get("baseline_kind", "")).startswith("before the case")
        else "its level before that"
    )
    before = math.exp(row["lr_pre_base"])
    after = math.exp(max(row["lr_short_pre"], row["lr_post_pre"]))
    text = (
        f"{head}: {_num(row['pre_mean'])} {unit} in {_days_text(runup)} before{since}, "
        f"{before:.1f}× {base_when} ({_num(row['base_mean'])}); "
        f"{_num(row['short_mean'])} on the day and just after and {_num(row['post_mean'])} "
        f"over the next two weeks, {after:.1f}× the last days before. "
        f"Label: '{row['label']}'"
    )
    notes = []
    if row.get("event_type") == "incident":
        notes.append("an incident is labelled by what followed it only")
    if row.get("confounded_by"):
        others = ", ".join(str(row["confounded_by"]).split(";"))
        notes.append(f"other cases' events fall in the same windows of this series ({others})")
    if row.get("borderline"):
        notes.append(
            f"borderline: {row['stability_boot']:.0%} of bootstrap replicates and "
            f"{row['stability_spec']:.0%} of window choices agree"
        )
    return text + (" — " + "; ".join(notes) if notes else "") + "."


def label_summary(counts: pd.DataFrame) -> str:
    """A sentence on how many event–series pairs got each label."""
    total = int(counts["n"].sum())
    parts = [f"{int(n)} {lbl}" for lbl, n in zip(counts["label"], counts["n"], strict=True) if n]
    return f"Of {total} event–series pairs: " + ", ".join(parts) + "."


def link(url: object, text: object | None = None) -> str:
    """An HTML link when ``url`` is http(s); otherwise the escaped text, never a link.

    A ``javascript:`` or ``data:`` URL from the data is shown as plain text, so it can
    never run in a reader's browser.
    """
    label = html.escape(str(text if text is not None else url or ""), quote=False)
    if isinstance(url, str) and re.match(r"^https?://[^\s\"'<>]+$", url.strip()):
        href = html.escape(url.strip(), quote=True)
        return f'<a href="{href}" rel="noopener noreferrer">{label}</a>'
    return label


def not_enough(what: str, exc: Exception) -> Conclusion:
    """The conclusion of a section whose estimate the study cannot support (the reason in
    words), shown in its place."""
    from .conclusions import Conclusion

    return Conclusion(
        f"Not enough data for {what}: {str(exc).rstrip('.')}.",
        "This is a property of the study, not an error; the other sections of this page stand.",
    )


def timing_sentences(timing: pd.DataFrame, case: dict[str, Any]) -> str:
    """One sentence per legal event, from the series that answers for it (Markdown list)."""
    answering = timing[timing["preferred"]]
    if answering.empty:
        return "No legal event of this case has an activity series around it to label."
    names = dict(zip(case["series"], case["series_labels"], strict=True))
    units = dict(zip(case["series"], case["series_units"], strict=True))
    return (
        "In words, for each event, from the series that answers for it (the case's own "
        "series when it has one; the table above lists every series):\n\n"
        + "\n".join(
            "- " + md(timing_sentence(r, names[r["campaign_id"]], units[r["campaign_id"]]))
            for _, r in answering.iterrows()
        )
    )


def onset_sentence(onset: pd.Series | None, unit: str) -> str:
    """The campaign onset in words, with its band when there is one."""
    if onset is None or pd.isna(onset.get("onset")):
        return "No sustained rise above the baseline was found around the first legal event."
    text = "Onset of the series (its first sustained rise, by change-point detection): "
    text += f"**{onset['onset']:%d %B %Y}**"
    if pd.notna(onset.get("onset_low")):
        text += f" (95% bootstrap band {onset['onset_low']:%d %b}–{onset['onset_high']:%d %b %Y})"
    days = int(onset["onset_vs_first_event_days"])
    first = "this case's first legal event"
    text += f", {relative_days(days, first)}"
    if pd.notna(onset.get("peak_date")):
        text += f"; peak {onset['peak_value']:,.0f} {md(unit)} on {onset['peak_date']:%d %B %Y}"
    return text + "."


def impact_sentence(
    level_change_pct: float,
    maxlags: int,
    impact: ImpactResult,
    placebo: pd.DataFrame,
    *,
    level_interval: tuple[float, float] | None = None,
    sensitivity: ImpactResult | None = None,
) -> str:
    """The interrupted-time-series numbers of a case study, with their placebo check.

    Parameters
    ----------
    level_change_pct : float
        Segmented regression's level change on the event day, in percent (said as a
        fold change: +155,194 % reads "1,553×").
    maxlags : int
        HAC lags used for it (the prewhitened kernel's bandwidth, rounded up, minus 1).
    impact : analysis.its.ImpactResult
        The counterfactual after the event.
    placebo : pandas.DataFrame
        :func:`analysis.its.placebo_in_time` on dates before the event (rows whose
        window could not be fitted carry a ``note`` and are not counted).
    level_interval : (float, float), optional
        The 95 % interval of the level change, in percent; said with it, and "no
        detectable change" when it spans 0.
    sensitivity : analysis.its.ImpactResult, optional
        The same counterfactual with CausalImpact's default prior; its ratio is said
        as a sensitivity row, with what that prior assumes.
    """
    from .conclusions import fold

    c = impact.cumulative
    interval = ""
    if level_interval is not None:
        lo, hi = level_interval
        interval = f", 95% interval {fold(1 + lo / 100)} to {fold(1 + hi / 100)}"
        if lo <= 0 <= hi:
            interval += ": no detectable change"
    ratio, low, high = c.get("ratio"), c.get("ratio_low"), c.get("ratio_high")
    verdict = _impact_verdict(low, high)
    text = (
        f"Level on the event day: {fold(1 + level_change_pct / 100)} the level the trend "
        f"before it predicts{interval} (segmented regression, autocorrelation-robust "
        f"errors). Over {c['n_post_days']} days, activity was {fold(ratio)} the forecast "
        f"(95% interval {fold(low)} to {fold(high)}): "
        f"**{verdict}**; {_num(c['observed_sum'])} observed in all against a median forecast "
        f"of {_num(c['observed_sum'] - c['effect'])} "
        f"({md(impact.spec.get('interval', 'simulated paths'))}; seed {impact.seed})."
    )
    for caution in impact.spec.get("cautions") or []:
        text += f" Caution: {md(caution)}."
    if sensitivity is not None:
        s = sensitivity.cumulative
        other = _impact_verdict(s["ratio_low"], s["ratio_high"])
        text += (
            f" With CausalImpact's default prior, which assumes a nearly constant level: "
            f"{fold(s['ratio'])} ({fold(s['ratio_low'])} to {fold(s['ratio_high'])}), {other}"
            + (
                "; the two disagree, so the finding rests on that assumption."
                if other != verdict
                else "."
            )
        )
    usable = _usable_placebos(placebo)
    if usable.empty:
        return (
            text + " No placebo date before the event had enough observed days to check the model."
        )
    alarms = placebo_counts(placebo)["placebo_alarms"]
    dates = ", ".join(f"{d:%d %b %Y}" for d in usable["placebo_date"])
    text += (
        f" Placebo check: the same model started on {len(usable)} earlier dates ({dates}) "
        f"finds an 'effect' at {alarms} of them"
    )
    if alarms == 0:
        return text + " — none: no false alarm on those dates."
    return text + (
        " — either the model misreads this series or activity was already moving before "
        "the event (see the timing label); read the estimate above with that in mind."
    )


def _impact_verdict(low: float | None, high: float | None) -> str:
    """The counterfactual's verdict from its ratio interval (observed / forecast)."""
    if low is not None and np.isfinite(low) and low > 1:
        return "more activity than the forecast"
    if high is not None and np.isfinite(high) and high < 1:
        return "less activity than the forecast"
    return "inconclusive — the interval includes no change"


def _usable_placebos(placebo: pd.DataFrame) -> pd.DataFrame:
    return placebo[placebo["effect"].notna()] if "effect" in placebo else placebo.iloc[:0]


def placebo_counts(placebo: pd.DataFrame) -> dict[str, int]:
    """``placebo_dates`` checked and ``placebo_alarms`` (intervals excluding zero) among them."""
    usable = _usable_placebos(placebo)
    return {
        "placebo_dates": len(usable),
        "placebo_alarms": int(usable["excludes_zero"].astype(bool).sum()) if len(usable) else 0,
    }


def stacked_sentence(result: LeadsLagsResult, of: int | None = None) -> str:
    """The clean-control stacked event study's numbers in words.

    ``result`` is :func:`analysis.event_study.stacked_event_study`'s; ``of`` is the
    page's number of event windows (:func:`analysis.narrative.event_sample`), so the
    reader sees how many of them found clean controls.
    :func:`~analysis.narrative.stacked_conclusion` gives the verdict.
    """
    sp, spo, spec = result.pre_test, result.post_test, result.spec
    stacks = f"{spec['n_stacks']} of the {of}" if of is not None else f"{spec['n_stacks']}"
    return (
        f"{stacks} event windows have clean control series on the same days "
        f"({spec['n_control_windows']} control windows); {spec['n_contaminated']} of them "
        f"hold another event of the same series "
        f"({'dropped' if spec['dropped_contaminated'] else 'kept'}). Before the event: "
        f"{sp['estimate']:+.2f} SDs relative to controls (bootstrap p = {sp['p_boot']:.3g}); "
        f"after minus before: {spo['estimate']:+.2f} (bootstrap p = {spo['p_boot']:.3g})."
    )


def leads_lags_sentence(result: LeadsLagsResult) -> str:
    """The pooled leads-and-lags numbers in words: sample, both tests, both p-values.

    ``result`` is :func:`analysis.event_study.leads_lags`'s (fixed effects per window);
    :func:`~analysis.narrative.leads_lags_conclusion` gives the verdict.
    """
    pre, post = result.pre_test, result.post_test
    windows = int(result.spec.get("n_fixed_effects", 0))
    return (
        f"{windows} event windows from {result.n_clusters} cases ({result.nobs:,} observed "
        f"days). **Before the event**, activity averaged {pre['estimate']:+.2f} baseline SDs "
        f"relative to the baseline (t with {pre['df']} df: p = {pre['p_value']:.3g}; wild "
        f"cluster bootstrap with Webb weights, {pre['n_boot']:,} draws: p = "
        f"{pre['p_boot']:.3g}). **After it** minus before: {post['estimate']:+.2f} (p = "
        f"{post['p_value']:.3g}; bootstrap p = {post['p_boot']:.3g}). With this few cases, "
        "read the bootstrap and placebo p-values rather than the t ones."
    )


def granger_sentence(granger: pd.DataFrame, discoveries: pd.DataFrame, alpha: float) -> str:
    """Discoveries per pair and direction, beside what the F test would claim
    (:func:`~analysis.narrative.granger_conclusion` gives the verdict)."""
    from ..causality import bh_adjust

    parts = [
        f"{r['discoveries']} of {r['pairs']} pairs where {r['cause'].replace('_', ' ')} "
        f"{'predict' if r['cause'] == 'legal_events' else 'predicts'} "
        f"{r['effect'].replace('_', ' ')}"
        for r in discoveries.to_dict("records")
    ]
    n_f = int((bh_adjust(granger["p_value"]) < alpha).sum())
    return (
        "; ".join(parts).capitalize() + f" (false discovery rate {alpha:.0%}, rotation "
        f"p-values). By the F test's own p-values, with the same Benjamini–Hochberg "
        f"correction, {n_f} tests would look significant — "
        "that is what rare events and trending series do to an F test, not evidence."
    )


def time_to_charge_sentence(panel: pd.DataFrame, cox_fit: ModelResult, horizon_days: int) -> str:
    """Who the time-to-charge panel follows, who it leaves out and why, and its hazard
    ratio (:func:`~analysis.narrative.time_to_charge_conclusion` gives the verdict)."""
    hr = cox_fit.tidy().iloc[0]
    left_out = "; ".join(f"{md(k)}: {md(v)}" for k, v in panel.attrs["excluded"].items())
    n_events = int(panel["event"].sum())
    return (
        f"{panel['case_id'].nunique()} criminal cases followed from the incident for at most "
        f"{horizon_days} days: {n_events} first arrests or charges, "
        f"{int(panel['competing'].sum())} decisions not to charge (a competing event: each model "
        f"is a cause-specific hazard), {len(panel)} case-weeks "
        f"({panel.attrs['n_dropped_periods']} weeks without observed activity left out). "
        f"Left out: {left_out or 'none'}. Hazard ratio {hr['hazard_ratio']:.2f} per unit of "
        f"log activity in the week before (95% interval {hr['hazard_ratio_low']:.2f} to "
        f"{hr['hazard_ratio_high']:.2f}); errors cluster-robust, equal to R's survival."
    )


def logit_sentence(model: ModelResult) -> str:
    """The favourable-outcome logit's sample in words (its verdict is
    :func:`~analysis.narrative.ratio_conclusion`)."""
    extra = model.extra
    return (
        f"{model.nobs} events from {extra['n_clusters']} cases ({extra['n_events']} "
        "favourable); errors clustered by case (too few countries to cluster by country)."
    )


def replication_sentence(matched: dict[str, bool]) -> str:
    """Which published models were reproduced to the printed precision."""
    marks = ", ".join(f"model {m} {'✓' if ok else '✗'}" for m, ok in matched.items())
    return f"Reproduced to the printed precision (hazard ratio and robust SE, 4 decimals): {marks}."


def readable(
    frame: pd.DataFrame, columns: list[str] | None = None, labels: dict[str, str] | None = None
) -> Any:
    """A table as readers see it: human column labels and units (one dictionary,
    :data:`analysis.columns.COLUMNS`; ``labels`` overrides it for this table), numbers
    written by kind (counts with thousands separators, ratios as ×, p-values as
    ``< 0.001``, shares as %), model terms in words, no index, a verdict column first,
    every value HTML-escaped. Returns a pandas ``Styler``.
    """
    from ..columns import format_value, label_of

    cols = [c for c in (columns or list(frame.columns)) if c in frame.columns]
    if "verdict" in cols:
        cols = ["verdict", *[c for c in cols if c != "verdict"]]
    shown = frame[cols].reset_index(drop=True)
    names = {c: (labels or {}).get(c, label_of(str(c))) for c in cols}
    text = pd.DataFrame({names[c]: [format_value(str(c), v) for v in shown[c]] for c in cols})
    return text.style.hide(axis="index").format(escape="html")
