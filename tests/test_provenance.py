"""`make provenance`: which files the template wrote and which the author wrote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import DEFAULT_PACKAGE, Project, clean_env, render


def _provenance(project: Path) -> str:
    """Run the generated module with this repository's Python (it has copier and PyYAML)."""
    code = (
        "from pathlib import Path; "
        "from penguin_species_classifier.provenance import run_provenance; "
    )
    code += "print(run_provenance(Path('.')).summary())"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        env=clean_env(PYTHONPATH=str(project / "src")),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _rows(project: Path) -> dict[str, list[str]]:
    rows = {}
    for line in (project / "PROVENANCE.md").read_text().splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_classifies_each_kind_of_edit(template_copy: Path, tmp_path: Path):
    project = render(tmp_path / "p", template_copy, vcs_ref="v1.0.0")
    summary = _provenance(project)
    assert "0 modified" in summary and "0 files written by the author" in summary

    features = project / "src" / DEFAULT_PACKAGE / "features.py"
    features.write_text(features.read_text() + "\n\ndef my_feature() -> int:\n    return 42\n")
    (project / "src" / DEFAULT_PACKAGE / "my_model.py").write_text('"""Mine."""\n\nVALUE = 1\n')
    (project / ".env.example").unlink()
    readme = project / "README.md"  # the pipeline's results block must not count as an edit
    readme.write_text(
        readme.read_text().replace(
            "Run `make pipeline` to fill", "| metric | 0.99 |\n\nRun to fill"
        )
    )

    summary = _provenance(project)
    rows = _rows(project)
    assert rows[f"src/{DEFAULT_PACKAGE}/features.py"][:2] == ["template, modified", "4"]
    assert rows[f"src/{DEFAULT_PACKAGE}/my_model.py"][:2] == ["written by the author", "3"]
    assert rows[".env.example"][0] == "template, removed by the author"
    assert rows["README.md"][0] == "template, untouched"
    assert rows["params.yaml"][0] == "template, untouched"
    assert "1 modified: +4/-0 lines" in summary
    assert "1 files written by the author (+3 lines)" in summary
    assert (
        "img.shields.io/badge/written%20by%20the%20author-"
        in (project / "PROVENANCE.md").read_text()
    )


def test_moved_template_gives_a_clear_error(tmp_path: Path, template_copy: Path):
    project = render(tmp_path / "p", template_copy, vcs_ref="v1.0.0")
    answers = project / ".copier-answers.yml"
    answers.write_text(answers.read_text().replace(str(template_copy), str(tmp_path / "gone")))
    code = (
        "from pathlib import Path; "
        "from penguin_species_classifier.provenance import run_provenance; "
        "run_provenance(Path('.'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        env=clean_env(PYTHONPATH=str(project / "src")),
        capture_output=True,
        text=True,
        check=False,
    )
    assert "could not re-render the template" in result.stderr
    assert "--template" in result.stderr
    assert not (project / "PROVENANCE.md").exists()


@pytest.mark.slow
def test_make_provenance_in_the_piped_project(piped_project: Project):
    result = piped_project.run(["make", "provenance"], timeout=300)
    assert "wrote PROVENANCE.md" in result.stdout
    text = (piped_project.path / "PROVENANCE.md").read_text()
    assert "files from the mlfolio template" in text
    (piped_project.path / "PROVENANCE.md").unlink()  # leave the shared project as it was
