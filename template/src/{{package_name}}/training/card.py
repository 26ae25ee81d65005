"""models/model.json from a finished training run: what the train stage knows, in the typed contract.

The preprocessing is read from the fitted pipeline itself, so the model card can never describe a
step the model does not have (a tree model, for one, gets its numbers unscaled).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from ..artifacts import (
    Calibration,
    ColumnGroup,
    DataSummary,
    ExportedArtifacts,
    JsonScalar,
    MlflowLineage,
    ModelCard,
    ModelInputs,
    PreprocessingStep,
    Selection,
    TuningSummary,
)
from ..data.schema import DatasetSchema
from .metrics import GREATER_IS_BETTER
from .registry import Logged, portable_artifact_uri


def _json_scalar(value: Any) -> JsonScalar:
    """A setting as JSON can hold it: plain values as they are, anything else (nan, a class) as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float) and value == value:  # NaN is not equal to itself
        return value
    return repr(value)


def changed_settings(step: BaseEstimator) -> dict[str, JsonScalar]:
    """The constructor arguments of `step` that differ from its class defaults (what its repr shows)."""
    try:
        defaults = type(step)().get_params(deep=False)
    except TypeError:  # a class with required arguments: every setting is worth showing
        defaults = {}
    return {
        name: _json_scalar(value)
        for name, value in step.get_params(deep=False).items()
        if name not in defaults or repr(value) != repr(defaults[name])
    }


def describe_preprocessing(pipeline: Pipeline) -> list[ColumnGroup]:
    """Each column group of the fitted `preprocess` step, with its steps in order.

    Dropped columns are left out: they never reach the model.
    """
    groups = []
    for name, transformer, columns in pipeline.named_steps["preprocess"].transformers_:
        if transformer == "drop":
            continue
        if transformer == "passthrough":  # the columns reach the model as they are
            steps = []
        else:
            named = transformer.steps if isinstance(transformer, Pipeline) else [(name, transformer)]
            steps = [
                PreprocessingStep(
                    name=step_name, transformer=type(step).__name__, settings=changed_settings(step)
                )
                for step_name, step in named
            ]
        groups.append(ColumnGroup(name=name, columns=[str(c) for c in columns], steps=steps))
    return groups


def mlflow_lineage(logged: Logged | None, root: Path) -> MlflowLineage:
    """The MLflow ids of the run and the registered version, and the champion decision.

    The artifact URI of a store inside the project (`root`) is kept relative to it.
    """
    if logged is None:
        return MlflowLineage()
    promotion = logged.promotion
    return MlflowLineage(
        run_id=logged.run_id,
        experiment_id=logged.experiment_id,
        artifact_uri=portable_artifact_uri(logged.artifact_uri, root),
        model_uri=logged.model_uri,
        registered_model_uri=logged.registered_model_uri,
        model_version=promotion.version,
        champion=promotion.describe(),
        promoted=promotion.promoted,
        champion_decision=promotion.decision,
    )


def build_model_card(
    *,
    name: str,
    family: str,
    requested_family: str,
    schema: DatasetSchema,
    model: Pipeline,
    hyperparameters: dict[str, Any],
    metrics: dict[str, float],
    baseline_metrics: dict[str, float],
    guessing_metrics: dict[str, float],
    candidates: dict[str, dict[str, float]],
    selection: dict[str, Any],
    calibration: dict[str, Any] | None,
    primary_metric: str,
    example: dict[str, Any],
    data: dict[str, Any],
    training_data_sha256: str,
    dvc_data_md5: str | None,
    tuning: dict[str, Any] | None,
    logged: Logged | None,
    exported: ExportedArtifacts,
    project_root: Path,
) -> ModelCard:
    """The model card of a trained model; validating it here means a bad card is never written."""
    return ModelCard(
        name=name,
        version=logged.promotion.version if logged else None,
        task=schema.target.task,
        model_family=family,
        hyperparameters=hyperparameters,
        created_at=datetime.now(UTC).replace(microsecond=0),
        target=schema.target,
        features=schema.features,
        inputs=ModelInputs(numeric=schema.numeric, categorical=schema.categorical),
        preprocessing=describe_preprocessing(model),
        example=example,
        metrics=metrics,
        baseline_metrics=baseline_metrics,
        requested_family=requested_family,
        guessing_metrics=guessing_metrics,
        candidates=candidates,
        selection=Selection.model_validate(selection),
        calibration=Calibration.model_validate(calibration) if calibration else None,
        primary_metric=primary_metric,
        greater_is_better={k: GREATER_IS_BETTER[k] for k in metrics if k in GREATER_IS_BETTER},
        data=DataSummary.model_validate(data),
        training_data_sha256=training_data_sha256,
        dvc_data_md5=dvc_data_md5,
        tuning=TuningSummary.model_validate(tuning) if tuning else None,
        mlflow=mlflow_lineage(logged, project_root),
        artifacts=exported,
    )
