"""The exploration notebook and the answers that switch the notebook and docs tooling.

The notebook runs top to bottom with nbclient and draws its figures, on the project's data and
on the same data with rows the clean stage rejects. It runs in the `polished` project (conftest),
which holds the piped default project's outputs.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest
import yaml

from .conftest import DEFAULT_PACKAGE, Project, render, run


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=\[ ]", requirement)[0] for requirement in requirements}


def test_notebook_and_docs_answers_switch_their_tooling(tmp_path: Path, default_render: Path):
    """Hooks, dependency groups and the docs target exist exactly when their answer is on."""
    on = render(tmp_path / "on", tasks=False, include_notebooks=True, include_docs=True)
    for project, enabled in ((on, True), (default_render, False)):
        config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
        hooks = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
        assert ({"nbstripout", "jupytext-sync"} <= hooks) == enabled, hooks
        pyproject = tomllib.loads((project / "pyproject.toml").read_text())
        groups = pyproject["dependency-groups"]
        defaults = pyproject["tool"]["uv"]["default-groups"]
        for group in ("notebooks", "docs"):
            assert (group in groups) == enabled and (group in defaults) == enabled, group
        assert ("\ndocs:" in (project / "Makefile").read_text()) == enabled
        for name in ("mkdocs.yml", "docs/index.md", "docs/gen_pages.py", "notebooks/jupytext.toml"):
            assert (project / name).is_file() == enabled, name
        for name in ("notebooks/01-exploration.ipynb", "notebooks/01-exploration.py"):
            assert (project / name).is_file() == enabled, name
    groups = tomllib.loads((on / "pyproject.toml").read_text())["dependency-groups"]
    assert {"ipykernel", "nbclient", "jupytext", "nbstripout"} <= _names(groups["notebooks"])
    assert {"mkdocs-material", "mkdocstrings"} <= _names(groups["docs"])


# ------------------------------------------------------------------------------------------------
# The exploration notebook, executed
# ------------------------------------------------------------------------------------------------
EXECUTE = """
import sys
import nbformat
from nbclient import NotebookClient

source, workdir, target = sys.argv[1:4]
notebook = nbformat.read(source, as_version=4)
resources = {"metadata": {"path": workdir}}
NotebookClient(notebook, timeout=300, kernel_name="python3", resources=resources).execute()
nbformat.write(notebook, target)
"""


def execute_notebook(project: Project, workdir: Path, target: Path) -> tuple[list[bytes], str]:
    """Run the project's notebook with its own kernel from `workdir`; return its PNGs and text."""
    source = project.path / "notebooks" / "01-exploration.ipynb"
    project.uv("run", "python", "-c", EXECUTE, str(source), str(workdir), str(target), timeout=600)
    images: list[bytes] = []
    texts: list[str] = []
    for cell in json.loads(target.read_text())["cells"]:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", output
            data = output.get("data", {})
            if "image/png" in data:
                images.append(base64.b64decode(data["image/png"]))
            texts.append("".join(output.get("text", "")) + "".join(data.get("text/plain", "")))
    return images, "\n".join(texts)


@pytest.mark.slow
def test_notebook_runs_top_to_bottom_and_draws_its_figures(polished: Project, tmp_path: Path):
    notebooks = polished.path / "notebooks"
    images, text = execute_notebook(polished, notebooks, tmp_path / "executed.ipynb")
    quality = json.loads((polished.path / "reports" / "data_quality.json").read_text())
    # missing values, target balance, numeric and categorical distributions, correlations
    assert len(images) >= 5, text
    assert all(image.startswith(b"\x89PNG") and len(image) > 5_000 for image in images)
    assert f"{quality['rows_in']} rows in, {quality['rows_clean']} clean" in text
    assert "Spearman r" in text and "primary metric:" in text
    assert f"{quality['rows_quarantined']} of {quality['rows_in']} rows quarantined" in text

    # The nbstripout hook strips these outputs from a notebook staged for a commit.
    committed = notebooks / "executed-copy.ipynb"
    relative = str(committed.relative_to(polished.path))
    shutil.copy2(tmp_path / "executed.ipynb", committed)
    polished.run(["git", "add", relative])
    try:
        hook = polished.uv(
            "run", "pre-commit", "run", "nbstripout", "--files", relative,
            check=False, timeout=300,
        )  # fmt: skip
        assert hook.returncode == 1, hook.stdout
        assert "files were modified by this hook" in hook.stdout, hook.stdout
        cells = json.loads(committed.read_text())["cells"]
        assert all(not cell.get("outputs") for cell in cells if cell["cell_type"] == "code")
    finally:
        polished.run(["git", "reset", "--quiet", "--", relative])
        committed.unlink(missing_ok=True)


@pytest.mark.slow
def test_notebook_shows_rejected_rows_with_their_reasons(polished: Project, tmp_path: Path):
    """The project's data plus two bad rows: the clean stage rejects them, the notebook says why."""
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("params.yaml", "pyproject.toml"):
        shutil.copy2(polished.path / name, copy / name)
    for name in ("data", "reports", "notebooks"):
        shutil.copytree(polished.path / name, copy / name)
    raw = copy / "data" / "raw" / "penguins.csv"
    header, first = raw.read_text().splitlines()[:2]
    broken = dict(zip(header.split(","), first.split(","), strict=True))
    broken["flipper_length_mm"] = "long"
    raw.write_text(raw.read_text().rstrip("\n") + f"\n{first}\n{','.join(broken.values())}\n")
    run([str(polished.path / ".venv" / "bin" / DEFAULT_PACKAGE), "clean"], copy)

    quality = json.loads((copy / "reports" / "data_quality.json").read_text())
    assert quality["rows_quarantined"] == 2 and quality["duplicates_removed"] == 1

    images, text = execute_notebook(polished, copy / "notebooks", tmp_path / "executed.ipynb")
    assert f"2 of {quality['rows_in']} rows quarantined (1 of them duplicates)" in text, text
    assert all(reason in text for reason in quality["quarantine_reasons"]), text
    assert "long" in text  # the rejected rows themselves, with the value that failed
    assert len(images) >= 6  # the five of the clean data, plus the reasons
