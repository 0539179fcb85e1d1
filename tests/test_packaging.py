"""The project's own files agree with each other (pyproject, environment.yml, Makefile, CI)."""

from __future__ import annotations

import re
import tomllib

import yaml

from analysis import config

ROOT = config.PROJ_ROOT


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_installs_this_project_with_the_same_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    deps = env["dependencies"]
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python"))
    assert python.removeprefix("python") == _pyproject()["project"]["requires-python"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert pip == ["-e .[dev]"]
    # pyproject is the single source of dependencies: conda lists nothing else
    assert sorted(d for d in deps if isinstance(d, str)) == sorted([python, "pip"])


def test_pyproject_declares_the_stack_with_lower_bounds():
    project = _pyproject()["project"]
    names = {re.split(r"[<>=!~\[ ]", d)[0].lower(): d for d in project["dependencies"]}
    for needed in (
        "pandas",
        "numpy",
        "statsmodels",
        "matplotlib",
        "seaborn",
        "papermill",
        "nbconvert",
        "ipykernel",
        "jupyterlab",
        "pandera",
        "duckdb",
        "pyarrow",
        "pooch",
        "tqdm",
    ):
        assert needed in names, needed
        assert ">=" in names[needed], f"{needed} has no lower bound"
    dev = {re.split(r"[<>=]", d)[0] for d in project["optional-dependencies"]["dev"]}
    assert {"pytest", "hypothesis", "ruff", "nbstripout"} <= dev


def test_every_make_target_is_documented_for_make_help():
    makefile = (ROOT / "Makefile").read_text()
    targets = re.findall(r"^([a-z][a-z_-]*):", makefile, flags=re.M)
    for target in targets:
        assert re.search(rf"^{target}:.*## \S", makefile, flags=re.M), (
            f"make {target} has no ## help"
        )
    assert {"setup", "data", "prepare", "reports", "test"} <= set(targets)


def test_ci_runs_make_test_and_readme_shows_the_two_commands():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make reports" in readme and "make test" in readme


def test_generated_and_third_party_data_are_ignored():
    ignore = (ROOT / ".gitignore").read_text().splitlines()
    assert "data/raw/*" in ignore and "!data/raw/curated/" in ignore
    assert "data/processed/*" in ignore and "reports/" in ignore


def test_every_third_party_import_of_the_package_is_declared():
    import ast
    import sys

    declared = {
        re.split(r"[<>=!~\[ ]", d)[0].lower() for d in _pyproject()["project"]["dependencies"]
    }
    distribution = {
        "yaml": "pyyaml",
        "nbformat": "nbformat",
        "IPython": "ipykernel",
        "matplotlib_inline": "matplotlib-inline",
    }
    imported = set()
    for path in (ROOT / "src" / "analysis").rglob("*.py"):  # subpackages too
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m != "analysis"}
    missing = {m for m in third_party if distribution.get(m, m).lower() not in declared}
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"
