"""deep_learning=True: the PyTorch MLP is trained, tracked and registered like any family, exported
with its preprocessing in one ONNX graph, and served by the same API from a runtime without torch.

Every check runs on the one session render (`deep_learning_project`: synced, `dvc repro` done).
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GENTOO, Project, clean_env, free_port, predict, serving

pytestmark = pytest.mark.slow

RUNTIME_BUDGET_MB = 250  # the limit for the serving install of a deep-learning project


def read_json(project: Project, relative: str) -> Any:
    return json.loads((project.path / relative).read_text(encoding="utf-8"))


def megabytes(folder: Path) -> float:
    """Bytes on disk under `folder` (hard links into uv's cache counted once each), in MB."""
    seen: set[int] = set()
    total = 0
    for path in folder.rglob("*"):
        stat = path.lstat()
        if path.is_file() and not path.is_symlink() and stat.st_ino not in seen:
            seen.add(stat.st_ino)
            total += stat.st_size
    return total / 1e6


def test_the_mlp_is_trained_exported_and_reported_beside_the_baseline(
    deep_learning_project: Project,
):
    training = read_json(deep_learning_project, "reports/training.json")
    card = read_json(deep_learning_project, "models/model.json")
    assert training["model"] == training["requested_model"] == card["model_family"] == "mlp"
    results = training["results"]
    assert training["baseline"] == "linear" and results["baseline"]["f1_macro"] > 0.9
    assert results["model"]["f1_macro"] > 0.9
    assert set(results["candidates"]) == {"linear", "mlp"}
    exported = training["export"]
    assert exported["backend"] == "onnx", exported
    assert "batch sizes 1, 7, 64" in exported["parity"]
    assert exported["parity_check"]["passed"] and exported["parity_check"]["max_abs_diff"] <= 1e-4
    models = deep_learning_project.path / "models"
    assert (models / "model.onnx").is_file() and not list(models.glob("*.data"))
    for document in ("README.md", "reports/MODEL_CARD.md", "reports/REPORT.md"):
        assert "PyTorch MLP" in (deep_learning_project.path / document).read_text(), document


CHAMPION = """
import json, mlflow
from {package}.config import get_paths, tracking_uri
mlflow.set_tracking_uri(tracking_uri(get_paths()))
client = mlflow.MlflowClient()
champion = client.get_model_version_by_alias("{package}", "champion")
run = client.get_run(champion.run_id)
curves = {{
    name: [(m.step, m.value) for m in client.get_metric_history(champion.run_id, name)]
    for name in ("epoch_train_loss", "epoch_val_loss", "epoch_val_accuracy")
}}
print(json.dumps({{"version": champion.version, "tags": run.data.tags, "curves": curves}}))
"""


def test_the_champion_is_the_mlp_with_its_lineage_and_learning_curves(
    deep_learning_project: Project,
):
    script = CHAMPION.format(package=deep_learning_project.package)
    output = deep_learning_project.uv("run", "python", "-c", script).stdout
    champion = json.loads(output.strip().splitlines()[-1])
    card = read_json(deep_learning_project, "models/model.json")
    assert str(champion["version"]) == card["version"] == "1"
    tags = champion["tags"]
    assert tags["model_family"] == tags["served_model_family"] == "mlp"
    assert tags["dvc_data_md5"].endswith(".dir") and len(tags["git_commit"]) == 40
    curves = champion["curves"]
    epochs = len(curves["epoch_train_loss"])
    assert epochs >= 2
    for name, points in curves.items():
        assert [step for step, _ in points] == list(range(1, epochs + 1)), name
    assert curves["epoch_val_loss"][-1][1] < curves["epoch_val_loss"][0][1]


def test_the_runtime_serves_the_mlp_onnx_without_torch(
    deep_learning_project: Project, tmp_path: Path
):
    """The Dockerfile's install (`uv sync --no-default-groups`) in a virtualenv of its own."""
    runtime = tmp_path / "runtime"
    env = clean_env(UV_PROJECT_ENVIRONMENT=str(runtime))
    deep_learning_project.uv("sync", "--no-default-groups", "--frozen", env=env, timeout=600)
    python = runtime / "bin" / "python"
    for library in ("torch", "sklearn", "onnxscript"):
        missing = subprocess.run(
            [python, "-c", f"import {library}"], capture_output=True, text=True
        )
        assert missing.returncode != 0, f"{library} imports in the serving runtime"
        assert f"No module named '{library}'" in missing.stderr
    runtime_mb = megabytes(runtime)
    training_mb = megabytes(deep_learning_project.path / ".venv")
    print(f"installed: runtime {runtime_mb:.0f} MB, training environment {training_mb:.0f} MB")
    assert runtime_mb <= RUNTIME_BUDGET_MB, f"the runtime is {runtime_mb:.0f} MB"
    assert training_mb > 3 * runtime_mb  # torch lives there, and only there

    port = free_port()
    argv = [str(runtime / "bin" / deep_learning_project.package), "serve", "--port", str(port)]
    with serving(
        argv, deep_learning_project.path, clean_env(), tmp_path / "serve.log", port
    ) as base:
        answer = predict(base, GENTOO)
        with urllib.request.urlopen(f"{base}/model", timeout=30) as response:
            model = json.loads(response.read())
    assert answer["predictions"] == ["Gentoo"]
    (probabilities,) = answer["probabilities"]
    assert set(probabilities) == {"Adelie", "Chinstrap", "Gentoo"}
    assert sum(probabilities.values()) == pytest.approx(1, abs=1e-5)
    assert probabilities["Gentoo"] > 0.9
    assert model["backend"] == "onnx" and model["model_family"] == "mlp"


def test_the_generated_project_checks_pass(deep_learning_project: Project):
    """The MLP's own generated tests and ruff, in the deep-learning render."""
    deep_learning_project.uv(
        "run",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/families",
        "tests/training/test_export_network.py",
        timeout=900,
    )
    # The README's command for the GPU test: selected by its marker, skipped without CUDA.
    gpu = deep_learning_project.uv(
        "run",
        "pytest",
        "-m",
        "gpu",
        "tests/training/test_export_network.py",
        "-p",
        "no:cacheprovider",
    )
    assert re.search(r"\b1 (skipped|passed)\b", gpu.stdout), gpu.stdout
    deep_learning_project.uv("run", "ruff", "check", ".")
    deep_learning_project.uv("run", "ruff", "format", "--check", ".")
    # mypy strict over the MLP's modules: tests/test_matrix.py type-checks the deep_learning rows.
