"""MLflow helpers: where runs go, what every run records, and champion promotion.

MLflow is imported inside the functions (it takes seconds), so importing this module is free and
`--no-tracking` runs never pay for it.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import logging
import os
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse, urlsplit
from urllib.request import url2pathname

import yaml

from ..config import ConfigError, Paths, Settings, tracking_uri
from .metrics import is_better

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from .tuning import Trial

log = logging.getLogger(__name__)

CHAMPION = "champion"
PARENT_RUN_TAG = "mlflow.parentRunId"  # what makes a run nested in MLflow
MAX_PARAM_LENGTH = 6000  # MLflow's limit for one param value
SERVER_CHECK_SECONDS = 5.0  # how long a tracking server may take to answer one request


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


def tracking_paths(paths: Paths) -> Paths:
    """The project whose mlflow.db and mlartifacts/ receive the runs.

    `dvc exp run --temp` and queued experiments run in a copy under .dvc/tmp/ and pass the real
    workspace as $DVC_ROOT: their runs must land in the workspace's store, not in the copy that
    DVC deletes afterwards. Every other run uses the project itself.
    """
    dvc_root = os.environ.get("DVC_ROOT")
    if dvc_root:
        root = Path(dvc_root).resolve()
        if root != paths.root and paths.root.is_relative_to(root / ".dvc" / "tmp"):
            return Paths(root)
    return paths


def without_pip_version_warning(record: logging.LogRecord) -> bool:
    """A logging filter: False for MLflow's warning that it found no installed pip.

    uv's virtualenvs have no pip, so `log_model` warns on every run that the model's conda.yaml
    names pip without a version. Nothing here builds a conda environment from that file (serving
    installs the project's runtime group), so the line is noise; MLflow's other warnings stay.
    """
    return "installed pip version" not in record.getMessage()


def configure(paths: Paths, experiment: str) -> str:
    """Point MLflow at the project's store (or $MLFLOW_TRACKING_URI) and experiment; return its id.

    A SQLite store keeps artifacts in the mlartifacts/ folder beside its database file (an
    absolute path, so that experiments run in temporary copies still write there); a server
    decides for itself.
    """
    import mlflow

    logging.getLogger("mlflow.utils.environment").addFilter(without_pip_version_warning)

    settings = Settings()
    store = tracking_paths(paths)
    uri = tracking_uri(store, settings)
    name = settings.mlflow_experiment or experiment
    mlflow.set_tracking_uri(uri)
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        experiment_id = found.experiment_id
    elif uri.startswith("sqlite:///"):
        database = Path(uri.removeprefix("sqlite:///")).resolve()
        artifacts = database.parent / "mlartifacts"
        experiment_id = mlflow.create_experiment(name, artifact_location=artifacts.as_uri())
    else:
        experiment_id = mlflow.create_experiment(name)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def require_server(uri: str) -> None:
    """Fail in seconds, with what to do, when the HTTP tracking server at `uri` does not answer.

    MLflow's client retries a refused connection with exponential backoff: measured here, the
    train stage took 4 min 20 s to fail against a stopped server. One plain request first turns
    that wait into an error within SERVER_CHECK_SECONDS. Any HTTP answer counts as reachable (a
    401 from an authenticating proxy, a 404 under a path prefix); so does a TLS error, which is
    MLflow's to judge with its own settings (MLFLOW_TRACKING_INSECURE_TLS, ...). Proxies set in
    the environment are honoured, as MLflow honours them.
    """
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return  # a database, a file store or a hosted scheme such as databricks
    port = f":{parts.port}" if parts.port else ""
    address = f"{parts.scheme}://{parts.hostname}{port}{parts.path.rstrip('/')}"  # no credentials
    try:
        with urllib.request.urlopen(f"{address}/health", timeout=SERVER_CHECK_SECONDS):  # noqa: S310 (http(s), checked above)
            return
    except urllib.error.HTTPError:
        return
    except OSError as exc:  # URLError, refused connections and timeouts are all OSErrors
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ssl.SSLError):
            return
        raise ConfigError(
            f"the MLflow tracking server at {address} does not answer ({reason}); start it, or check "
            "MLFLOW_TRACKING_URI (unset it to use the project's mlflow.db), or run the stage with "
            "--no-tracking."
        ) from exc


def git_state(root: Path) -> dict[str, str]:
    """The commit and dirty flag of the project repository ('unknown' outside git)."""

    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(
                ["git", *args],  # noqa: S607 (the user's git, found on PATH as their shell finds it)
                cwd=root,
                capture_output=True,
                text=True,
                check=True,
                timeout=10,
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


def dvc_output_hash(root: Path, output: str) -> str | None:
    """The hash dvc.lock records for a stage output (e.g. 'data/processed'), if still current.

    Stages run outside DVC (`<package> featurize` by hand) leave dvc.lock behind the data; the
    hash is returned only when the files on disk still match the listing DVC cached for it, so
    a run is never tagged with a data version it did not use.
    """
    lock = root / "dvc.lock"
    if not lock.is_file():
        return None
    stages = (yaml.safe_load(lock.read_text(encoding="utf-8")) or {}).get("stages", {})
    recorded = next(
        (out for stage in stages.values() for out in stage.get("outs", []) if out.get("path") == output),
        None,
    )
    digest = (recorded or {}).get("md5")
    if not digest:
        return None
    target = root / output
    if not digest.endswith(".dir"):
        return digest if target.is_file() and _md5(target) == digest else None
    manifests = [cache / "files" / "md5" / digest[:2] / digest[2:] for cache in _dvc_caches(root)]
    manifest = next((m for m in manifests if m.is_file()), None)
    if manifest is None or not target.is_dir():
        return None
    listing = {item["relpath"]: item["md5"] for item in json.loads(manifest.read_text(encoding="utf-8"))}
    on_disk = {p.relative_to(target).as_posix(): p for p in target.rglob("*") if p.is_file()}
    if set(on_disk) != set(listing):
        return None
    return digest if all(_md5(path) == listing[name] for name, path in on_disk.items()) else None


def _dvc_caches(root: Path) -> list[Path]:
    """Where DVC may keep its cache: `cache.dir` from its config, .dvc/cache, and $DVC_ROOT's.

    $DVC_ROOT is the workspace when `dvc exp run --temp` runs the stages in a copy of it.
    """
    caches = []
    for name in ("config.local", "config"):
        config = configparser.ConfigParser(strict=False, interpolation=None)
        try:
            config.read(root / ".dvc" / name, encoding="utf-8")
        except configparser.Error:
            continue
        if config.has_option("cache", "dir"):
            caches.append((root / ".dvc" / config.get("cache", "dir")).resolve())
    caches.append(root / ".dvc" / "cache")
    if dvc_root := os.environ.get("DVC_ROOT"):
        caches.append(Path(dvc_root) / ".dvc" / "cache")
    return caches


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Promotion:
    """The champion decision for a newly registered model version."""

    version: str
    promoted: bool
    new_score: float
    champion_score: float | None
    champion_version: str | None
    metric: str

    @property
    def decision(self) -> str:
        if self.champion_version is None:
            return "first"
        return "promoted" if self.promoted else "kept"

    def describe(self) -> str:
        if self.champion_version is None:
            return f"version {self.version} is the first champion ({self.metric}={self.new_score:.4f})"
        if self.champion_score is None:
            return (
                f"version {self.version} promoted to champion ({self.metric}={self.new_score:.4f}): "
                f"champion v{self.champion_version} has no {self.metric} to compare with"
            )
        verdict = "promoted to champion" if self.promoted else "kept as challenger"
        return (
            f"version {self.version} {verdict}: {self.metric}={self.new_score:.4f} vs champion "
            f"v{self.champion_version} {self.metric}={self.champion_score:.4f}"
        )


def champion_score(client: MlflowClient, version: Any, metric: str) -> float | None:
    """The champion's score: the tag set when it was registered, else its run's metric."""
    tagged = version.tags.get(metric)
    if tagged is not None:
        return float(tagged)
    if version.run_id:
        return client.get_run(version.run_id).data.metrics.get(metric)
    return None


def register_and_promote(model_uri: str, name: str, metric: str, score: float) -> Promotion:
    """Register `model_uri` under `name`; move the `champion` alias only if it beats the champion."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:  # no registered model yet, or no champion alias
        current = None
    old = champion_score(client, current, metric) if current is not None else None
    version = str(mlflow.register_model(model_uri, name, tags={metric: str(score)}).version)
    promoted = current is None or old is None or is_better(score, old, metric)
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, version)
    promotion = Promotion(
        version=version,
        promoted=promoted,
        new_score=score,
        champion_score=old,
        champion_version=None if current is None else str(current.version),
        metric=metric,
    )
    client.set_model_version_tag(name, version, "champion_decision", promotion.decision)
    return promotion


