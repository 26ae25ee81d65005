"""The README stays true: exactly two set-up commands, each run by the suite."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import REPO, MainJob, readme_commands


def test_readme_has_exactly_two_commands():
    commands = readme_commands()
    assert len(commands) == 2, commands
    assert commands[0].startswith("uv run python scripts/lifecycle.py ")
    assert commands[1] == "uv run pytest"


def test_readme_names_only_files_of_this_repository_that_exist():
    """Its links, the files its commands run and its repository layout (the generated project's
    files, named in the other sections, are checked on renders)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    layout = text.split("## Repository layout\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"\]\(([^):#]+)\)", text))  # relative links
    named |= {word for command in readme_commands() for word in command.split() if "/" in word}
    named |= set(re.findall(r"`([^`\s]+)`", layout))
    named -= {word for word in named if "://" in word or word.startswith("path/")}
    assert {"copier.yml", "template/", "docs/questions.md", "scripts/lifecycle.py"} <= named
    missing = sorted(name for name in named if not (REPO / name).exists())
    assert not missing, f"README.md names files that do not exist: {missing}"


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
    # A first run prints no warning (MLflow's about pip, absent from uv's virtualenvs, is filtered).
    warnings = [line for line in main_job.output.splitlines() if re.search(r"\bWARNING\b", line)]
    assert not warnings, warnings
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
