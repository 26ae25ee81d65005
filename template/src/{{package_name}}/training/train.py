"""The train stage: fit the baseline and the chosen model, track both, export the chosen one.

The linear baseline is always trained beside the chosen family, so every result has a reference
point. Both are cross-validated on the training split (mean and std), scored on the test split,
and logged to MLflow; the chosen model is registered, promoted to `champion` only if it beats
the current champion, and exported to `models/` for serving.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline

from ..config import ModelFamily, Params, Paths
from ..data.io import read_json, sha256_file, write_json
from ..data.schema import DatasetSchema
from ..features import build_preprocessor, model_frame
from ..model_io import TRUSTED_TYPES
from . import registry
from .export import export
from .metrics import GREATER_IS_BETTER, SCORERS, check_metric, classification_metrics, regression_metrics

log = logging.getLogger(__name__)

BASELINE: ModelFamily = "linear"


def make_estimator(
    family: ModelFamily, task: str, hyperparameters: dict[str, Any], seed: int
) -> BaseEstimator:
    """An unfitted scikit-learn estimator of `family` for `task`."""
    from sklearn import ensemble, linear_model

    hp = {k: v for k, v in hyperparameters.items() if v is not None}
    if family == "linear":
        if task == "classification":
            return linear_model.LogisticRegression(random_state=seed, **{"max_iter": 1000, **hp})
        return linear_model.Ridge(**hp)
    if family == "random_forest":
        cls = ensemble.RandomForestClassifier if task == "classification" else ensemble.RandomForestRegressor
        return cls(random_state=seed, n_jobs=1, **hp)
    cls = (
        ensemble.HistGradientBoostingClassifier
        if task == "classification"
        else ensemble.HistGradientBoostingRegressor
    )
    return cls(random_state=seed, **hp)


def make_pipeline(schema: DatasetSchema, family: ModelFamily, params: Params) -> Pipeline:
    """Preprocessing + model, the one object that is trained, evaluated and served."""
    estimator = make_estimator(
        family, schema.target.task, params.train.hyperparameters(family), params.train.seed
    )
    return Pipeline([("preprocess", build_preprocessor(schema)), ("model", estimator)])


def score(pipeline: Pipeline, frame: pd.DataFrame, schema: DatasetSchema) -> dict[str, float]:
    """Test-split metrics of a fitted pipeline."""
    x, y = model_frame(frame, schema), frame[schema.target.name].to_numpy()
    predicted = pipeline.predict(x)
    if schema.target.task == "classification":
        proba = pipeline.predict_proba(x) if hasattr(pipeline, "predict_proba") else None
        return classification_metrics(y, predicted, proba, list(pipeline.classes_))
    return regression_metrics(y, predicted)


def cross_validation(
    pipeline: Pipeline, train: pd.DataFrame, schema: DatasetSchema, params: Params
) -> dict[str, float]:
    """k-fold CV on the training split: mean and std of each CV-able metric."""
    y = train[schema.target.name]
    folds = params.train.cv_folds
    if schema.target.task == "classification":
        folds = max(2, min(folds, int(y.value_counts().min())))
        splitter: Any = StratifiedKFold(folds, shuffle=True, random_state=params.train.seed)
        names = ["accuracy", "balanced_accuracy", "f1_macro"]
    else:
        splitter = KFold(folds, shuffle=True, random_state=params.train.seed)
        names = ["rmse", "mae", "r2"]
    scores = cross_validate(
        pipeline, model_frame(train, schema), y, cv=splitter, scoring={n: SCORERS[n] for n in names}
    )
    summary: dict[str, float] = {"cv_folds": float(folds)}
    for name in names:
        values = scores[f"test_{name}"] * (-1 if SCORERS[name].startswith("neg_") else 1)
        summary[f"cv_{name}_mean"] = float(np.mean(values))
        summary[f"cv_{name}_std"] = float(np.std(values))
    return summary


def fit_family(
    family: ModelFamily, train: pd.DataFrame, test: pd.DataFrame, schema: DatasetSchema, params: Params
) -> tuple[Pipeline, dict[str, float]]:
    """Cross-validate, fit on the full training split and score on the test split."""
    pipeline = make_pipeline(schema, family, params)
    cv = cross_validation(pipeline, train, schema, params)
    started = time.perf_counter()
    pipeline.fit(model_frame(train, schema), train[schema.target.name])
    fit_seconds = time.perf_counter() - started
    return pipeline, {**score(pipeline, test, schema), **cv, "fit_seconds": fit_seconds}


def _log_to_mlflow(
    pipeline: Pipeline,
    results: dict[str, dict[str, float]],
    train: pd.DataFrame,
    schema: DatasetSchema,
    params: Params,
    paths: Paths,
    data_hash: str,
) -> tuple[str, str, registry.Promotion]:
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    registry.configure(paths, params.project)
    family = params.train.model
    metric = params.train.primary_metric
    x_sample = model_frame(train.head(5), schema)
    tags = {
        **registry.git_state(paths.root),
        "dvc_data_sha256": data_hash,
        "dataset": params.data.name,
        "template_version": registry.template_version(paths.root),
        "model_family": family,
        "task": schema.target.task,
    }
    with mlflow.start_run(run_name=f"{family}-{datetime.now(UTC):%Y%m%d-%H%M%S}") as run:
        mlflow.set_tags(tags)
        mlflow.log_params(registry.flatten(params.model_dump(mode="json")))
        mlflow.log_metrics({k: v for k, v in results[family].items()})
        mlflow.log_metrics({f"baseline_{k}": v for k, v in results[BASELINE].items()})
        dataset = mlflow.data.from_pandas(train, name=params.data.name, targets=schema.target.name)
        mlflow.log_input(dataset, context="training")
        signature = infer_signature(x_sample, pipeline.predict(x_sample))
        logged = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            signature=signature,
            input_example=x_sample.head(2),
            pip_requirements=_pip_requirements(),
            serialization_format="skops",
            skops_trusted_types=TRUSTED_TYPES,
        )
        promotion = registry.register_and_promote(
            logged.model_uri, params.project, metric, results[family][metric], GREATER_IS_BETTER[metric]
        )
        mlflow.log_params({"champion_decision": promotion.describe()[:500]})
        mlflow.set_tag("champion", str(promotion.promoted).lower())
        return run.info.run_id, logged.model_uri, promotion


def _pip_requirements() -> list[str]:
    """Pinned requirements of the logged model, given explicitly (inferring them costs seconds)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("scikit-learn", "skops", "pandas", "numpy", "scipy")]