@dataclass(frozen=True)
class Logged:
    """Where a training run went: what model.json records about it."""

    run_id: str
    experiment_id: str
    artifact_uri: str
    model_uri: str
    registered_model_uri: str
    promotion: Promotion


class TrainingRun:
    """One MLflow run for the train stage, with the search trials as nested runs.

    The run is created with the object, before training, so that search trials can nest under
    it; `finish` logs the rest. Use it as a context manager: a failed stage marks the run FAILED
    instead of leaving it RUNNING.
    """

    def __init__(self, paths: Paths, experiment: str, run_name: str, tags: dict[str, str]) -> None:
        uri = tracking_uri(tracking_paths(paths))
        require_server(uri)  # before importing MLflow, which takes seconds
        from mlflow import MlflowClient

        self._run_name = run_name
        try:
            self.experiment_id = configure(paths, experiment)
            run = MlflowClient().create_run(self.experiment_id, tags=tags, run_name=run_name)
        except Exception as exc:
            raise ConfigError(
                f"could not start an MLflow run at {uri.split('@')[-1]} ({type(exc).__name__}: {exc}); "
                "check MLFLOW_TRACKING_URI (unset it to use the project's mlflow.db), or run "
                "the stage with --no-tracking."
            ) from exc
        self.run_id: str = run.info.run_id

    def __enter__(self) -> TrainingRun:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None:
            from mlflow import MlflowClient

            MlflowClient().set_terminated(self.run_id, status="FAILED")

    def log_trial(self, trial: Trial) -> None:
        """Record one search trial as a nested run of this run, with its real start and end."""
        from mlflow import MlflowClient
        from mlflow.entities import Metric, Param

        client = MlflowClient()
        child = client.create_run(
            self.experiment_id,
            start_time=trial.started_ms,
            tags={PARENT_RUN_TAG: self.run_id, "trial": str(trial.number)},
            run_name=f"{self._run_name}-trial-{trial.number:03d}",
        )
        params = [Param(k, str(v)[:MAX_PARAM_LENGTH]) for k, v in trial.hyperparameters.items()]
        metrics = [Metric(k, v, trial.ended_ms, 0) for k, v in trial.cv.items()]
        client.log_batch(child.info.run_id, metrics=metrics, params=params)
        client.set_terminated(child.info.run_id, end_time=trial.ended_ms)

    def finish(
        self,
        *,
        pipeline: Any,
        example: Any,
        train: Any,
        test: Any,
        target: str,
        params: dict[str, Any],
        metrics: dict[str, float],
        baseline_metrics: dict[str, float],
        guessing_metrics: dict[str, float],
        primary_metric: str,
        model_name: str,
        pip_requirements: list[str],
        trusted_types: list[str],
        curves: dict[str, list[float]] | None = None,
        tags: dict[str, str],
    ) -> Logged:
        """Log params, metrics, tags, datasets, the model and a network's per-epoch curves; register the
        model and decide the champion."""
        import mlflow
        import mlflow.sklearn
        from mlflow.data.pandas_dataset import from_pandas
        from mlflow.models import infer_signature

        with mlflow.start_run(run_id=self.run_id) as run:
            _log_params(params)
            mlflow.log_metrics({f"baseline_{k}": v for k, v in baseline_metrics.items()})
            mlflow.log_metrics({f"guessing_{k}": v for k, v in guessing_metrics.items()})
            mlflow.set_tags(tags)
            training = from_pandas(train, name="train", targets=target)
            evaluation = from_pandas(test, name="test", targets=target)
            mlflow.log_input(training, context="training")
            mlflow.log_input(evaluation, context="evaluation")
            logged = mlflow.sklearn.log_model(
                pipeline,
                name="model",
                signature=infer_signature(example, pipeline.predict(example)),
                input_example=example.head(2),
                pip_requirements=pip_requirements,
                serialization_format="skops",
                skops_trusted_types=trusted_types,
            )
            _log_curves(run.info.run_id, curves or {})
            # Linked to the model and the test set, so the registry's model page shows them.
            mlflow.log_metrics(metrics, model_id=logged.model_id, dataset=evaluation)
            promotion = register_and_promote(
                logged.model_uri, model_name, primary_metric, metrics[primary_metric]
            )
            mlflow.set_tags(
                {
                    "champion": str(promotion.promoted).lower(),
                    "champion.decision": promotion.decision,
                    "champion.detail": promotion.describe(),
                    "registered_model_version": promotion.version,
                }
            )
            if promotion.champion_score is not None:
                mlflow.log_metric(f"champion_previous_{primary_metric}", promotion.champion_score)
            return Logged(
                run_id=run.info.run_id,
                experiment_id=run.info.experiment_id,
                artifact_uri=run.info.artifact_uri,
                model_uri=logged.model_uri,
                registered_model_uri=f"models:/{model_name}/{promotion.version}",
                promotion=promotion,
            )


