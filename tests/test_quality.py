"""The generated project's quality gates: `make typecheck` catches a wrong annotation.

It runs in a copy of the synced default project, with that project's environment (UV_NO_SYNC),
so nothing is installed again. `make coverage` is tested in test_ci_files.py, where the test run
it starts is the GitHub workflow's test step, run once for both.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import Project, clean_env


def _copy(project: Project, to: Path) -> tuple[Path, dict[str, str]]:
    """A copy of `project` without its venv, and the environment that runs `make` with that venv."""
    copy = to / "project"
    shutil.copytree(project.path, copy, ignore=shutil.ignore_patterns(".venv", ".mypy_cache"))
    env = clean_env(UV_PROJECT_ENVIRONMENT=str(project.path / ".venv"), UV_NO_SYNC="1")
    return copy, env


@pytest.mark.slow
def test_typecheck_fails_on_a_wrong_annotation(default_project: Project, tmp_path: Path):
    copy, env = _copy(default_project, tmp_path)
    features = copy / "src" / default_project.package / "features.py"
    text = features.read_text()
    wrong = "def model_frame(frame: pd.DataFrame, schema: DatasetSchema) -> pd.Series:"
    features.write_text(text.replace(wrong.replace("pd.Series:", "pd.DataFrame:"), wrong, 1))
    assert wrong in features.read_text()

    result = subprocess.run(
        ["make", "typecheck"], cwd=copy, env=env, capture_output=True, text=True, timeout=600
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert re.search(r"features\.py:\d+: error: Incompatible return value type", output), output
