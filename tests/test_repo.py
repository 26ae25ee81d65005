"""The template repository's own hygiene: local pre-commit hooks, and what they run passes."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from .conftest import REPO, run

BIN = Path(sys.executable).parent


def test_pre_commit_hooks_are_local_and_run_pinned_tools():
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert {repo["repo"] for repo in config["repos"]} == {"local"}
    ids = {hook["id"] for hook in hooks}
    assert {"ruff-check", "ruff-format", "shellcheck", "no-merge-leftovers"} <= ids
    for hook in hooks:
        if hook["language"] == "system":
            assert hook["entry"].startswith("uv run "), hook


def test_repository_python_passes_ruff():
    """What the ruff hooks check: everything but template/ (linted in each render instead)."""
    run([str(BIN / "ruff"), "check", "--no-cache", "."], REPO)
    run([str(BIN / "ruff"), "format", "--check", "--no-cache", "."], REPO)


def test_ci_script_passes_shellcheck():
    run([str(BIN / "shellcheck"), ".ci/run"], REPO)
