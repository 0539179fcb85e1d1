"""Pressure & Precedent: did online pressure come before a legal change, or after it?

The five things people do first, in JupyterLab::

    import analysis as pp

    study = pp.load()                                  # the bundled study, or pp.load("my_study")
    pp.cases(study)                                    # one row per case: events, series
    series, events = pp.case_series(study, "george_floyd")
    pp.plots.series_with_events(series, events[events["date_precision"] == "day"])
    pp.timing_table(study).table                       # preceded / followed / both / neither

Everything else lives in the modules (``analysis.event_study``, ``analysis.causality``,
``analysis.its``, ``analysis.outcomes``, …); the API reference (``make docs``) lists them.
Names are imported on first use, so ``import analysis`` stays fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Public name → (module, attribute); ``None`` as attribute means the module itself.
_EXPORTS: dict[str, tuple[str, str | None]] = {
    "load": ("narrative", "load"),
    "load_study": ("datasets", "load_study"),
    "save_study": ("datasets", "save_study"),
    "Study": ("study", "Study"),
    "cases": ("narrative", "cases_table"),
    "case_series": ("narrative", "case_series"),
    "timing_table": ("timing", "timing_table"),
    "TimingRule": ("rules", "TimingRule"),
    "onsets": ("timing", "onsets"),
    "leads_lags": ("event_study", "leads_lags"),
    "stacked_event_study": ("event_study", "stacked_event_study"),
    "granger_tests": ("causality", "granger_tests"),
    "segmented_regression": ("its", "segmented_regression"),
    "counterfactual": ("its", "counterfactual"),
    "etable": ("results", "etable"),
    "simulate_study": ("simulate", "simulate_study"),
    "DataError": ("errors", "DataError"),
    "InsufficientData": ("errors", "InsufficientData"),
    "plots": ("plots", None),
}

__all__ = sorted(_EXPORTS)

#: The modules a researcher reads about (the API reference documents these).
_EXPORTS_MODULES: tuple[str, ...] = (
    "study",
    "datasets",
    "narrative",
    "plots",
    "timing",
    "rules",
    "align",
    "event_study",
    "causality",
    "its",
    "outcomes",
    "results",
    "simulate",
    "ingest",
    "connectors",
    "errors",
    "schema",
)


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    loaded = importlib.import_module(f".{module}", __name__)
    return loaded if attribute is None else getattr(loaded, attribute)


def __dir__() -> list[str]:
    return [*__all__, "__version__"]
