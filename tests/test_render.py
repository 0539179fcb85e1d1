"""The index opens in headless Chromium, offline, and renders its table (a screenshot is taken)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from analysis.report import Run, RunRecord, write_index

# notebook kernels, browsers, process pools and kills: `make test`, not `make test-fast`
pytestmark = pytest.mark.slow

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium)")
    return path


def test_index_renders_its_table_in_headless_chromium(tmp_path):
    chromium = _chromium()
    records = [
        RunRecord(
            run=Run(
                run_id=f"r{i}",
                notebook="10_case_study",
                title=f"Case <b>{i}</b>",
                parameters={"case_id": f"c{i}"},
            ),
            status="ok" if i else "failed",
            error="ValueError: boom",
            duration_s=1.0 + i,
            headlines={"labels": {"followed": i}},
            provenance={"git_commit": "abc"},
            finished="2026-01-01T00:00:00Z",
        )
        for i in range(3)
    ]
    index = write_index(records, tmp_path, {"git_commit": "abc", "package_version": "0.1.0"})
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", index.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert dom.count("<tr data-kind") == 3  # three runs
    assert dom.count('<tr class="empty" hidden') == 1  # and the hidden "no match" row
    assert "Case &lt;b&gt;1&lt;/b&gt;" in dom  # escaped, not bold
    shot = tmp_path / "index.png"
    subprocess.run(
        [
            chromium,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=1200,800",
            f"--screenshot={shot}",
            index.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    import matplotlib.image as mpimg
    import numpy as np

    pixels = mpimg.imread(shot)
    assert (
        pixels.shape[0] == 800 and len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 20
    )
