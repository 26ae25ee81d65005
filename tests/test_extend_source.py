"""Adding a data source is one new file: the docs' Parquet source, read by both engines.

The module is read from docs/customizing.md, so the walkthrough is what is tested. One Spark render
(its params.yaml takes either engine): the CLI's `collect` and `clean` run with `engine: pandas`,
then with `engine: spark`, on the same small Parquet file with a few bad rows. Both must write the
same data/raw/metadata.json and the same reports/data_quality.json.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import DEFAULT_PACKAGE, TEST_SPARK, Project, docs_module, render, synced

pytestmark = pytest.mark.slow

KIND = "parquet"
COLUMNS = [
    "size_cm",
    "colour",
    "flag",
    "label",
]  # the file also has `notes`, which options leave out


def docs_source_module() -> tuple[str, str]:
    """The path the docs tell the user to save, and the one Python block of that section."""
    return docs_module("Adding a data source", "data/sources")


# Run with the project's Python (pandas is the project's dependency, not the template's).
SAMPLE = """
import sys

import pandas as pd

rows = 60
frame = pd.DataFrame(
    {
        "size_cm": [f"{40 + (i * 7) % 20}.5" for i in range(rows)],
        "colour": [["red", "green", "blue"][i % 3] for i in range(rows)],
        "flag": [["yes", "no"][i % 2] for i in range(rows)],
        "notes": [f"free text {i}" for i in range(rows)],
        "label": [["high", "low"][(i // 3) % 2] for i in range(rows)],
    }
)
frame.loc[4, "size_cm"] = "oops"  # not a number
frame.loc[9, "label"] = None  # target missing
frame.loc[15, "flag"] = "maybe"  # not true/false
frame = pd.concat([frame, frame.iloc[[20]]], ignore_index=True)  # a repeated row
frame.to_parquet(sys.argv[1], index=False)
"""


def sample_parquet(project: Project, path: Path) -> str:
    """A small table as Parquet, with rows each engine must quarantine alike; returns its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    project.run([str(project.path / ".venv" / "bin" / "python"), "-c", SAMPLE, str(path)])
    return hashlib.sha256(path.read_bytes()).hexdigest()


def set_params(project: Project, engine: str, **data: Any) -> None:
    params = yaml.safe_load((project.path / "params.yaml").read_text())
    params["engine"] = engine
    params["spark"] = {**params["spark"], **TEST_SPARK}
    params["data"] = data
    params["clean"] = {**params.get("clean", {}), "column_types": {"flag": "boolean"}}
    (project.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def cli(project: Project, command: str, *, check: bool = True) -> Any:
    return project.run(
        [str(project.path / ".venv" / "bin" / DEFAULT_PACKAGE), command], check=check
    )


def outputs(project: Project) -> dict[str, Any]:
    metadata = json.loads((project.path / "data" / "raw" / "metadata.json").read_text())
    metadata.pop("collected_at")
    return {
        "metadata": metadata,
        "quality": (project.path / "reports" / "data_quality.json").read_text(),
        "schema": json.loads((project.path / "data" / "interim" / "schema.json").read_text()),
    }


@pytest.fixture(scope="module")
def extended(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Project, str, dict[str, dict[str, Any]]]:
    """A Spark render with the docs' source added, collected and cleaned by each engine."""
    project = synced(
        render(tmp_path_factory.mktemp("extend-source") / "project", engine="spark"),
        DEFAULT_PACKAGE,
    )
    relative, code = docs_source_module()
    assert relative == f"data/sources/{KIND}.py"
    module = project.path / "src" / DEFAULT_PACKAGE / relative
    assert not module.exists()
    module.write_text(code, encoding="utf-8")
    digest = sample_parquet(project, project.path / "inputs" / "sample.parquet")
    data = {
        "name": "sample",
        "source": KIND,
        "path": "inputs/sample.parquet",
        "sha256": digest,
        "target": "label",
        "task": "classification",
        "options": {"columns": COLUMNS},
    }
    results = {}
    for engine in ("pandas", "spark"):
        set_params(project, engine, **data)
        cli(project, "collect")
        cli(project, "clean")
        results[engine] = outputs(project)
    return project, digest, results


def test_the_new_source_is_read_by_both_engines_alike(extended):
    _, digest, results = extended
    pandas, spark = results["pandas"], results["spark"]
    assert pandas["metadata"] == spark["metadata"]
    assert pandas["quality"] == spark["quality"]  # the same bytes: counts, reasons and their order
    assert pandas["schema"] == spark["schema"]

    metadata = pandas["metadata"]
    assert (metadata["source"], metadata["sha256"], metadata["file"]) == (
        KIND,
        digest,
        "data/raw/sample.csv",
    )
    assert metadata["column_names"] == COLUMNS  # data.options.columns reached the source
    assert metadata["rows"] == 61
    quality = json.loads(pandas["quality"])
    assert quality["rows_in"] == 61 and quality["rows_quarantined"] == 4
    assert quality["quarantine_reasons"] == {
        "duplicate of an earlier row": 1,
        "flag: not true/false": 1,
        "label: target value missing": 1,
        "size_cm: not a number": 1,
    }


def test_an_option_the_source_does_not_take_is_refused_before_anything_runs(extended):
    project = extended[0]
    params = yaml.safe_load((project.path / "params.yaml").read_text())
    set_params(project, "pandas", **{**params["data"], "options": {"sheet": "first"}})
    result = cli(project, "collect", check=False)
    assert result.returncode == 1, result.stderr
    assert "data.options.sheet: Extra inputs are not permitted" in result.stderr
    assert "its options are: columns" in result.stderr
    assert "Traceback" not in result.stderr
