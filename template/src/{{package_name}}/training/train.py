"""The train stage: fit the baseline and the chosen model, track both, export the chosen one.

The linear baseline is always trained beside the chosen family, so every result has a reference
point. Both are cross-validated on the training split (mean and std) and scored on the test
split. With `train.tuning.enabled`, an Optuna search picks the chosen family's hyperparameters
first. The run is logged to MLflow; the model is registered, promoted to `champion` only if it
beats the current champion, and exported to `models/` for serving.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline

from .. import families
from ..artifacts import ModelCard, write_model_card
from ..config import Params, Paths
from ..data.io import read_json, sha256_file, write_json
from ..data.schema import DatasetSchema
from ..features import build_preprocessor, model_frame
from ..model_io import trusted_types
from . import registry
from .card import build_model_card
from .export import export
from .metrics import (
    SCORERS,
    check_metric,
    classification_metrics,
    cv_metric_names,
    from_scorer,
    regression_metrics,
)

log = logging.getLogger(__name__)

BASELINE = "linear"  # a registered family, looked up like the chosen one (families.get)
Hyperparameters = dict[str, Any]


SMALL_TABLE_ROWS = 20_000


@contextmanager
def parallelism(n_jobs: int, rows: int = 0) -> Iterator[None]:
    """Run scikit-learn's parallel parts (CV folds, trees, permuted columns) in `n_jobs` threads.

    Threads, not processes: no worker imports scikit-learn again, and the results are the same
    for any `n_jobs`. BLAS and OpenMP (HistGradientBoosting's only parallelism) get one thread on
    tables under SMALL_TABLE_ROWS rows, where their start-up and spin-waiting cost more than they
    save: a 5-fold CV of HistGradientBoosting on penguins took 40 s with OpenMP's default threads
    on a busy 2-core machine, 2 s with one. Larger tables get `n_jobs` of them.
    """
    from joblib import parallel_config
    from threadpoolctl import threadpool_limits

    native = 1 if rows < SMALL_TABLE_ROWS else (None if n_jobs < 0 else n_jobs)
    with threadpool_limits(limits=native), parallel_config(backend="threading", n_jobs=n_jobs):
        yield


def make_estimator(family: str, task: str, hyperparameters: Hyperparameters, seed: int) -> BaseEstimator:
    """An unfitted scikit-learn estimator of the registered `family` for `task`.

    A None hyperparameter means "the estimator's own default" (YAML's `null`), so it is not passed.
    """
    hp = {k: v for k, v in hyperparameters.items() if v is not None}
    return families.get(family).estimator(task, hp, seed)


def make_pipeline(
    schema: DatasetSchema, family: str, params: Params, hyperparameters: Hyperparameters | None = None
) -> Pipeline:
    """Preprocessing + model, the one object that is trained, evaluated and served."""
    task = schema.target.task
    estimator = make_estimator(
        family,
        task,
        params.train.hyperparameters(task, family) if hyperparameters is None else hyperparameters,
        params.train.seed,
    )
    return Pipeline([("preprocess", preprocessor_for(family, schema)), ("model", estimator)])


def preprocessor_for(family: str, schema: DatasetSchema) -> ColumnTransformer:
    """The schema's preprocessor, with numbers standardised only for a family declared `scaled`.

    Trees split at thresholds equal to training values and ignore scale. Scaling would add
    nothing but float32 rounding in ONNX, enough to move values across those thresholds: the
    parity check then fails on a few rows.
    """
    preprocessor = build_preprocessor(schema)
    if families.get(family).scaled:
        return preprocessor
    for name, transformer, _ in preprocessor.transformers:
        if name == "numeric" and isinstance(transformer, Pipeline):
            steps = [step for step in transformer.steps if step[0] != "scale"]
            preprocessor.set_params(numeric=Pipeline(steps))
    return preprocessor


def score(pipeline: Pipeline, frame: pd.DataFrame, schema: DatasetSchema) -> dict[str, float]:
    """Test-split metrics of a fitted pipeline."""
    x, y = model_frame(frame, schema), frame[schema.target.name].to_numpy()
    if schema.target.task == "classification":
        proba = pipeline.predict_proba(x)
        predicted = np.asarray(pipeline.classes_)[proba.argmax(axis=1)]
        return classification_metrics(y, predicted, proba, list(pipeline.classes_))
    return regression_metrics(y, pipeline.predict(x))


def cv_splitter(train: pd.DataFrame, schema: DatasetSchema, params: Params) -> Any:
    """Seeded k folds; stratified for classification (fewer folds if a class is too rare)."""
    if schema.target.task == "classification":
        rarest = int(train[schema.target.name].value_counts().min())
        folds = max(2, min(params.train.cv_folds, rarest))
        if folds < params.train.cv_folds:
            log.warning(
                "the rarest class has %d training rows: cross-validating with %d folds instead of %d",
                rarest,
                folds,
                params.train.cv_folds,
            )
        return StratifiedKFold(folds, shuffle=True, random_state=params.train.seed)
    return KFold(params.train.cv_folds, shuffle=True, random_state=params.train.seed)


def cross_validation(
    pipeline: Pipeline, train: pd.DataFrame, schema: DatasetSchema, params: Params
) -> dict[str, float]:
    """k-fold CV on the training split: mean and std of each metric (and the number of folds)."""
    splitter = cv_splitter(train, schema, params)
    names = cv_metric_names(schema.target.task, params.train.primary_metric)
    with parallelism(params.train.n_jobs, len(train)):
        scores = cross_validate(
            pipeline,
            model_frame(train, schema),
            train[schema.target.name],
            cv=splitter,
            scoring={name: SCORERS[name] for name in names},
        )
    summary: dict[str, float] = {"cv_folds": float(splitter.get_n_splits())}
    for name in names:
        values = from_scorer(name, scores[f"test_{name}"])
        summary[f"cv_{name}_mean"] = float(np.mean(values))
        summary[f"cv_{name}_std"] = float(np.std(values))
    return summary


def fit_family(
    family: str,
    train: pd.DataFrame,
    test: pd.DataFrame,
    schema: DatasetSchema,
    params: Params,
    hyperparameters: Hyperparameters | None = None,
    cv: dict[str, float] | None = None,
) -> tuple[Pipeline, dict[str, float]]:
    """Cross-validate (unless `cv` is given), fit on the whole training split, score on the test split."""
    pipeline = make_pipeline(schema, family, params, hyperparameters)
    cv = cv if cv is not None else cross_validation(pipeline, train, schema, params)
    with parallelism(params.train.n_jobs, len(train)):
        started = time.perf_counter()
        pipeline.fit(model_frame(train, schema), train[schema.target.name])
        fit_seconds = time.perf_counter() - started
    # Scored in one thread: a forest adds up its trees' predictions in the order their threads
    # finish, so threaded test scores could differ in the last digit from one run to the next.
    with parallelism(1, len(train)):
        scores = score(pipeline, test, schema)
    return pipeline, {**scores, **cv, "fit_seconds": fit_seconds}


@dataclass(frozen=True)
class Trained:
    """The fitted model and baseline, their metrics, and the search summary when there was one."""

    model: Pipeline
    baseline: Pipeline
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    hyperparameters: Hyperparameters
    tuning: dict[str, Any] | None


def train_models(
    train: pd.DataFrame,
    test: pd.DataFrame,
    schema: DatasetSchema,
    params: Params,
    run: registry.TrainingRun | None = None,
) -> Trained:
    """The baseline with its params.yaml settings, then the chosen family (searched first if tuning)."""
    chosen = params.train.model
    metric = params.train.primary_metric

    def fitted(role: str, family: str, **kwargs: Any) -> tuple[Pipeline, dict[str, float]]:
        log.info("training the %s: %s (%s, %d rows)", role, family, schema.target.task, len(train))
        pipeline, result = fit_family(family, train, test, schema, params, **kwargs)
        log.info(
            "%s: test %s=%.4f, cv %s=%.4f ± %.4f",
            role,
            metric,
            result[metric],
            metric,
            result[f"cv_{metric}_mean"],
            result[f"cv_{metric}_std"],
        )
        return pipeline, result

    baseline, baseline_metrics = fitted("baseline", BASELINE)
    if not params.train.tuning.enabled:
        if chosen == BASELINE:  # the model is the baseline: train it once
            hyperparameters = params.train.hyperparameters(schema.target.task, BASELINE)
            return Trained(baseline, baseline, baseline_metrics, baseline_metrics, hyperparameters, None)
        model, metrics = fitted("model", chosen)
        hyperparameters = params.train.hyperparameters(schema.target.task, chosen)
        return Trained(model, baseline, metrics, baseline_metrics, hyperparameters, None)

    from .tuning import search

    def cv_of(candidate: Hyperparameters) -> dict[str, float]:
        return cross_validation(make_pipeline(schema, chosen, params, candidate), train, schema, params)

    found = search(cv_of, chosen, schema.target.task, metric, params.train, run.log_trial if run else None)
    best = found.best
    model, metrics = fitted("model", chosen, hyperparameters=best.hyperparameters, cv=best.cv)
    return Trained(model, baseline, metrics, baseline_metrics, best.hyperparameters, found.summary())


def data_summary(train: pd.DataFrame, test: pd.DataFrame, schema: DatasetSchema) -> dict[str, Any]:
    """Rows per split and the target's distribution, for the report and the model card."""
    target = schema.target.name
    summary: dict[str, Any] = {"train_rows": len(train), "test_rows": len(test)}
    if schema.target.task == "classification":
        summary["train_classes"] = {str(k): int(v) for k, v in train[target].value_counts().items()}
        summary["test_classes"] = {str(k): int(v) for k, v in test[target].value_counts().items()}
    else:
        described = train[target].astype(float).describe()
        summary["train_target"] = {k: float(described[k]) for k in ("mean", "std", "min", "max")}
    return summary


def pip_requirements() -> list[str]:
    """Pinned requirements of the logged model, given explicitly (inferring them costs seconds)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("scikit-learn", "skops", "pandas", "numpy", "scipy")]


def for_serving(pipeline: Pipeline) -> Pipeline:
    """The fitted pipeline as served: no thread pool per prediction (a request is a few rows)."""
    if "n_jobs" in pipeline.named_steps["model"].get_params():
        pipeline.set_params(model__n_jobs=None)
    return pipeline


def run_train(params: Params, paths: Paths, track: bool = True) -> ModelCard:
    """The train stage. Writes models/ and reports/training.json; returns the model card (model.json)."""
    metric = params.train.primary_metric
    features_spec = read_json(paths.features)
    schema = DatasetSchema.model_validate(features_spec)
    check_metric(metric, schema.target.task)
    train = pd.read_parquet(paths.train)
    test = pd.read_parquet(paths.test)
    data_hash = sha256_file(paths.train)
    dvc_hash = registry.dvc_output_hash(paths.root, "data/processed")
    chosen = params.train.model
    # The Spark engine writes a seeded sample when the training split outgrows one machine.
    sample = features_spec.get("split", {}).get("train_sample")
    if sample:
        log.warning(
            "training on a seeded sample of %d of the %d training rows (%s)",
            sample["rows"],
            sample["of"],
            sample["why"],
        )

    run = None
    if track:
        tags = {
            **registry.git_state(paths.root),
            "dataset": params.data.name,
            "dvc_data_md5": dvc_hash or "unknown",
            "training_data_sha256": data_hash,
            "template_version": registry.template_version(paths.root),
            "model_family": chosen,
            "task": schema.target.task,
        }
        if sample:
            tags |= {"train_sample_rows": str(sample["rows"]), "train_sample_of": str(sample["of"])}
        if experiment := os.environ.get("DVC_EXP_NAME"):
            tags["dvc_experiment"] = experiment
        run_name = f"{chosen}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
        run = registry.TrainingRun(paths, params.project, run_name, tags)

    with run or nullcontext():
        trained = train_models(train, test, schema, params, run)
        model = for_serving(trained.model)
        exported = export(model, test, schema, params.export, paths.models)
        logged = None
        if run is not None:
            logged_params = registry.flatten(params.model_dump(mode="json"))
            if trained.tuning:
                logged_params |= {f"tuning.best.{k}": v for k, v in trained.hyperparameters.items()}
                logged_params["tuning.best_trial"] = trained.tuning["best_trial"]
            logged = run.finish(
                pipeline=model,
                example=model_frame(train.head(5), schema),
                train=train,
                test=test,
                target=schema.target.name,
                params=logged_params,
                metrics=trained.metrics,
                baseline_metrics=trained.baseline_metrics,
                primary_metric=metric,
                model_name=params.project,
                pip_requirements=pip_requirements(),
                trusted_types=trusted_types(),
            )
            log.info("champion: %s (MLflow run %s)", logged.promotion.describe(), logged.run_id)

    card = build_model_card(
        name=params.project,
        family=chosen,
        schema=schema,
        model=model,
        hyperparameters=trained.hyperparameters,
        metrics=trained.metrics,
        baseline_metrics=trained.baseline_metrics,
        primary_metric=metric,
        example=features_spec.get("example", {}),
        data=data_summary(train, test, schema) | ({"train_sample": sample} if sample else {}),
        training_data_sha256=data_hash,
        dvc_data_md5=dvc_hash,
        tuning=trained.tuning,
        logged=logged,
        exported=exported,
    )
    write_model_card(paths.model_card_json, card)
    if logged is not None:
        # The run then holds what serving needs besides the model: the request schema and example.
        registry.log_artifacts(logged.artifact_uri, [paths.model_card_json], "card", paths)
    write_json(
        paths.training_results,
        {
            "model": chosen,
            "baseline": BASELINE,
            "hyperparameters": trained.hyperparameters,
            "results": {"model": trained.metrics, "baseline": trained.baseline_metrics},
            "data": card.data.model_dump(mode="json"),
            "tuning": trained.tuning,
            "export": card.artifacts.model_dump(mode="json"),
            "mlflow": card.mlflow.model_dump(mode="json"),
        },
    )
    return card
