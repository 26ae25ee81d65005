"""The benchmark scripts load and report; the benchmarks themselves are run by hand (see bench/)."""

from __future__ import annotations

import json
import sys

import pytest

from .conftest import REPO, run


def test_scale_report_prints_the_saved_results():
    """`bench/scale/run.py --report`, the command docs/spark.md shows, prints the saved table."""
    output = run([sys.executable, "bench/scale/run.py", "--report"], REPO).stdout
    saved = json.loads((REPO / "bench" / "scale" / "results.json").read_text())["results"]
    for engine, sizes in saved.items():
        for rows, result in sizes.items():
            label = (
                f"{int(rows) // 1_000_000}M"
                if int(rows) % 1_000_000 == 0
                else f"{int(rows) // 1000}k"
            )
            assert f"| {engine} | {label} | {result['data']['seconds']:.1f} |" in output
    assert "pandas 1M rows: whole pipeline" in output
    assert "time per row at 1M / at 100k" in output


def test_scale_report_without_results_says_what_to_run(tmp_path):
    result = run(
        [sys.executable, "bench/scale/run.py", "--report", "--out", str(tmp_path / "none.json")],
        REPO,
        check=False,
    )
    assert result.returncode == 1
    assert "run the benchmark first" in result.stderr


@pytest.mark.parametrize("bench", ["deep", "loop", "monitor", "scale", "serve", "tracking"])
def test_benchmark_scripts_explain_their_options(bench: str):
    output = run([sys.executable, f"bench/{bench}/run.py", "--help"], REPO).stdout
    assert "usage:" in output and "--" in output
