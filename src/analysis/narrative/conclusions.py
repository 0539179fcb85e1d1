"""The last line of every analysis section: a verdict a reader can quote, and the caveat
that matters for it.

Each function takes the numbers a section has just shown and returns a
:class:`Conclusion`, which a notebook displays as one paragraph (``<p class="verdict">``:
**Verdict:** … **Caveat:** …). The words follow the section's own test; the caveat is the
assumption or limit that could overturn it, measured where it can be (how many labels
rest on a shared series, whether two priors agree, how many clusters there are).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from .verdicts import _change, _p

if TYPE_CHECKING:
    from ..event_study import LeadsLagsResult, PlaceboResult
    from ..its import ImpactResult
    from ..results import ModelResult
    from ..study import Study

__all__ = [
    "Conclusion",
    "event_sample_conclusion",
    "fold",
    "granger_conclusion",
    "impact_conclusion",
    "leads_lags_conclusion",
    "onset_conclusion",
    "overview_conclusion",
    "placebo_conclusion",
    "rate_conclusion",
    "ratio_conclusion",
    "replication_conclusion",
    "stacked_conclusion",
    "time_to_charge_conclusion",
    "timing_conclusion",
    "xcorr_conclusion",
]


@dataclass(frozen=True)
class Conclusion:
    """A section's verdict and its main caveat, shown as one paragraph.

    Jupyter displays it through ``_repr_html_`` (both texts HTML-escaped: they may hold
    case names and labels from the data); ``str()`` gives the plain sentence.
    """

    verdict: str
    caveat: str

    def __str__(self) -> str:
        return f"Verdict: {self.verdict} Caveat: {self.caveat}"

    def _repr_html_(self) -> str:
        return (
            f'<p class="verdict"><strong>Verdict:</strong> {html.escape(self.verdict)} '
            f"<strong>Caveat:</strong> {html.escape(self.caveat)}</p>"
        )


def fold(x: float | None) -> str:
    """A ratio as a fold change a reader can say: ``0.93×``, ``12.4×``, ``1,553×``."""
    if x is None or not math.isfinite(x):
        return "n/a"
    if x >= 100:
        return f"{x:,.0f}×"
    if x >= 10:
        return f"{x:.1f}×"
    if x >= 0.01:
        return f"{x:.2f}×"
    return f"{x:.2g}×"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _cap(text: str) -> str:
    """The first letter upper-case, the rest as it is (``str.capitalize`` would lower
    "#BlackLivesMatter")."""
    return text[:1].upper() + text[1:]


def _day(d: Any) -> str:
    return pd.Timestamp(d).strftime("%-d %B %Y")


def _days(n: int) -> str:
    return f"{abs(n)} day{'' if abs(n) == 1 else 's'}"


# --------------------------------------------------------------------------- case study


def _other_cases_near(
    study: Study, campaign_id: str, case_id: str, day: pd.Timestamp, days: int = 30
) -> list[str]:
    """Titles of other cases on the same series with an event or incident within ``days``."""
    links = study.case_campaigns()
    others = set(links.loc[links["campaign_id"] == campaign_id, "case_id"]) - {case_id}
    if not others:
        return []
    ev = study.legal_events
    ev = ev[ev["case_id"].isin(others) & (ev["date_precision"] == "day")]
    near = set(ev.loc[(ev["date"] - day).abs() <= pd.Timedelta(days=days), "case_id"])
    if "start_date" in study.cases:
        starts = study.cases.set_index("case_id")["start_date"].reindex(sorted(others)).dropna()
        near |= set(starts[(starts - day).abs() <= pd.Timedelta(days=days)].index)
    titles = study.cases.set_index("case_id")["title"]
    return [str(titles.get(c, c)) for c in sorted(near)]


def _shared_with(study: Study, campaign_id: str, case_id: str) -> int:
    links = study.case_campaigns()
    return int((links["campaign_id"] == campaign_id).sum() - (case_id in set(links["case_id"])))


def onset_conclusion(
    study: Study, case: dict[str, Any], series_id: str | None, onset: pd.Series | None
) -> Conclusion:
    """What the rise of the case's series says, and whose rise it may be.

    On a series other cases share, a rise that begins before the case's incident cannot
    be attention to this case: the verdict says so, and the caveat names the other
    cases with an event within 30 days of the rise.
    """
    case_id = case["case_id"]
    if series_id is None:
        return Conclusion(
            "No activity series covers this case's legal events, so nothing can be said "
            "about when attention rose.",
            "Absence of a series is not absence of attention: only the bundled sources were "
            "searched.",
        )
    label = case["series_labels"][case["series"].index(series_id)] or series_id
    shared = _shared_with(study, series_id, case_id)
    if onset is None or pd.isna(onset.get("onset")):
        return Conclusion(
            f"{label} shows no sustained rise (a doubling that lasts a week) around the "
            "first legal event.",
            "A change-point search finds lasting shifts of level; a spike of a day or two "
            "is not an onset (the labels below look at those).",
        )
    when = pd.Timestamp(onset["onset"])
    seen = study.activity.loc[
        (study.activity["campaign_id"] == series_id) & study.activity["value"].notna(), "date"
    ]
    first_day = pd.Timestamp(seen.min()) if len(seen) else None
    censored = (
        f" The series begins on {_day(first_day)}, {_days((when - first_day).days)} before "
        "this rise: it may have begun before the data do."
        if first_day is not None and (when - first_day).days <= 14
        else ""
    )
    start = study.cases.set_index("case_id").get("start_date", pd.Series(dtype=object))
    incident = start.get(case_id) if len(start) else None
    incident = pd.Timestamp(incident) if incident is not None and pd.notna(incident) else None
    first = pd.Timestamp(onset["first_event"]) if pd.notna(onset.get("first_event")) else None
    anchor, what = (
        (incident, "the incident") if incident is not None else (first, "the first legal event")
    )
    rel = (when - anchor).days if anchor is not None else 0
    relative = (
        f"{_days(rel)} {'before' if rel < 0 else 'after'} {what} ({_day(anchor)})"
        if anchor is not None and rel
        else f"on the day of {what}"
    )
    if not shared:
        band = ""
        if pd.notna(onset.get("onset_low")):
            band = (
                f"the bootstrap band runs {_day(onset['onset_low'])} to "
                f"{_day(onset['onset_high'])}; "
            )
        return Conclusion(
            f"Attention to this case ({label}, its own series) began a sustained rise on "
            f"{_day(when)}, {relative}.",
            _cap(
                _sentence(f"{band}a change point dates when the level shifted, not why it shifted")
            )
            + censored,
        )
    others = _other_cases_near(study, series_id, case_id, when)
    named = (
        f"other cases with an event within 30 days of it: {', '.join(others)}"
        if others
        else "no other linked case has an event within 30 days of it"
    )
    if incident is not None and when < incident:
        return Conclusion(
            f"{label} began rising on {_day(when)}, {relative}: that rise is not attention "
            "to this case, which had not yet happened.",
            f"{label} is shared with {shared} other cases; {named}." + censored,
        )
    return Conclusion(
        f"{label} began a sustained rise on {_day(when)}, {relative}.",
        f"{label} is shared with {shared} other cases, so the rise may be theirs; {named}."
        + censored,
    )


def timing_conclusion(timing: pd.DataFrame, case: dict[str, Any]) -> Conclusion:
    """The case's legal events by label (the answering row of each), and how far the
    labels can be trusted: how many rest on a shared series, how many have another
    case's event in their windows, how many are borderline."""
    rows = timing[timing["preferred"]] if "preferred" in timing else timing
    legal = rows[rows["event_type"] != "incident"]
    if legal.empty:
        return Conclusion(
            "No legal event of this case has an activity series around it to label.",
            "Only events dated to the day inside an observed series can be labelled.",
        )
    n = legal["label"].value_counts()
    labelled = int(len(legal) - n.get("insufficient data", 0))
    before = int(n.get("preceded", 0) + n.get("both", 0))
    parts = [
        f"attention rose before {before} (preceded or both)",
        f"only on the day or after for {int(n.get('followed', 0))}",
        f"and not around {int(n.get('neither', 0))}",
    ]
    verdict = (
        f"Of this case's {len(legal)} legal events dated to the day, {labelled} could be "
        "labelled: " + ", ".join(parts)
    )
    if n.get("insufficient data", 0):
        verdict += f"; {int(n['insufficient data'])} had too few observed days"
    shared = int((legal.get("series_scope", pd.Series(dtype=str)) == "shared").sum())
    confounded = int((legal.get("confounded_by", pd.Series(dtype=str)).fillna("") != "").sum())
    borderline = int(
        legal.get("borderline", pd.Series(dtype=bool)).fillna(False).astype(bool).sum()
    )
    caveats = []
    if shared:
        caveats.append(
            f"{shared} of the {len(legal)} labels rest on a series other cases share, and "
            f"{confounded} have another case's event in their windows, whose wave may be "
            "what the label sees"
        )
    elif confounded:
        caveats.append(f"{confounded} labels have another case's event in their windows")
    caveats.append(
        f"{borderline} label{'s' if borderline != 1 else ''} change under other reasonable "
        "rules (borderline)"
        if borderline
        else "no label changes under other reasonable rules"
    )
    caveats.append("timing is not cause")
    return Conclusion(_sentence(verdict), _cap(_sentence("; ".join(caveats))))


