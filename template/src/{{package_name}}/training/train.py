"""The train stage: fit the candidates, serve the one the evidence favours, calibrated if it needs it.

The linear baseline is always trained beside `train.model`, and guessing (class priors or the
training mean) beside both, so every result has a floor and a reference point. All are
cross-validated on the training split (mean and std) and scored on the test split. With
`train.tuning.enabled`, an Optuna search picks train.model's hyperparameters first. Cross-validation
then chooses the candidate to serve (training/selection.py), and a classifier whose held-out
probabilities are off is calibrated (training/calibration.py). The run is logged to MLflow; the
served model is registered, promoted to `champion` only if it beats the current champion, and
exported to `models/` for serving.
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
from .calibration import calibrate, held_out_log_loss, method_for, verdict
from .card import build_model_card
from .export import export, network_of
from .metrics import (
    SCORERS,
    check_metric,
    classification_metrics,
    cv_metric_names,
    from_scorer,
    regression_metrics,
)
from .selection import Choice, choose, guessing_estimator

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


def score(pipeline: BaseEstimator, frame: pd.DataFrame, schema: DatasetSchema) -> dict[str, float]:
    """Test-split metrics of a fitted pipeline (or of the guessing estimator, which ignores the columns)."""
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
    pipeline: BaseEstimator, train: pd.DataFrame, schema: DatasetSchema, params: Params
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


def fit_guessing(
    train: pd.DataFrame, test: pd.DataFrame, schema: DatasetSchema, params: Params
) -> dict[str, float]:
    """Cross-validated and test metrics of guessing: the floor any model has to clear."""
    estimator = guessing_estimator(schema.target.task)
    cv = cross_validation(estimator, train, schema, params)
    estimator.fit(model_frame(train, schema), train[schema.target.name])
    return {**score(estimator, test, schema), **cv}


@dataclass(frozen=True)
class Trained:
    """The served model and the candidates it was chosen from, with their metrics.

    `model` is the served pipeline (calibrated when `calibration["applied"]`); `metrics` are its test
    metrics with the cross-validation of the candidate it came from. `candidates` maps each trained
    family to its uncalibrated metrics, simplest first.
    """

    model: Pipeline
    family: str
    baseline: Pipeline
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    guessing_metrics: dict[str, float]
    candidates: dict[str, dict[str, float]]
    selection: Choice
    calibration: dict[str, Any] | None
    hyperparameters: Hyperparameters
    tuning: dict[str, Any] | None


def calibrated_if_needed(
    pipeline: Pipeline,
    metrics: dict[str, float],
    guessing: dict[str, float],
    train: pd.DataFrame,
    test: pd.DataFrame,
    schema: DatasetSchema,
    params: Params,
) -> tuple[Pipeline, dict[str, float], dict[str, Any]]:
    """The served classifier, calibrated when its held-out probabilities call for it, and the verdict.

    Calibration is kept only if it lowers the held-out log loss (nested cross-validation): on few
    rows, or for a model that was not overconfident, it can make the probabilities worse. The
    decision reads only the training split's folds; the before and after metrics are the test
    split's, which neither the decision nor the calibrator saw.
    """
    settings = params.train.calibration
    decided = verdict(metrics, guessing, settings)
    log.info("calibration: %s", decided.reason)
    # The primary metric too: calibration moves the predicted class where probabilities are close.
    shown = dict.fromkeys((params.train.primary_metric, "log_loss", "brier", "ece"))
    before = {k: metrics[k] for k in shown if k in metrics}
    summary: dict[str, Any] = {
        "applied": decided.needed,
        "reason": decided.reason,
        "method": None,
        "max_ece": settings.max_ece,
        "before": before,
        "after": None,
    }
    if not decided.needed:
        return pipeline, metrics, summary
    method = method_for(settings, len(train))
    x, y, splitter = model_frame(train, schema), train[schema.target.name], cv_splitter(train, schema, params)
    with parallelism(params.train.n_jobs, len(train)):
        calibrated_log_loss = held_out_log_loss(pipeline, x, y, method, splitter)
    uncalibrated_log_loss = metrics["cv_log_loss_mean"]
    held_out = f"held-out log loss {uncalibrated_log_loss:.4f} -> {calibrated_log_loss:.4f} when calibrated"
    if calibrated_log_loss >= uncalibrated_log_loss:
        log.info("calibration (%s) tried and not kept: %s", method, held_out)
        summary |= {
            "applied": False,
            "reason": f"{decided.reason}, but {method} calibration does not help ({held_out}): "
            "served uncalibrated",
        }
        return pipeline, metrics, summary
    summary["reason"] = f"{decided.reason} ({held_out})"
    with parallelism(params.train.n_jobs, len(train)):
        calibrated = calibrate(
            pipeline,
            x,
            y,
            method,
            # A number of folds, not the splitter: the fitted wrapper keeps its `cv`, and skops
            # would have to trust a splitter class. The training split is already shuffled.
            splitter.get_n_splits(),
        )
    with parallelism(1, len(train)):
        after = score(calibrated, test, schema)
    log.info(
        "calibrated (%s): test log loss %.4f -> %.4f, ECE %.4f -> %.4f",
        method,
        before.get("log_loss", float("nan")),
        after.get("log_loss", float("nan")),
        before.get("ece", float("nan")),
        after.get("ece", float("nan")),
    )
    summary |= {"method": method, "after": {k: after[k] for k in before if k in after}}
    return calibrated, {**metrics, **after}, summary


def train_models(
    train: pd.DataFrame,
    test: pd.DataFrame,
    schema: DatasetSchema,
    params: Params,
    run: registry.TrainingRun | None = None,
) -> Trained:
    """Guessing, the baseline with its params.yaml settings and train.model (searched first if tuning);
    then the candidate cross-validation favours, calibrated when its probabilities need it.
    """
    chosen = params.train.model
    metric = params.train.primary_metric
    task = schema.target.task

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

    guessing = fit_guessing(train, test, schema, params)
    log.info(
        "guessing: test %s=%.4f, cv %s=%.4f ± %.4f",
        metric,
        guessing[metric],
        metric,
        guessing[f"cv_{metric}_mean"],
        guessing[f"cv_{metric}_std"],
    )
    baseline, baseline_metrics = fitted("baseline", BASELINE)
    # Simplest first: the order the one-standard-error rule reads them in.
    candidates = {BASELINE: (baseline, baseline_metrics, params.train.hyperparameters(task, BASELINE))}
    summary = None
    if not params.train.tuning.enabled:
        if chosen != BASELINE:  # when the model is the baseline, it is trained once
            model, metrics = fitted("model", chosen)
            candidates[chosen] = (model, metrics, params.train.hyperparameters(task, chosen))
    else:
        from .tuning import search

        def cv_of(candidate: Hyperparameters) -> dict[str, float]:
            return cross_validation(make_pipeline(schema, chosen, params, candidate), train, schema, params)

        found = search(cv_of, chosen, task, metric, params.train, run.log_trial if run else None)
        best = found.best
        model, metrics = fitted("model", chosen, hyperparameters=best.hyperparameters, cv=best.cv)
        candidates[chosen] = (model, metrics, best.hyperparameters)
        summary = found.summary()

    names = {family: families.get(family).display_name for family in candidates}
    choice = choose(
        {family: entry[1] for family, entry in candidates.items()},
        chosen,
        metric,
        params.train.selection.rule,
        names,
    )
    log.info("selection: %s", choice.reason)
    served, metrics, hyperparameters = candidates[choice.winner]
    calibration = None
    if task == "classification":
        served, metrics, calibration = calibrated_if_needed(
            served, metrics, guessing, train, test, schema, params
        )
    return Trained(
        model=served,
        family=choice.winner,
        baseline=baseline,
        metrics=metrics,
        baseline_metrics=baseline_metrics,
        guessing_metrics=guessing,
        candidates={family: entry[1] for family, entry in candidates.items()},
        selection=choice,
        calibration=calibration,
        hyperparameters=hyperparameters,
        tuning=summary,
    )


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


def learning_curves(pipeline: Pipeline) -> dict[str, list[float]]:
    """A network's per-epoch curves (its `history_`: name -> one value per epoch), else none.

    MLflow draws them as the run's training and validation curves; a scikit-learn model has none.
    """
    history: dict[str, list[float]] = getattr(network_of(pipeline), "history_", None) or {}
    return history


def for_serving(pipeline: Pipeline) -> Pipeline:
    """The fitted pipeline as served: no thread pool per prediction (a request is a few rows)."""
    model = pipeline.named_steps["model"]
    for estimator in (model, *(c.estimator for c in getattr(model, "calibrated_classifiers_", []))):
        if "n_jobs" in estimator.get_params(deep=False):
            estimator.set_params(n_jobs=None)
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
                guessing_metrics=trained.guessing_metrics,
                primary_metric=metric,
                model_name=params.project,
                tags={
                    "served_model_family": trained.family,
                    "selection": trained.selection.reason,
                    "calibration": (trained.calibration or {}).get("reason", "regression: not applicable"),
                },
                pip_requirements=pip_requirements(),
                trusted_types=trusted_types(),
                curves=learning_curves(model),
            )
            log.info("champion: %s (MLflow run %s)", logged.promotion.describe(), logged.run_id)

    card = build_model_card(
        name=params.project,
        family=trained.family,
        requested_family=chosen,
        schema=schema,
        model=model,
        hyperparameters=trained.hyperparameters,
        metrics=trained.metrics,
        baseline_metrics=trained.baseline_metrics,
        guessing_metrics=trained.guessing_metrics,
        candidates=trained.candidates,
        selection={
            "rule": params.train.selection.rule,
            "winner": trained.family,
            "reason": trained.selection.reason,
            "standard_error": trained.selection.standard_error,
        },
        calibration=trained.calibration,
        primary_metric=metric,
        example=features_spec.get("example", {}),
        data=data_summary(train, test, schema) | ({"train_sample": sample} if sample else {}),
        training_data_sha256=data_hash,
        dvc_data_md5=dvc_hash,
        tuning=trained.tuning,
        logged=logged,
        exported=exported,
        project_root=paths.root,
    )
    write_model_card(paths.model_card_json, card)
    # What `monitor` compares new inputs with: the training split's features, the test split's predictions.
    # Imported here: evaluate imports this module too, and does not need it.
    from ..monitoring.reference import build_reference, write_reference

    reference = build_reference(
        train,
        schema.features,
        pd.Series(model.predict(model_frame(test, schema))),
        schema.target.task == "classification",
        params.monitor.bins,
        params.project,
        card.version,
    )
    write_reference(paths.reference, reference)
    if logged is not None:
        # The run then holds what serving needs besides the model: the request schema and example.
        registry.log_artifacts(logged.artifact_uri, [paths.model_card_json], "card", paths)
    write_json(
        paths.training_results,
        {
            "model": trained.family,
            "requested_model": chosen,
            "baseline": BASELINE,
            "hyperparameters": trained.hyperparameters,
            "results": {
                "model": trained.metrics,
                "baseline": trained.baseline_metrics,
                "guessing": trained.guessing_metrics,
                "candidates": trained.candidates,
            },
            "selection": card.selection.model_dump(mode="json") if card.selection else None,
            "calibration": card.calibration.model_dump(mode="json") if card.calibration else None,
            "data": card.data.model_dump(mode="json"),
            "tuning": trained.tuning,
            "export": card.artifacts.model_dump(mode="json"),
            "mlflow": card.mlflow.model_dump(mode="json"),
        },
    )
    return card
