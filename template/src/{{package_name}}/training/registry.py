"""MLflow helpers: where runs go, what every run records, and champion promotion.

MLflow is imported inside the functions (it takes seconds), so importing this module is free.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Paths, Settings, tracking_uri

log = logging.getLogger(__name__)

CHAMPION = "champion"


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested keys joined with dots (train -> seed becomes 'train.seed'); lists become 'a,b'."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            flat[name] = ",".join(map(str, value))
        else:
            flat[name] = value
    return flat


def configure(paths: Paths, experiment: str) -> str:
    """Point MLflow at the project's store (or $MLFLOW_TRACKING_URI) and experiment; return the URI."""
    import mlflow

    settings = Settings()
    uri = tracking_uri(paths, settings)
    mlflow.set_tracking_uri(uri)
    if (
        uri.startswith("sqlite:")
        and mlflow.get_experiment_by_name(settings.mlflow_experiment or experiment) is None
    ):
        mlflow.create_experiment(
            settings.mlflow_experiment or experiment, artifact_location=paths.mlartifacts.as_uri()
        )
    mlflow.set_experiment(settings.mlflow_experiment or experiment)
    return uri


def git_state(root: Path) -> dict[str, str]:
    """The commit and dirty flag of the project repository ('unknown' outside git)."""

    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return result.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "git_commit": commit or "unknown",
        "git_dirty": "unknown" if status is None else str(bool(status)).lower(),
    }


def template_version(root: Path) -> str:
    """The mlfolio template version recorded by copier ('unknown' if the file is gone)."""
    answers = root / ".copier-answers.yml"
    if answers.is_file():
        for line in answers.read_text(encoding="utf-8").splitlines():
            if line.startswith("_commit:"):
                return line.split(":", 1)[1].strip()
    return "unknown"


@dataclass(frozen=True)
class Promotion:
    """The champion decision for a newly registered model version."""

    version: str
    promoted: bool
    new_score: float
    champion_score: float | None
    champion_version: str | None
    metric: str

    def describe(self) -> str:
        if self.champion_score is None:
            return f"version {self.version} is the first champion ({self.metric}={self.new_score:.4f})"
        verdict = "promoted to champion" if self.promoted else "kept as challenger"
        return (
            f"version {self.version} {verdict}: {self.metric}={self.new_score:.4f} vs champion "
            f"v{self.champion_version} {self.metric}={self.champion_score:.4f}"
        )


def is_better(new: float, old: float, greater_is_better: bool) -> bool:
    """Strictly better on the primary metric (ties keep the current champion)."""
    return new > old if greater_is_better else new < old


def register_and_promote(
    model_uri: str, name: str, metric: str, score: float, greater_is_better: bool
) -> Promotion:
    """Register `model_uri` under `name`; move the `champion` alias only if it beats the champion."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    version = mlflow.register_model(model_uri, name).version
    client.set_model_version_tag(name, version, metric, str(score))
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        current = None
    champion_score: float | None = None
    if current is not None:
        tagged = current.tags.get(metric)
        champion_score = float(tagged) if tagged is not None else None
    promoted = (
        current is None or champion_score is None or is_better(score, champion_score, greater_is_better)
    )
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, version)
    return Promotion(
        version=str(version),
        promoted=promoted,
        new_score=score,
        champion_score=champion_score,
        champion_version=None if current is None else str(current.version),
        metric=metric,
    )