def impact_conclusion(
    impact: ImpactResult,
    placebo: pd.DataFrame,
    sensitivity: ImpactResult | None = None,
    shared: bool = False,
) -> Conclusion:
    """The counterfactual's verdict (observed ÷ forecast, on the ratio scale the model
    works on) and what could overturn it: a prior that changes the answer, placebo
    dates that find "effects", a series other cases share."""
    from .words import _impact_verdict, placebo_counts

    c = impact.cumulative
    verdict = _impact_verdict(c.get("ratio_low"), c.get("ratio_high"))
    spec = getattr(impact, "spec", {}) or {}
    if "n_pre_observed" not in spec or "pre_days" not in spec:
        trained = "the days before"
    elif spec["n_pre_observed"] == spec["pre_days"]:
        trained = f"the {spec['pre_days']} days before"
    else:
        trained = f"the {spec['n_pre_observed']} observed days of the {spec['pre_days']} before"
    text = (
        f"Over the {c['n_post_days']} days after the event, activity was "
        f"{fold(c['ratio'])} the forecast made from {trained} (95% interval "
        f"{fold(c['ratio_low'])} to {fold(c['ratio_high'])}): {verdict}."
    )
    caveats = []
    if sensitivity is not None:
        s = sensitivity.cumulative
        if _impact_verdict(s["ratio_low"], s["ratio_high"]) != verdict:
            caveats.append(
                "CausalImpact's default prior (a nearly constant level) gives "
                f"{fold(s['ratio'])} ({fold(s['ratio_low'])} to {fold(s['ratio_high'])}): "
                "the answer rests on what is assumed about the level's drift"
            )
    alarms = placebo_counts(placebo)
    if alarms["placebo_alarms"]:
        caveats.append(
            f"the same model finds an 'effect' at {alarms['placebo_alarms']} of "
            f"{alarms['placebo_dates']} earlier dates where nothing happened"
        )
    if shared:
        caveats.append("the series is shared, so the change may follow another case's news")
    if not caveats:
        caveats.append(
            "a forecast assumes nothing else changed on the event day; "
            + (
                f"the model found no 'effect' at {alarms['placebo_dates']} earlier dates"
                if alarms["placebo_dates"]
                else "no earlier date had enough observed days to check the model on"
            )
        )
    return Conclusion(text, _cap(_sentence("; ".join(caveats))))


