"""Every project notebook runs with papermill on small data and records its headline numbers."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import nbformat
import pytest

from analysis import config
from analysis.datasets import save_study
from analysis.simulate import simulate_study

# notebook kernels, browsers, process pools and kills: `make test`, not `make test-fast`
pytestmark = pytest.mark.slow

NOTEBOOKS = config.NOTEBOOKS_DIR


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sim_study")
    sim = simulate_study(12, events_per_case=2, n_days=500, lead=14, seed=7)
    save_study(sim.study, folder, fmt="parquet")
    return folder


def _execute(name: str, tmp_path: Path, **parameters) -> dict:
    import papermill as pm

    results = tmp_path / f"{name}.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm.execute_notebook(
            str(NOTEBOOKS / f"{name}.ipynb"),
            str(tmp_path / f"{name}.out.ipynb"),
            parameters={**parameters, "results_path": str(results)},
            cwd=str(tmp_path),
            kernel_name="python3",
            progress_bar=False,
        )
    return json.loads(results.read_text())


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_are_committed_clean_with_one_parameters_cell(path):
    book = nbformat.read(path, as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert sum("parameters" in c.metadata.get("tags", []) for c in book.cells) == 1
    assert book.cells[0].cell_type == "markdown" and book.cells[0].source.startswith("# ")


def test_00_data_overview(sim_dir, tmp_path):
    out = _execute("00_data_overview", tmp_path, data_dir=str(sim_dir))
    assert [s["campaign_id"] for s in out.pop("sources")] == [f"case_{i:05d}" for i in range(12)]
    assert out.pop("case_titles") == {f"case_{i:05d}": f"Simulated case {i}" for i in range(12)}
    assert out == {
        "cases": 12,
        "legal_events": 24,
        "day_precision_events": 24,
        "series": 12,
        "series_with_gaps": 0,
        "platforms": {"simulated": 12},
    }


def test_10_case_study(sim_dir, tmp_path):
    out = _execute(
        "10_case_study",
        tmp_path,
        data_dir=str(sim_dir),
        case_id="case_00001",
        n_boot=199,
        onset_boot=19,
    )
    assert out["case_id"] == "case_00001" and out["series"] == "case_00001"
    assert out["events_labelled"] == 3  # the incident and two legal events
    assert out["labels"].get("followed", 0) >= 2  # planted: a rise on each event day
    assert out["key_event"].startswith("case_00001:") and out["level_change_pct"] > 50
    assert 0 <= out["placebo_alarms"] <= out["placebo_dates"] <= 3


def test_10_case_study_of_a_case_without_series(tmp_path):
    """The README's own example: a case with legal events and no activity series yet
    gets a page that says so (and lists its events), not a traceback. Its title holds
    mathtext-like dollars, drawn as they are."""
    import shutil

    study = tmp_path / "study"
    shutil.copytree(Path(__file__).parent / "data" / "minimal_study", study)
    cases = study / "cases.csv"
    cases.write_text(cases.read_text().replace("Detention of Ana", "Bail of $5 and $\\frac{x}"))
    out = _execute("10_case_study", tmp_path, data_dir=str(study), case_id="new_law", n_boot=99)
    assert out["series"] is None and out["events_labelled"] == 0 and out["labels"] == {}
    page = (tmp_path / "10_case_study.out.ipynb").read_text()
    assert "This case has no activity series" in page
    out = _execute("10_case_study", tmp_path, data_dir=str(study), case_id="free_ana", n_boot=99)
    assert out["title"].startswith("Bail of $5") and out["events_labelled"] >= 3


def test_10_case_study_with_flat_activity_says_why_there_is_no_counterfactual(tmp_path):
    """A series with the same value every day (here 1000, which made the sampler's
    Cholesky factor fail and the whole page with it) gets its page, with the
    interrupted time series replaced by the reason."""
    import shutil

    import pandas as pd

    study = tmp_path / "study"
    shutil.copytree(Path(__file__).parent / "data" / "minimal_study", study)
    activity = pd.read_csv(study / "campaign_activity.csv")
    activity.assign(value=1000).to_csv(study / "campaign_activity.csv", index=False)
    out = _execute("10_case_study", tmp_path, data_dir=str(study), case_id="free_ana", n_boot=99)
    page = (tmp_path / "10_case_study.out.ipynb").read_text()
    assert "Not enough data for an interrupted time series: activity was 1000 on every" in page
    assert "ratio_to_forecast" not in out and out["events_labelled"] >= 3


def test_10_case_study_of_a_case_linked_only_by_its_series(tmp_path):
    """A series that names its case in campaigns.case_ids (what `fetch wikipedia --cases`
    writes) is the case's series on its page: the header lists it and the page runs,
    whether or not the case also lists a series itself (both crashed before)."""
    import shutil

    import pandas as pd

    study = tmp_path / "study"
    shutil.copytree(Path(__file__).parent / "data" / "minimal_study", study)
    campaigns = pd.read_csv(study / "campaigns.csv")
    own = campaigns.assign(campaign_id="free_ana_wikipedia", label="Wikipedia: Ana")
    pd.concat([campaigns, own.assign(case_ids="free_ana")]).to_csv(
        study / "campaigns.csv", index=False
    )
    activity = pd.read_csv(study / "campaign_activity.csv")
    pd.concat([activity, activity.assign(campaign_id="free_ana_wikipedia")]).to_csv(
        study / "campaign_activity.csv", index=False
    )
    out = _execute("10_case_study", tmp_path, data_dir=str(study), case_id="free_ana", n_boot=99)
    page = (tmp_path / "10_case_study.out.ipynb").read_text()
    assert "Wikipedia: Ana" in page and out["events_labelled"] >= 3
    cases = pd.read_csv(study / "cases.csv")
    cases.loc[cases["case_id"] == "free_ana", "campaign_ids"] = None  # linked by the series only
    cases.to_csv(study / "cases.csv", index=False)
    out = _execute("10_case_study", tmp_path, data_dir=str(study), case_id="free_ana", n_boot=99)
    assert out["series"] == "free_ana_wikipedia" and out["events_labelled"] >= 3


def test_20_event_study(sim_dir, tmp_path):
    out = _execute(
        "20_event_study",
        tmp_path,
        data_dir=str(sim_dir),
        event_type="charge",
        window=14,
        n_boot=199,
        n_draws=199,
    )
    assert out["n_cases"] == 12 and out["n_draws"] == 199
    assert 0 < out["placebo_p_post"] <= 1 and 0 <= out["pre_test_p"] <= 1


def test_30_lead_lag(sim_dir, tmp_path):
    out = _execute("30_lead_lag", tmp_path, data_dir=str(sim_dir), lags=[1], ic="", n_shifts=99)
    assert out["pairs"] == 12 and out["lags"] == [1] and out["n_shifts"] == 99
    assert 0 <= out["discoveries_activity_to_events"] <= 12 and out["ic"] == ""
    assert out["event_rate_ratio"] > 0


def test_40_outcomes_on_the_bundled_data(processed_dir, tmp_path):
    out = _execute("40_outcomes", tmp_path, data_dir=str(processed_dir))
    assert out["cox_events"] >= 5 and out["cox_hr_low"] < out["cox_hr"] < out["cox_hr_high"]
    assert out["logit_n"] > 30


def test_41_kelley_simmons_replication(raw_dir, tmp_path):
    out = _execute(
        "41_kelley_simmons_replication",
        tmp_path,
        reference_dir=str(raw_dir / "reference" / "kelley_simmons_2015"),
    )
    (source,) = out.pop("sources")  # the page names the published data and its licence
    assert source["license"] == "MIT" and "Kelley" in source["source"]
    assert out == {
        "models_matched": 8,
        "models": 8,
        "hr_inreport_model_3_1": 5.7056,
        "robust_se_model_3_1": 0.5915,
    }


def test_the_whole_batch_runs_on_a_users_small_study(minimal_dir, tmp_path, capsys):
    """`report --data my_study` with no runs file: the bundled runs expand over the
    user's study and every page is made; estimates the study cannot support say so."""
    from analysis.cli import main

    out = tmp_path / "reports"
    assert main(["report", "--data", str(minimal_dir), "--out", str(out), "--quiet"]) == 0
    assert "4 runs: 4 ran" in capsys.readouterr().out  # not the K&S replication
    assert sorted(p.name for p in (out / "runs").iterdir()) == [
        "00_data_overview",
        "10_case_study--free_ana",
        "30_lead_lag",
        "40_outcomes",
    ]
    outcomes = (out / "runs" / "40_outcomes" / "report.html").read_text()
    assert "Not enough data for the time-to-charge models" in outcomes
    assert "Not enough data for" in (out / "runs" / "30_lead_lag" / "report.html").read_text()


