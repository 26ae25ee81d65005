"""The README stays true: exactly two set-up commands, each run by the suite."""

from __future__ import annotations

import json

import pytest

from .conftest import REPO, MainJob, readme_commands


def test_readme_has_exactly_two_commands():
    commands = readme_commands()
    assert len(commands) == 2, commands
    assert commands[0].startswith("uv run python scripts/lifecycle.py ")
    assert commands[1] == "uv run pytest"


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    assert f"\n{readme_commands()[1]}\n" in ci


@pytest.mark.slow
def test_main_job_prints_a_served_prediction(main_job: MainJob):
    lines = [line for line in main_job.output.splitlines() if "prediction: " in line]
    assert lines, main_job.output[-3000:]
    prediction = json.loads(lines[-1].split("prediction: ", 1)[1])
    assert prediction["predictions"][0] in {"Adelie", "Chinstrap", "Gentoo"}
    assert "server ready in" in main_job.output
    print(f"main job wall time: {main_job.seconds:.0f}s")


def test_lifecycle_refuses_a_non_empty_folder(tmp_path):
    from scripts.lifecycle import main

    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(SystemExit, match="not empty"):
        main([str(tmp_path)])
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_lifecycle_rejects_malformed_answers(tmp_path):
    from scripts.lifecycle import parse_answers

    with pytest.raises(SystemExit, match="key=value"):
        parse_answers(["dataset"])
    assert parse_answers(["dataset=wine", "include_docker=false"]) == {
        "dataset": "wine",
        "include_docker": False,
    }
