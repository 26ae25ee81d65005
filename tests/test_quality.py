"""The generated project's quality gates: `make typecheck` catches a wrong annotation, and
`make coverage` meets the fail_under its pyproject.toml sets and redraws the README's badge.

Both run in a copy of the synced default project, with that project's environment (UV_NO_SYNC),
so nothing is installed again.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
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


@pytest.mark.slow
def test_make_coverage_meets_fail_under_and_draws_the_badge(
    default_project: Project, tmp_path: Path
):
    copy, env = _copy(default_project, tmp_path)
    placeholder = (copy / "docs" / "coverage.svg").read_text()
    assert "coverage: not measured" in placeholder
    assert "docs/coverage.svg" in (copy / "README.md").read_text()

    result = subprocess.run(
        ["make", "coverage"], cwd=copy, env=env, capture_output=True, text=True, timeout=900
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    total = re.search(r"^TOTAL\s.*\s(\d+)%$", output, flags=re.MULTILINE)
    assert total, output[-4000:]
    config = tomllib.loads((copy / "pyproject.toml").read_text())["tool"]["coverage"]
    assert config["run"]["branch"] is True
    assert int(total.group(1)) >= config["report"]["fail_under"] >= 80
    assert (copy / "coverage.xml").is_file()
    badge = (copy / "docs" / "coverage.svg").read_text()
    assert re.search(r'aria-label="coverage: \d+(\.\d+)?%"', badge), badge[:300]
    assert "http" not in badge.replace("http://www.w3.org", ""), "the badge links out"
