"""Data-generating processes with a planted lead or lag, in the data contract.

Every simulated case has one activity series (its own campaign), one or more
day-precision legal events, and a triggering incident (``start_date``, ``2 * lead`` days
before its first event). Activity is a count drawn around a log-mean that follows
an AR(1) noise process, plus the planted pattern around each event:

``preceded``
    the log-mean rises by ``effect`` from ``lead`` days before the event and stays up
    (pressure came first; the event adds nothing).
``followed``
    the log-mean rises by ``effect`` on the event day and stays up.
``both``
    a rise of ``effect`` from ``lead`` days before the event, and another of
    ``effect`` on the event day.
``neither``
    noise only.

Signal-to-noise is ``effect / noise`` on the log scale (``noise`` = standard deviation
of the stationary AR(1) component). The planted truth is returned beside the study, so
tests can check what the studies recover.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .study import Study, make_event_ids

__all__ = [
    "PATTERNS",
    "SHAPES",
    "Simulated",
    "ar1_noise",
    "shape_accuracy",
    "simulate_shapes",
    "simulate_study",
]

Pattern = Literal["preceded", "followed", "both", "neither"]
PATTERNS: tuple[str, ...] = ("preceded", "followed", "both", "neither")


@dataclass(frozen=True)
class Simulated:
    """A simulated study and its planted truth.

    Attributes
    ----------
    study : Study
        Cases, legal events, campaigns and daily activity in the data contract.
    truth : pandas.DataFrame
        One row per event: ``event_id``, ``case_id``, ``campaign_id``, ``date``,
        ``pattern``, ``lead`` (days), ``onset`` (first day of planted pressure, NaT for
        ``neither``), ``effect`` and ``noise`` (log scale).
    params : dict
        The arguments that made it, including the seed.
    """

    study: Study
    truth: pd.DataFrame
    params: dict[str, Any]


def ar1_noise(
    rng: np.random.Generator, shape: tuple[int, int], sd: float, phi: float
) -> np.ndarray:
    """Stationary AR(1) noise with standard deviation ``sd`` along the last axis."""
    innov_sd = sd * np.sqrt(1.0 - phi**2)
    eps = rng.normal(0.0, innov_sd, size=shape)
    out = np.empty(shape)
    out[:, 0] = rng.normal(0.0, sd, size=shape[0])
    for t in range(1, shape[1]):
        out[:, t] = phi * out[:, t - 1] + eps[:, t]
    return out


def _series_frames(
    ids: list[str], labels: list[str], days: pd.DatetimeIndex, values: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``campaigns`` and ``campaign_activity`` of simulated series (one per id, all days)."""
    campaigns = pd.DataFrame(
        {
            "campaign_id": ids,
            "label": labels,
            "platform": "simulated",
            "metric": "posts",
            "unit": "posts per day",
            "source": "analysis.simulate",
            "license": "CC0-1.0",
            "stance": "supporting",
        }
    )
    activity = pd.DataFrame(
        {
            "campaign_id": np.repeat(ids, len(days)),
            "date": np.tile(days.to_numpy(), len(ids)).astype("datetime64[ns]"),
            "value": values,
        }
    )
    return campaigns, activity


