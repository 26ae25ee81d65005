"""The default project, end to end: install, pipeline, tracking, lint, serving.

Its own test suite runs in test_ci_files.py, as the `uv run pytest` step of its generated CI, and
so does every pre-commit hook on the piped outputs (the workflow's lint step fails if a hook would
change a file).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import GENTOO, Project, clean_env, free_port, predict, serving, uv_bin

pytestmark = pytest.mark.slow


def test_render_is_dvc_ready(default_project: Project):
    assert (default_project.path / ".dvc" / "config").is_file()
    status = default_project.uv("run", "dvc", "status").stdout
    assert "collect" in status  # nothing has run yet: every stage is pending


def test_pipeline_runs_every_stage(piped_project: Project):
    lock = (piped_project.path / "dvc.lock").read_text()
    for stage in ("collect", "clean", "featurize", "train", "evaluate", "report"):
        assert f"  {stage}:" in lock


def test_accuracy_above_0_9(piped_project: Project):
    metrics = json.loads((piped_project.path / "reports" / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.9
    assert metrics["baseline"]["accuracy"] > 0.8


def test_mlflow_holds_the_run(piped_project: Project):
    script = (
        "import json, mlflow; "
        "from penguin_species_classifier.config import get_paths, tracking_uri; "
        "mlflow.set_tracking_uri(tracking_uri(get_paths())); "
        "runs = mlflow.search_runs("
        "experiment_names=['penguin_species_classifier'], output_format='list'); "
        "client = mlflow.MlflowClient(); "
        "champion = client.get_model_version_by_alias('penguin_species_classifier', 'champion'); "
        "print(json.dumps({'params': runs[0].data.params, 'metrics': runs[0].data.metrics, "
        "'tags': runs[0].data.tags, 'champion': champion.version, 'n': len(runs)}))"
    )
    result = json.loads(
        piped_project.uv("run", "python", "-c", script).stdout.strip().splitlines()[-1]
    )
    assert result["n"] >= 1
    assert result["params"]["train.model"] == "random_forest"
    assert result["params"]["split.seed"] == "42"
    metrics = json.loads((piped_project.path / "reports" / "metrics.json").read_text())
    assert result["metrics"]["accuracy"] == pytest.approx(metrics["accuracy"])
    assert result["tags"]["dataset"] == "penguins"
    assert len(result["tags"]["git_commit"]) == 40
    assert str(result["champion"]) == "1"
    assert (piped_project.path / "mlflow.db").is_file()
    assert (piped_project.path / "mlartifacts").is_dir()


def test_report_and_readme_show_real_numbers(piped_project: Project):
    metrics = json.loads((piped_project.path / "reports" / "metrics.json").read_text())
    readme = (piped_project.path / "README.md").read_text()
    assert f"{metrics['accuracy']:.4f}" in readme
    assert (piped_project.path / "reports" / "REPORT.md").is_file()
    assert (piped_project.path / "reports" / "MODEL_CARD.md").is_file()
    assert (
        piped_project.path / "reports" / "figures" / "confusion_matrix.png"
    ).stat().st_size > 1000


def test_pre_commit_refuses_update_leftovers(piped_project: Project):
    """A conflict left by `copier update` (markers or a .rej file) cannot be committed."""
    marked = piped_project.path / "CONFLICTED.md"
    reject = piped_project.path / "params.yaml.rej"
    marked.write_text(
        "keep\n"
        + "<" * 7
        + " before updating\nours\n=======\ntheirs\n"
        + ">" * 7
        + " after updating\n"
    )
    reject.write_text("@@ -1 +1 @@\n-a\n+b\n")
    try:
        result = piped_project.uv(
            "run",
            "pre-commit",
            "run",
            "--files",
            marked.name,
            reject.name,
            check=False,
            timeout=300,
        )
    finally:
        marked.unlink()
        reject.unlink()
    assert result.returncode == 1, result.stdout
    assert "CONFLICTED.md:2:" in result.stdout, result.stdout
    assert "params.yaml.rej" in result.stdout and "delete the file" in result.stdout, result.stdout


@pytest.fixture
def server(piped_project: Project, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    argv = [uv_bin(), "run", "penguin_species_classifier", "serve", "--port", str(port)]
    with serving(argv, piped_project.path, clean_env(), tmp_path / "server.log", port) as base:
        yield base


def test_served_prediction(server: str):
    body = predict(server, GENTOO, timeout=10)
    assert body["predictions"][0] in {"Adelie", "Chinstrap", "Gentoo"}
    assert body["predictions"][0] == "Gentoo"
    assert set(body["probabilities"][0]) == {"Adelie", "Chinstrap", "Gentoo"}
    with urllib.request.urlopen(f"{server}/model", timeout=5) as response:
        assert json.loads(response.read())["name"] == "penguin_species_classifier"


def test_second_repro_does_nothing(piped_project: Project):
    output = piped_project.uv("run", "dvc", "repro").stdout
    assert "Running stage" not in output, output
    assert "up to date" in piped_project.uv("run", "dvc", "status").stdout
