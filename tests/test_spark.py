"""The Spark engine: a render with `engine: spark` runs the whole pipeline in local mode and agrees
with the pandas engine; the default render carries no trace of pyspark.

The differential checks (both engines on the same files, including corrupted ones: same schema,
clean rows, quarantine reasons and data quality report) are the generated project's own
tests/spark/, run here inside the Spark render. Needs Java 17+ (`.ci/run` installs it). The render
and its pipeline (`spark_project`, `spark_pipeline`) are session fixtures in conftest.py, built only
when a test asks for them.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import yaml

from .conftest import DEFAULT_PACKAGE, Project

pytestmark = pytest.mark.slow


def test_only_the_spark_render_depends_on_pyspark(default_render: Path, spark_project: Project):
    spark = spark_project.path
    pyproject = tomllib.loads((spark / "pyproject.toml").read_text())
    assert "spark" in pyproject["tool"]["uv"]["default-groups"]
    assert any(r.startswith("pyspark") for r in pyproject["dependency-groups"]["spark"])
    assert yaml.safe_load((spark / "params.yaml").read_text())["engine"] == "spark"
    assert (spark / "src" / DEFAULT_PACKAGE / "spark" / "clean.py").is_file()

    assert yaml.safe_load((default_render / "params.yaml").read_text())["engine"] == "pandas"
    assert not (default_render / "src" / DEFAULT_PACKAGE / "spark").exists()
    mentions = [
        p.relative_to(default_render).as_posix()
        for p in default_render.rglob("*")
        if p.is_file()
        and ".git" not in p.parts
        and "pyspark" in p.read_text(errors="ignore").lower()
    ]
    assert not mentions, f"the pandas render mentions pyspark in {mentions}"


def test_spark_pipeline_runs_every_stage(spark_pipeline: Project):
    root = spark_pipeline.path
    lock = (root / "dvc.lock").read_text()
    for stage in ("collect", "clean", "featurize", "train", "evaluate", "report"):
        assert f"  {stage}:" in lock
    quality = json.loads((root / "reports" / "data_quality.json").read_text())
    assert quality["rows_in"] == 344 == quality["rows_clean"] + quality["rows_quarantined"]
    assert (root / "data" / "interim" / "clean.parquet").is_file()
    assert (root / "models" / "model.json").is_file()


def test_spark_and_pandas_engines_train_the_same_model(
    spark_pipeline: Project, piped_project: Project
):
    """Same clean table, schema and split (small data splits as in pandas): same metrics."""
    spark, pandas = spark_pipeline.path, piped_project.path
    for name in (
        "reports/data_quality.json",
        "data/interim/schema.json",
        "data/processed/features.json",
    ):
        assert json.loads((spark / name).read_text()) == json.loads((pandas / name).read_text()), (
            name
        )
    metrics = [
        json.loads((root / "reports" / "metrics.json").read_text()) for root in (spark, pandas)
    ]
    numbers = {k for k, v in metrics[1].items() if isinstance(v, int | float)}
    assert {"accuracy", "f1_macro"} <= numbers
    for key in numbers:
        assert metrics[0][key] == pytest.approx(metrics[1][key], abs=1e-6), key


def test_generated_spark_tests_pass(spark_pipeline: Project):
    """The project's own engine-against-engine tests, on corrupted files, in one Spark session."""
    result = spark_pipeline.uv(
        "run", "pytest", "-q", "-p", "no:cacheprovider", "tests/spark", timeout=900
    )
    assert " passed" in result.stdout and "failed" not in result.stdout