def run_train(params: Params, paths: Paths, track: bool = True) -> dict[str, Any]:
    """The train stage. Writes models/ and reports/training.json; returns the summary."""
    metric = params.train.primary_metric
    schema = DatasetSchema.model_validate(read_json(paths.features))
    check_metric(metric, schema.target.task)
    train = pd.read_parquet(paths.train)
    test = pd.read_parquet(paths.test)

    families: list[ModelFamily] = (
        [BASELINE] if params.train.model == BASELINE else [BASELINE, params.train.model]
    )
    pipelines: dict[str, Pipeline] = {}
    results: dict[str, dict[str, float]] = {}
    for family in families:
        log.info("training %s (%s, %d rows)...", family, schema.target.task, len(train))
        pipelines[family], results[family] = fit_family(family, train, test, schema, params)
        log.info(
            "%s: test %s=%.4f, cv %s",
            family,
            metric,
            results[family].get(metric, float("nan")),
            {
                k: round(v, 4)
                for k, v in results[family].items()
                if k.startswith("cv_") and k.endswith("_mean")
            },
        )
    chosen = pipelines[params.train.model]

    paths.models.mkdir(parents=True, exist_ok=True)
    exported = export(chosen, test, schema, params.export, paths.models)
    data_hash = sha256_file(paths.train)

    run_id = model_uri = None
    promotion = None
    if track:
        run_id, model_uri, promotion = _log_to_mlflow(
            chosen, results, train, schema, params, paths, data_hash
        )
        log.info("MLflow run %s: %s", run_id, promotion.describe())

    features_spec = read_json(paths.features)
    card = {
        "name": params.project,
        "version": promotion.version if promotion else None,
        "task": schema.target.task,
        "model_family": params.train.model,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "target": schema.target.model_dump(mode="json"),
        "features": [c.model_dump(mode="json") for c in schema.features],
        "example": features_spec.get("example", {}),
        "metrics": results[params.train.model],
        "baseline_metrics": results[BASELINE],
        "primary_metric": metric,
        "training_data_sha256": data_hash,
        "mlflow": {
            "run_id": run_id,
            "model_uri": model_uri,
            "champion": promotion.describe() if promotion else None,
        },
        "artifacts": exported,
    }
    write_json(paths.model_card_json, card)
    write_json(
        paths.training_results,
        {"model": params.train.model, "baseline": BASELINE, "results": results, "export": exported},
    )
    return card