def _log_curves(run_id: str, curves: dict[str, list[float]]) -> None:
    """Per-epoch curves as metrics `epoch_<name>` with step = epoch (1, 2, ...), in one batch call."""
    import time

    from mlflow import MlflowClient
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    metrics = [
        Metric(f"epoch_{name}", float(value), now, epoch)
        for name, values in curves.items()
        for epoch, value in enumerate(values, start=1)
    ]
    client = MlflowClient()
    for start in range(0, len(metrics), 1000):  # MLflow takes at most 1000 metrics per batch
        client.log_batch(run_id, metrics=metrics[start : start + 1000])


def _log_params(params: dict[str, Any]) -> None:
    import mlflow

    flat = {k: str(v)[:MAX_PARAM_LENGTH] for k, v in params.items()}
    items = list(flat.items())
    for start in range(0, len(items), 100):  # MLflow takes at most 100 params per call
        mlflow.log_params(dict(items[start : start + 100]))


def portable_artifact_uri(artifact_uri: str, root: Path) -> str:
    """A run's artifact URI as model.json records it: relative to the project for a store inside it.

    model.json and reports/training.json travel with the project (DVC and git), and a clone lives
    at another path: `file:///home/me/project/mlartifacts/...` would point at the author's disk.
    A store elsewhere (a server, a bucket, a folder outside the project) keeps its full URI.
    """
    if artifact_uri.startswith("file:"):
        path = Path(url2pathname(urlparse(artifact_uri).path))
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return artifact_uri