def test_01_explore_runs_on_a_users_study(minimal_dir, tmp_path):
    out = _execute("01_explore", tmp_path, data_dir=str(minimal_dir))
    assert out == {"case_id": "free_ana", "pairs": 3}


def test_notebooks_opened_by_hand_write_no_results_file():
    """results_path defaults to "" in every notebook: nothing lands in notebooks/."""
    from analysis import narrative

    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        book = nbformat.read(path, as_version=4)
        cell = next(c for c in book.cells if "parameters" in c.metadata.get("tags", []))
        assert 'results_path = ""' in cell.source, path.name
        assert book.metadata["kernelspec"]["name"] == "pressure-precedent"
    narrative.save_headlines("", anything=1)  # a no-op, no file named ''


def test_papermill_reads_every_parameters_cell_without_a_warning(caplog):
    """A '=' inside a comment made papermill log "Unable to parse line" and then call
    every parameter unknown, for every run of the batch."""
    import logging

    from papermill.translators import PythonTranslator

    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        book = nbformat.read(path, as_version=4)
        cell = next(c for c in book.cells if "parameters" in c.metadata.get("tags", []))
        with caplog.at_level(logging.WARNING, logger="papermill"):
            found = {p.name for p in PythonTranslator.inspect(cell)}
        assert "results_path" in found, path.name
    assert not [r for r in caplog.records if "Unable to parse" in r.getMessage()]