# --------------------------------------------------------------------------- event study


def event_sample_conclusion(sample: dict[str, Any], event_words: str) -> Conclusion:
    """The one sample every section of an event-study page uses, stated once."""
    left = []
    if sample["n_not_day"]:
        left.append(f"{sample['n_not_day']} known only to the month or year")
    if sample["n_unobserved"]:
        left.append(f"{sample['n_unobserved']} without observed days around them")
    out = (
        f"Left out, of the events of this type: {' and '.join(left)}. "
        if left
        else "No event of this type is left out. "
    )
    return Conclusion(
        f"{sample['n_windows']} '{event_words}' event windows in {sample['n_cases']} cases "
        f"({sample['n_events']} events on {sample['n_series']} series) are analysed on "
        "this page; every section below uses these windows.",
        out + f"{sample['n_shared']} of the {sample['n_windows']} windows are on a series other "
        "cases share, so their activity mixes those cases' news.",
    )


def leads_lags_conclusion(ll: LeadsLagsResult, event_words: str) -> Conclusion:
    """The pooled leads-and-lags tests in words (wild cluster bootstrap decides)."""
    pre, post = ll.pre_test, ll.post_test
    before = _change(pre["p_boot"], pre["estimate"], f"before the {event_words}")
    after = _change(post["p_boot"], post["estimate"], "after it, relative to before")
    return Conclusion(
        f"Pooled over {ll.n_clusters} cases (wild cluster bootstrap): {before}, and {after}.",
        f"With {ll.n_clusters} clusters the t-based intervals are rough; there is no "
        "control group, so this is the change around these events, not their effect. The "
        "case studies label each event on its own, so a few events can be 'preceded' while "
        "the pooled average shows no detectable change.",
    )