def simulate_study(
    n_cases: int = 20,
    *,
    patterns: Pattern | list[str] | None = None,
    n_days: int = 365,
    events_per_case: int = 1,
    lead: int = 21,
    effect: float = 1.0,
    noise: float = 0.25,
    phi: float = 0.5,
    base_level: float = 200.0,
    start: str = "2020-01-01",
    event_type: str = "charge",
    seed: int = 0,
) -> Simulated:
    """Simulate cases whose activity rises before, after, both or neither of each event.

    Parameters
    ----------
    n_cases : int
        Number of cases (each with its own series ``<case_id>``).
    patterns : str or list of str, optional
        The pattern of every case (a string), one per case (a list), or ``None`` to
        cycle through all four.
    n_days : int
        Length of each series in days.
    events_per_case : int
        Events per case, at least ``3 * lead + 60`` days apart, never within
        ``2 * lead + 30`` days of either end of the series.
    lead : int
        Days by which planted pressure precedes an event.
    effect : float
        Size of each planted rise on the log scale (``1.0`` ≈ 2.7× the level).
    noise : float
        Standard deviation of the AR(1) log-scale noise.
    phi : float
        AR(1) coefficient of the noise (day-to-day persistence).
    base_level : float
        Typical daily count before any pressure.
    start : str
        First day of every series.
    event_type : str
        Event type written for every event.
    seed : int
        Seed of the random generator (recorded in ``params``).

    Returns
    -------
    Simulated
    """
    rng = np.random.default_rng(seed)
    pats = _case_patterns(patterns, n_cases)
    margin = 2 * lead + 30
    spacing = 3 * lead + 60
    if n_days < 2 * margin + (events_per_case - 1) * spacing + 1:
        raise ValueError("n_days is too short for these events")
    days = pd.date_range(start, periods=n_days, freq="D")
    log_mean = np.log(base_level) + ar1_noise(rng, (n_cases, n_days), noise, phi)
    case_ids = [f"case_{i:05d}" for i in range(n_cases)]
    event_rows = []
    truth_rows = []
    slack = n_days - 2 * margin - (events_per_case - 1) * spacing
    for i, (case_id, pat) in enumerate(zip(case_ids, pats, strict=True)):
        first = margin + int(rng.integers(0, slack + 1))
        for j in range(events_per_case):
            pos = first + j * spacing
            onset = _plant(log_mean[i], pos, pat, lead, effect)
            event_rows.append((case_id, days[pos], pat))
            truth_rows.append(
                {
                    "case_id": case_id,
                    "campaign_id": case_id,
                    "date": days[pos],
                    "pattern": pat,
                    "lead": lead,
                    "onset": pd.NaT if onset is None else days[onset],
                    "effect": effect,
                    "noise": noise,
                }
            )
    counts = rng.poisson(np.exp(log_mean)).astype("float64")
    cases, events = _case_tables(case_ids, event_rows, lead, event_type)
    campaigns, activity = _series_frames(
        case_ids, [f"#Sim{i}" for i in range(n_cases)], days, counts.ravel()
    )
    truth = pd.DataFrame(truth_rows)
    truth.insert(0, "event_id", events["event_id"].to_numpy())
    _text_columns_as_str(cases, events, campaigns, activity)
    study = Study(
        cases=cases, legal_events=events, campaigns=campaigns, activity=activity, source="simulated"
    )
    params = {
        "n_cases": n_cases,
        "n_days": n_days,
        "events_per_case": events_per_case,
        "lead": lead,
        "effect": effect,
        "noise": noise,
        "phi": phi,
        "base_level": base_level,
        "seed": seed,
    }
    return Simulated(study=study, truth=truth, params=params)


def _case_patterns(patterns: Pattern | list[str] | None, n_cases: int) -> list[str]:
    """Each case's pattern: cycled through all four, one for all, or one per case."""
    if patterns is None:
        pats = [PATTERNS[i % 4] for i in range(n_cases)]
    elif isinstance(patterns, str):
        pats = [patterns] * n_cases
    else:
        pats = list(patterns)
        if len(pats) != n_cases:
            raise ValueError("one pattern per case is needed")
    unknown = set(pats) - set(PATTERNS)
    if unknown:
        raise ValueError(f"unknown patterns {sorted(unknown)}; expected {PATTERNS}")
    return pats


def _plant(log_mean: np.ndarray, pos: int, pattern: str, lead: int, effect: float) -> int | None:
    """Add the pattern's rise(s) to one series' log mean for an event at day ``pos``;
    return the day the planted pressure begins (``None`` for ``neither``)."""
    if pattern in ("preceded", "both"):
        log_mean[pos - lead :] += effect
    if pattern in ("followed", "both"):
        log_mean[pos:] += effect
    if pattern in ("preceded", "both"):
        return pos - lead
    return pos if pattern == "followed" else None