def test_a_simulated_study_outside_the_project_gets_the_whole_batch(tmp_path, capsys):
    """issue 16: `report --data STUDY --out DIR` with no runs file finds the overview, a
    case study per case with an observed event and the event studies; a runs file in a
    temporary folder works too."""
    import yaml

    from analysis import narrative
    from analysis.cli import main
    from analysis.datasets import load_study

    study_dir = tmp_path / "elsewhere" / "study"
    sim = simulate_study(6, events_per_case=2, n_days=400, lead=14, seed=11)
    save_study(sim.study, study_dir, fmt="csv")
    study = load_study(study_dir, warn=False)
    cases = narrative.cases_with_observed_events(study)
    types = narrative.major_event_types(study)
    assert len(cases) == 6 and types  # the simulated events share types across cases
    out = tmp_path / "reports"
    assert main(["report", "--data", str(study_dir), "--out", str(out), "--quiet"]) == 0
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert "00_data_overview" in runs
    assert [r for r in runs if r.startswith("10_case_study--")] == [
        f"10_case_study--{c}" for c in cases
    ]
    assert [r for r in runs if r.startswith("20_event_study--")] == [
        f"20_event_study--{t}" for t in types
    ]
    runs_file = tmp_path / "mine" / "runs.yaml"
    runs_file.parent.mkdir()
    runs_file.write_text(yaml.safe_dump({"runs": [{"notebook": "00_data_overview"}]}))
    mine = tmp_path / "mine_reports"
    assert main(["report", "--data", str(study_dir), "--runs", str(runs_file), "--out",
                 str(mine), "--quiet"]) == 0  # fmt: skip
    assert (mine / "runs" / "00_data_overview" / "report.html").is_file()