def resolve_artifact_uri(recorded: str, root: Path) -> str:
    """The URI `portable_artifact_uri` recorded, made absolute again for this copy of the project."""
    return recorded if ":" in recorded else (root / recorded).as_uri()


def log_artifacts(artifact_uri: str, files: list[Path], folder: str, paths: Paths) -> None:
    """Add files to a finished run's artifacts, straight through its artifact store.

    The evaluate stage knows the run's artifact URI from models/model.json, so it needs no
    tracking database. A local store (`file:` URI, the default mlartifacts/) is a folder where an
    artifact is a copy of the file, which spares the stage importing MLflow at all; any other
    store goes through MLflow's artifact repository for that URI.
    """
    if artifact_uri.startswith("file:"):
        target = Path(url2pathname(urlparse(artifact_uri).path)) / folder
        target.mkdir(parents=True, exist_ok=True)
        for path in files:
            shutil.copyfile(path, target / path.name)
        return
    import mlflow
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    uri = tracking_uri(tracking_paths(paths))
    require_server(uri)
    mlflow.set_tracking_uri(uri)  # resolves mlflow-artifacts:/ URIs
    repository = get_artifact_repository(artifact_uri)
    for path in files:
        repository.log_artifact(str(path), folder)  # type: ignore[no-untyped-call]  # unannotated in MLflow