def stacked_conclusion(st: LeadsLagsResult) -> Conclusion:
    """The clean-control design's verdict (after minus before, relative to clean series)."""
    sp, spo, spec = st.pre_test, st.post_test, st.spec
    before = _change(sp["p_boot"], sp["estimate"], "before the events")
    after = _change(spo["p_boot"], spo["estimate"], "after them, relative to before")
    return Conclusion(
        f"Against clean series on the same days (wild cluster bootstrap): {before}, and {after}.",
        f"{spec['n_contaminated']} of the {spec['n_stacks']} event windows hold another "
        f"event of the same series ({'dropped' if spec['dropped_contaminated'] else 'kept'}); "
        "clean series are other cases' series, which may answer to the same news.",
    )


def placebo_conclusion(
    placebo: PlaceboResult, bootstrap_p_after: float | None = None
) -> Conclusion:
    """The permutation test against random dates without events; when the wild cluster
    bootstrap (``bootstrap_p_after``, of "after minus before") disagrees at 5 %, the
    caveat says why the two can."""
    p = placebo.p_values
    pre = (
        "a rise before the events beyond what random dates show"
        if p["pre_vs_base"] < 0.05
        else "no rise before the events beyond what random dates show"
    )
    post = (
        "a change after them beyond random dates"
        if p["post_vs_pre"] < 0.05
        else "no change after them beyond random dates"
    )
    caveat = (
        "Placebo dates are days of the same series with no recorded legal event of any "
        "case nearby; news that is not in the data can still make event dates busier than "
        "ordinary days. The statistics here are plain means over the windows, so they "
        "differ a little from the regression's, which weights windows by their observed days."
    )
    if bootstrap_p_after is not None and (bootstrap_p_after < 0.05) != (p["post_vs_pre"] < 0.05):
        caveat += (
            f" The wild cluster bootstrap disagrees about after ({_p(bootstrap_p_after)}): "
            "this test asks whether these dates are unusual for their series, the bootstrap "
            "whether the change would recur across cases — one or two very large windows "
            "can satisfy the first and not the second."
        )
    return Conclusion(
        f"Against {placebo.n_draws:,} sets of random dates on the same series: {pre} "
        f"({_p(p['pre_vs_base'])}), and {post} ({_p(p['post_vs_pre'])}).",
        caveat,
    )


# --------------------------------------------------------------------------- lead and lag


def granger_conclusion(discoveries: pd.DataFrame, alpha: float) -> Conclusion:
    """Discoveries per direction at the false discovery rate, with the power caveat."""
    if discoveries.empty:
        return Conclusion(
            "No case–series pair could be tested.",
            "Pairs need an observed series and legal events inside it.",
        )
    parts = []
    for r in discoveries.to_dict("records"):
        cause = str(r["cause"]).replace("_", " ")
        verb = "predict" if r["cause"] == "legal_events" else "predicts"
        parts.append(
            f"{cause} {verb} {str(r['effect']).replace('_', ' ')} in {r['discoveries']} of "
            f"{r['pairs']} pairs"
        )
    return Conclusion(
        _cap(_sentence("; ".join(parts) + f" (false discovery rate {alpha:.0%})")),
        "A handful of legal events per case gives these tests little power: no discovery is "
        "not evidence of no relation, and predictability is not cause.",
    )


def rate_conclusion(rate: ModelResult) -> Conclusion:
    """The pooled rate of legal events after unusual activity (Poisson, clustered)."""
    row = cast(pd.Series, rate.tidy().set_index("term").loc["pressure_sd"])
    return ratio_conclusion(
        row,
        "rate_ratio",
        "the daily rate of legal events",
        per="each standard deviation of activity in the week before",
        caveat="A shared movement series rises with many cases at once, so this pools "
        f"their waves; {rate.extra.get('n_events', '?')} events in all.",
    )


