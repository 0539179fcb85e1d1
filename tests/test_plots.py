"""Figures: titles, labelled axes with units, events marked, uncertainty drawn."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import plots
from analysis.event_study import event_time_curves, leads_lags
from analysis.figure_axes import plain_number
from analysis.simulate import simulate_study


def _labelled(ax) -> None:
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_series_with_events_marks_every_event_and_keeps_gaps():
    days = pd.date_range("2024-01-01", periods=60)
    values = np.arange(60, dtype=float)
    values[20:25] = np.nan
    series = pd.Series(values, index=days, name="free_ana")
    events = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-10", "2024-02-01"]),
            "event_type": ["arrest", "release"],
            "direction": ["unfavourable", "favourable"],
        }
    )
    onset = (pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-04"), pd.Timestamp("2024-01-07"))
    ax = plots.series_with_events(series, events, unit="views per day", onset=onset)
    _labelled(ax)
    assert "views per day" in ax.get_ylabel()
    ydata = ax.get_lines()[0].get_ydata()
    assert np.isnan(ydata[20:25]).all()  # a gap is drawn as a break, not as zero
    vlines = {pd.Timestamp(line.get_xdata()[0]).date() for line in ax.get_lines()[1:]}
    assert {pd.Timestamp("2024-01-10").date(), pd.Timestamp("2024-02-01").date()} <= vlines
    assert [t.get_text() for t in ax.texts] == ["1", "2"]  # numbered tags ...
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "1  10 Jan 2024  arrest" in legend and "2  1 Feb 2024  release" in legend  # ... a key
    assert ax.patches  # the onset band


def test_event_tags_never_overlap_however_close_the_events():
    """Floyd's five events in ten days piled into one unreadable stack before: each tag now
    has its own place, and the legend stays outside the data."""
    import matplotlib.pyplot as plt

    days = pd.date_range("2020-01-01", periods=400)
    series = pd.Series(np.exp(np.linspace(3, 9, 400)), index=days, name="x")
    dates = pd.to_datetime(["2020-05-25", "2020-05-26", "2020-05-26", "2020-05-29", "2020-06-03"])
    events = pd.DataFrame(
        {
            "date": dates,
            "event_type": ["incident", "a", "b", "charge", "charge"],
            "direction": "neutral",
        }
    )
    ax = plots.series_with_events(series, events)
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    assert len(boxes) == 5
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.x0 >= ax.get_window_extent(renderer).x1  # beside the plot, not on it
    assert ax.get_yscale() == "log" and ax.get_ylim()[0] > 10  # fitted: no empty decades
    plt.close(fig)


def test_relative_days_read_like_prose():
    from analysis.narrative import relative_days

    assert relative_days(-28, "the first legal event") == "28 days before the first legal event"
    assert relative_days(1, "the verdict") == "1 day after the verdict"
    assert relative_days(0, "the arrest") == "on the day of the arrest"


def test_the_site_colours_labels_as_the_figures_do():
    import re
    from pathlib import Path

    import analysis.report

    css = (Path(analysis.report.__file__).parent / "templates" / "site.css").read_text()
    for label, colour in plots.LABEL_COLOURS.items():
        key = "insufficient" if label == "insufficient data" else label
        assert re.search(rf"\.seg\.{key} {{ background: {colour}; }}", css), label


def test_event_time_curves_draw_a_band_per_group():
    sim = simulate_study(12, seed=1)
    curves = event_time_curves(sim.study, window=10, by=None, n_boot=99)
    ax = plots.event_time_curves(curves)
    _labelled(ax)
    assert len(ax.collections) == 1  # the bootstrap band
    assert "baseline standard deviations" in ax.get_ylabel()


def test_coefficients_and_ratios_show_intervals():
    res = leads_lags(simulate_study(12, seed=2).study, window=5, baseline_days=10)
    ax = plots.coefficients(res.tidy())
    _labelled(ax)
    assert len(ax.containers) == 11  # one error bar per τ
    tidy = pd.DataFrame(
        {
            "term": ["x"],
            "hazard_ratio": [2.0],
            "hazard_ratio_low": [1.5],
            "hazard_ratio_high": [3.0],
        }
    )
    ax2 = plots.ratios(tidy, "hazard_ratio")
    assert ax2.get_title() and "hazard ratio" in ax2.get_xlabel() and ax2.get_xscale() == "log"


def test_timeline_and_labels():
    sim = simulate_study(4, seed=3)
    study = sim.study
    ax = plots.timeline(study.cases, study.legal_events, study.coverage(), study.case_campaigns())
    _labelled(ax)
    counts = pd.DataFrame({"label": ["preceded", "followed"], "n": [3, 5]})
    ax2 = plots.label_counts(counts)
    _labelled(ax2)
    assert [p.get_height() for p in ax2.patches] == [3, 5]


def test_every_series_of_a_case_gets_its_panel_with_the_events():
    from analysis import narrative

    sim = simulate_study(3, events_per_case=2, n_days=300, seed=5).study
    case_id = sim.cases["case_id"][0]
    other = sim.cases["campaign_ids"][1]
    cases = sim.cases.copy()
    cases.loc[0, "campaign_ids"] = f"{cases.loc[0, 'campaign_ids']};{other}"
    study = type(sim)(cases, sim.legal_events, sim.campaigns, sim.activity)
    panels = narrative.case_panels(study, case_id)
    assert len(panels) == 2 and next(iter(panels)).endswith(f"({case_id})")  # primary first
    events = study.legal_events[study.legal_events["case_id"] == case_id]
    axes = plots.series_panels(panels, events, title="Cost $5 $\\frac")
    assert len(axes) == 2 and axes[-1].get_xlabel() == "date (UTC day)"
    assert all(ax.get_ylabel() and ax.get_title(loc="left") for ax in axes)
    assert all(len(ax.get_lines()) == 1 + len(events) for ax in axes)  # series + events
    axes[0].figure.canvas.draw()  # the $ in the title is drawn as text, not mathtext


def test_the_counterfactual_has_causalimpacts_three_panels_and_one_interval():
    """The running total's last band is the cumulative interval the report quotes: both
    come from the same simulated paths (the interval of a sum is not a sum of intervals)."""
    import matplotlib.pyplot as plt

    from analysis.its import counterfactual

    rng = np.random.default_rng(1)
    days = pd.date_range("2020-01-01", periods=200)
    series = pd.Series(rng.poisson(100, 200).astype(float), index=days)
    series.iloc[160] = np.nan  # an unobserved day after the event adds nothing
    res = counterfactual(series, "2020-06-01", n_sims=200, seed=3)
    last = res.pointwise.iloc[-1]
    c = res.cumulative
    assert np.isclose(last["cum_low"], c["conf_low"]) and np.isclose(
        last["cum_high"], c["conf_high"]
    )
    assert np.isclose(last["cum_effect"], c["effect"])
    # on the ratio scale, the last day of the running ratio is the cumulative ratio quoted
    assert np.isclose(last["cum_ratio"], c["ratio"])
    assert np.isclose(last["cum_ratio_low"], c["ratio_low"])
    assert np.isclose(last["cum_ratio_high"], c["ratio_high"])
    axes = plots.counterfactual(series, res.pointwise, pd.Timestamp("2020-06-01"))
    assert [a.get_title(loc="left") for a in axes] == [
        "observed and forecast",
        "observed ÷ forecast on each day",
        "observed ÷ forecast, summed from the event day",
    ]
    assert all(a.get_yscale() == "log" for a in axes)  # a wide band never squeezes the data
    low, high = axes[0].get_ylim()
    assert low <= np.nanmin(series) and high >= res.pointwise["pred_high"].max()
    assert plots.describe(axes[0].figure).startswith("Figure: ")
    assert axes[0].figure._suptitle.get_text()
    plt.close(axes[0].figure)


def test_log_axes_read_as_plain_numbers_with_minor_labels_only_when_decades_are_few():
    """Tick labels are '1,000', never mathtext (10³); minor ticks sit at 2 and 5 of each
    decade and are labelled when the axis spans under two decades."""
    import matplotlib.pyplot as plt

    days = pd.date_range("2024-01-01", periods=40)
    events = pd.DataFrame(
        {"date": [days[20]], "event_type": ["arrest"], "direction": ["unfavourable"]}
    )
    for values, minor_labelled in [
        (np.geomspace(5, 100_000, 40), False),
        (np.linspace(120, 900, 40), True),
    ]:
        ax = plots.series_with_events(pd.Series(values, index=days), events)
        ax.figure.canvas.draw()
        assert ax.get_yscale() == "log"
        major = [t.get_text() for t in ax.yaxis.get_ticklabels() if t.get_text()]
        minor = [t.get_text() for t in ax.yaxis.get_ticklabels(minor=True) if t.get_text()]
        assert major and not any("$" in t for t in major + minor)
        assert all(t.replace(",", "").replace(".", "").isdigit() for t in major + minor)
        assert bool(minor) == minor_labelled
        assert {float(v) / 10 ** np.floor(np.log10(v)) for v in ax.yaxis.get_minorticklocs()} <= {
            2.0,
            5.0,
        }
        plt.close("all")
    assert plain_number(250_000) == "250,000"
    assert plain_number(0.5) == "0.5" and plain_number(0) == "0"