def _case_tables(
    case_ids: list[str], event_rows: list[tuple[str, pd.Timestamp, str]], lead: int, event_type: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The simulated ``cases`` (incident ``2 * lead`` days before the first event) and
    ``legal_events`` tables."""
    n_cases = len(case_ids)
    cases = pd.DataFrame(
        {
            "case_id": case_ids,
            "title": [f"Simulated case {i}" for i in range(n_cases)],
            "country": "USA",
            "category": "simulated",
            "campaign_ids": case_ids,
        }
    )
    first_event = pd.Series([r[1] for r in event_rows]).groupby([r[0] for r in event_rows]).min()
    incident = first_event.reindex(case_ids) - pd.Timedelta(days=2 * lead)
    cases["start_date"] = incident.dt.strftime("%Y-%m-%d").to_numpy()
    events = pd.DataFrame(
        {
            "case_id": [r[0] for r in event_rows],
            "date": pd.to_datetime([r[1] for r in event_rows]).astype("datetime64[ns]"),
            "date_precision": "day",
            "event_type": event_type,
            "direction": "favourable",
            "source_url": "https://example.org/simulated",
        }
    )
    events.insert(0, "event_id", make_event_ids(events))
    return cases, events


#: Shapes real reactions take, with the label a careful reader would give the event.
SHAPES: dict[str, str] = {
    "preceded": "preceded",  # a rise from 10 days before the event that stays
    "followed": "followed",  # a step up on the event day that stays
    "both": "both",  # a rise 10 days before, another on the event day
    "neither": "neither",  # noise only
    "spike": "followed",  # a one- to two-day spike on the event day, then back
    "incident_charge": "preceded",  # an incident 4 days before; the surge starts there
    "rise_in_runup": "preceded",  # a rise that starts 5 days before the event
    "weekly_neither": "neither",  # noise with a strong weekly cycle, no effect
    "shared_wave": "neither",  # another case's wave 3 days before, on a shared series
}


def simulate_shapes(
    n_per_shape: int = 50,
    *,
    shapes: list[str] | None = None,
    n_days: int = 300,
    effect: float = 1.0,
    noise: float = 0.25,
    phi: float = 0.5,
    weekly: float = 0.2,
    base_level: float = 200.0,
    seed: int = 0,
) -> Simulated:
    """Simulate the shapes real reactions take, each with the label it should get.

    (Some 65 lines: one loop draws every shape in a fixed order, so that a seed gives
    the same study; the planting and the tables are their own functions.)

    Every series has AR(1) log-scale noise (sd ``noise``, coefficient ``phi``) and a
    weekly cycle of amplitude ``weekly`` (``weekly_neither`` uses ``3 × weekly``); each
    case has one legal event (a ``charge``) on day 200 ± 20 and an incident
    (``start_date``) 60 days earlier unless the shape says otherwise. The shapes are
    listed in :data:`SHAPES`; ``shared_wave`` makes two cases share one series: the
    other case (``<case>_other``, pattern ``followed``) has its event 3 days before,
    with a lasting rise of ``effect``, and the case itself has no effect of its own.
    Its event's label should be ``neither`` or name the other case as confounding.

    Returns
    -------
    Simulated
        ``truth`` has ``event_id``, ``case_id``, ``campaign_id``, ``date``, ``shape``,
        ``expected`` (the label), ``effect`` and ``noise``; the other case of a shared
        wave is in ``truth`` too, with shape ``shared_wave_other``.
    """
    rng = np.random.default_rng(seed)
    shapes = list(shapes or SHAPES)
    unknown = set(shapes) - set(SHAPES)
    if unknown:
        raise ValueError(f"unknown shapes {sorted(unknown)}; expected {sorted(SHAPES)}")
    days = pd.date_range("2021-01-01", periods=n_days, freq="D")
    dow = np.sin(2 * np.pi * np.arange(n_days) / 7)
    cases, events, campaigns, series, truth = [], [], [], [], []
    for shape in shapes:
        for j in range(n_per_shape):
            cid = f"{shape}_{j:04d}"
            pos = 200 + int(rng.integers(-20, 21))
            amp = 3 * weekly if shape == "weekly_neither" else weekly
            log_mean = np.log(base_level) + amp * dow
            log_mean = log_mean + ar1_noise(rng, (1, n_days), noise, phi)[0]
            incident = _plant_shape(log_mean, shape, pos, effect)
            links = cid
            if shape == "shared_wave":
                other = f"{cid}_other"
                other_pos = pos - 3
                log_mean[other_pos:] += effect
                cases.append((other, other_pos - 60, cid))
                events.append((other, days[other_pos]))
                truth.append((other, cid, days[other_pos], "shared_wave_other", "followed"))
            cases.append((cid, incident, links))
            events.append((cid, days[pos]))
            truth.append((cid, cid, days[pos], shape, SHAPES[shape]))
            campaigns.append(cid)
            series.append(rng.poisson(np.exp(log_mean)).astype("float64"))
    case_frame, event_frame = _shape_tables(cases, events, days)
    camp_frame, activity = _series_frames(
        campaigns,
        [f"#{c}" for c in campaigns],
        days,
        np.concatenate(series) if series else np.array([], dtype="float64"),
    )
    truth_frame = pd.DataFrame(
        truth, columns=["case_id", "campaign_id", "date", "shape", "expected"]
    ).assign(effect=effect, noise=noise)
    truth_frame["date"] = pd.to_datetime(truth_frame["date"]).astype("datetime64[ns]")
    truth_frame.insert(
        0,
        "event_id",
        truth_frame["case_id"] + ":" + truth_frame["date"].dt.strftime("%Y-%m-%d") + ":charge",
    )
    _text_columns_as_str(case_frame, event_frame, camp_frame, activity)
    study = Study(
        cases=case_frame,
        legal_events=event_frame,
        campaigns=camp_frame,
        activity=activity,
        source="simulated shapes",
    )
    params = {
        "n_per_shape": n_per_shape,
        "shapes": shapes,
        "n_days": n_days,
        "effect": effect,
        "noise": noise,
        "phi": phi,
        "weekly": weekly,
        "seed": seed,
    }
    return Simulated(study=study, truth=truth_frame, params=params)


def _text_columns_as_str(*frames: pd.DataFrame) -> None:
    """Object columns as ``str`` dtype, as the data layer types them (in place)."""
    for frame in frames:
        for col in frame.columns:
            if frame[col].dtype == object:
                frame[col] = frame[col].astype("str")


def _plant_shape(log_mean: np.ndarray, shape: str, pos: int, effect: float) -> int:
    """Add a shape's reaction to an event at ``pos`` to the log mean (in place); return
    the day of the case's incident (60 days before, or 4 for ``incident_charge``)."""
    incident = pos - 60
    if shape in ("preceded", "both"):
        log_mean[pos - 10 :] += effect
    if shape in ("followed", "both"):
        log_mean[pos:] += effect
    if shape == "spike":
        log_mean[pos] += 2 * effect
        log_mean[pos + 1] += effect
    if shape == "incident_charge":
        incident = pos - 4
        log_mean[incident:] += effect
    if shape == "rise_in_runup":
        log_mean[pos - 5 :] += effect
    return incident


def _shape_tables(
    cases: list[tuple[str, int, str]],
    events: list[tuple[str, pd.Timestamp]],
    days: pd.DatetimeIndex,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``cases`` and ``legal_events`` tables of the simulated shapes."""
    case_frame = pd.DataFrame(
        {
            "case_id": [c[0] for c in cases],
            "title": [f"Simulated case {c[0]}" for c in cases],
            "country": "USA",
            "category": "simulated",
            "campaign_ids": [c[2] for c in cases],
            "start_date": [days[c[1]] for c in cases],
        }
    )
    case_frame["start_date"] = case_frame["start_date"].astype("datetime64[ns]")
    event_frame = pd.DataFrame(
        {
            "case_id": [e[0] for e in events],
            "date": pd.to_datetime([e[1] for e in events]).astype("datetime64[ns]"),
            "date_precision": "day",
            "event_type": "charge",
            "direction": "favourable",
            "source_url": "https://example.org/simulated",
        }
    )
    event_frame.insert(0, "event_id", make_event_ids(event_frame))
    return case_frame, event_frame


def shape_accuracy(truth: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Whether each simulated event got the label its shape should get.

    For ``shared_wave`` events a label of ``neither``, or any label whose
    ``confounded_by`` names the other case, is right (the rule cannot know whose wave
    it is; it must say so). Uses the preferred row of each event.

    Returns
    -------
    pandas.DataFrame
        ``truth`` with ``label``, ``confounded_by`` and ``correct``.
    """
    rows = table[table["preferred"]] if "preferred" in table else table
    out = truth.merge(rows[["event_id", "label", "confounded_by"]], on="event_id", how="left")
    right = out["label"] == out["expected"]
    shared = out["shape"] == "shared_wave"
    named = out["confounded_by"].fillna("").str.contains("_other", regex=False)
    return out.assign(correct=np.where(shared, right | named, right))