def xcorr_conclusion(ccf: pd.DataFrame, case_title: str) -> Conclusion:
    """The prewhitened cross-correlation of one pair: whether more lags cross the 95 %
    band than chance would put there (a binomial 95 % bound on 5 % of the lags), and
    which they are."""
    from scipy import stats

    out = ccf[ccf["outside_band"]]
    n = len(ccf)
    chance = int(stats.binom.ppf(0.95, n, 0.05))
    where = ", ".join(
        f"{abs(int(k))} day{'s' if abs(int(k)) != 1 else ''} "
        f"({'activity' if k < 0 else 'legal events'} first)"
        for k in out["lag"]
    )
    if len(out) <= chance:
        verdict = (
            f"For {case_title}, {len(out)} of {n} lags cross the band for no correlation — "
            f"no more than chance would produce (up to {chance} of {n} with 95% "
            "probability), so this pair shows no lead or lag"
            + (f"; the crossings, at {where}, are best read as noise." if len(out) else ".")
        )
    else:
        verdict = (
            f"For {case_title}, {len(out)} of {n} lags cross the band for no correlation, "
            f"more than chance would produce (up to {chance} of {n} with 95% probability): "
            f"at {where}."
        )
    return Conclusion(
        verdict,
        "One pair is an illustration, not the study's answer; the band is valid after "
        "prewhitening both series by the activity series' own autoregression.",
    )


# --------------------------------------------------------------------------- outcomes


def ratio_conclusion(
    row: pd.Series,
    ratio: str,
    what: str,
    *,
    per: str = "each unit of log pressure before an event",
    caveat: str = "",
) -> Conclusion:
    """An odds, hazard or rate ratio per unit of pressure: inconclusive when its interval
    includes 1."""
    r, lo, hi = row[ratio], row[f"{ratio}_low"], row[f"{ratio}_high"]
    text = f"{_cap(per)} goes with {what} {fold(r)} as high (95% interval {fold(lo)} to {fold(hi)})"
    text += ": inconclusive, the interval includes no effect." if lo <= 1 <= hi else "."
    return Conclusion(
        text,
        caveat or "An association across cases, not the effect of pressure on a court.",
    )


def time_to_charge_conclusion(panel: pd.DataFrame, cox_fit: ModelResult) -> Conclusion:
    """The Cox model's hazard ratio of a first arrest or charge per unit of pressure."""
    n_events = int(panel["event"].sum())
    return ratio_conclusion(
        cox_fit.tidy().iloc[0],
        "hazard_ratio",
        "a hazard of charge",
        per="each unit of log activity in the week before",
        caveat=f"{n_events} charges in {panel['case_id'].nunique()} cases: a description, "
        "not an estimate that would survive a new case; the activity series is shared by "
        "these cases, so it measures the movement's attention, not each case's.",
    )


def replication_conclusion(matched: dict[str, bool]) -> Conclusion:
    """Whether the published models were reproduced."""
    ok = [m for m, v in matched.items() if v]
    return Conclusion(
        f"{len(ok)} of {len(matched)} published Cox models reproduced to the printed "
        "precision (hazard ratios and robust standard errors).",
        "This checks the project's Cox machinery on published data; it says nothing about "
        "online pressure.",
    )


def overview_conclusion(study: Study, coverage: pd.DataFrame) -> Conclusion:
    """What the data can support: which kinds of series it holds, and its gaps."""
    platforms = sorted({str(p) for p in study.campaigns["platform"].dropna()})
    metrics = sorted({str(m) for m in study.campaigns["metric"].dropna()})
    gaps = int((coverage["n_gaps"] > 0).sum()) if "n_gaps" in coverage else 0
    day = int((study.legal_events["date_precision"] == "day").sum())
    return Conclusion(
        f"{len(study.cases)} cases with {len(study.legal_events)} legal events ({day} dated "
        f"to the day) and {len(study.campaigns)} activity series, all of them "
        f"{' and '.join(metrics)} on {' and '.join(platforms)}.",
        f"{gaps} series have unobserved stretches; "
        + (
            "one platform's posts are not the public's attention: page views, search "
            "interest and news coverage are not in this study."
            if len(platforms) == 1
            else "series of different platforms measure different kinds of attention."
        ),
    )
