"""The artifact contract: `models/model.json` and the other files one stage leaves for the next.

The train stage writes `model.json` through `ModelCard`; evaluation, the reports and the API read
it back through `read_model_card`, so every reader sees the same typed fields and a file that no
longer matches is refused once, with the field named, instead of failing later on a missing key.
The other names here (the figure and plot files evaluate writes and the report quotes, and the
README markers between which the report writes its results) are defined once for the same reason.

This module needs only pydantic: the API imports it without pandas or scikit-learn.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from .config import ConfigError

FeatureKind = Literal["numeric", "categorical", "boolean"]
Task = Literal["classification", "regression"]
JsonScalar = bool | int | float | str | None
Timestamp = Annotated[AwareDatetime, PlainSerializer(datetime.isoformat, return_type=str, when_used="json")]

RETRAIN = "re-run the pipeline to write it again: `make pipeline` (or `uv run dvc repro train`)"


class ModelCardError(ConfigError):
    """models/model.json is missing or does not match this project's contract; the message says why."""


# ---- the feature schema (also what data/schema.py builds and cleaning writes) ------------------


class Column(BaseModel):
    """One model input column, after cleaning."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: FeatureKind
    nullable: bool = True
    categories: list[str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    derived_from: str | None = None


class Target(BaseModel):
    """The column to predict."""

    model_config = ConfigDict(frozen=True)

    name: str
    task: Task
    classes: list[str] | None = None


# ---- model.json ------------------------------------------------------------------------------


class _Section(BaseModel):
    # NaN is a legitimate metric value (e.g. ROC AUC on a split with one class): keep it as NaN.
    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")


class ModelInputs(_Section):
    """The model's input columns as the exported pipeline takes them: numbers, then categories.

    The ONNX graph has one input tensor per column, float32 for `numeric` (booleans are 0/1) and
    string for `categorical`; serving builds its feed from these lists rather than recomputing them.
    """

    numeric: list[str]
    categorical: list[str]

    @property
    def names(self) -> list[str]:
        return self.numeric + self.categorical


class PreprocessingStep(_Section):
    """One fitted step of a column group, e.g. SimpleImputer with strategy=median."""

    name: str
    transformer: str
    settings: dict[str, JsonScalar] = {}


class ColumnGroup(_Section):
    """The steps the fitted pipeline applies to a group of columns before the model sees them."""

    name: str
    columns: list[str]
    steps: list[PreprocessingStep]


class TargetStats(_Section):
    """The regression target on the training split."""

    mean: float
    std: float
    min: float
    max: float


class TrainSample(_Section):
    """The seeded sample the model was fitted on when the training split outgrew one machine."""

    rows: int
    of: int
    seed: int
    stratified_by: str | None = None
    why: str


class DataSummary(_Section):
    """Rows per split and the target's distribution."""

    train_rows: int = Field(ge=0)
    test_rows: int = Field(ge=0)
    train_classes: dict[str, int] | None = None
    test_classes: dict[str, int] | None = None
    train_target: TargetStats | None = None
    train_sample: TrainSample | None = None


class TuningSummary(_Section):
    """What the Optuna search tried and what it chose."""

    n_trials: int
    metric: str
    best_trial: int
    best_score: float
    best_hyperparameters: dict[str, JsonValue]


class Selection(_Section):
    """Which trained candidate is served and why (training/selection.py)."""

    rule: Literal["cv", "model"]
    winner: str
    reason: str
    standard_error: float | None = None


class Calibration(_Section):
    """The calibration verdict for a classifier, with test-split figures before and after.

    `before` holds the uncalibrated candidate's test log loss, Brier score and ECE; `after` the
    served (calibrated) model's, or None when calibration was not needed.
    """

    applied: bool
    reason: str
    method: Literal["sigmoid", "isotonic"] | None = None
    max_ece: float
    before: dict[str, float]
    after: dict[str, float] | None = None


class MlflowLineage(_Section):
    """Where the training run and the registered model live in MLflow (all None when untracked)."""

    run_id: str | None = None
    experiment_id: str | None = None
    artifact_uri: str | None = None
    model_uri: str | None = None
    registered_model_uri: str | None = None
    model_version: str | None = None
    champion: str | None = None
    promoted: bool | None = None
    champion_decision: str | None = None


class ParityCheck(_Section):
    """How closely the ONNX export reproduced scikit-learn on the test split."""

    passed: bool
    label_agreement: float | None = None
    max_abs_diff: float | None = None
    test_rows: int


class ExportedArtifacts(_Section):
    """The files in models/ beside model.json, and which one the API serves."""

    skops: str
    onnx: str | None = None
    backend: Literal["onnx", "skops"]
    parity: str
    parity_check: ParityCheck | None = None

    @property
    def served(self) -> str:
        """The file the API loads: the ONNX export when it passed parity, else the skops pipeline."""
        return self.onnx or self.skops


class ModelCard(_Section):
    """models/model.json: the served model, what it expects, how it scored, and where it came from."""

    name: str
    version: str | None = None
    task: Task
    model_family: str
    hyperparameters: dict[str, JsonValue]
    created_at: Timestamp
    target: Target
    features: list[Column] = Field(min_length=1)
    inputs: ModelInputs
    preprocessing: list[ColumnGroup]
    example: dict[str, JsonScalar]
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    # Added with model selection and calibration; absent in cards written before them.
    requested_family: str | None = None
    guessing_metrics: dict[str, float] = {}
    candidates: dict[str, dict[str, float]] = {}
    selection: Selection | None = None
    calibration: Calibration | None = None
    primary_metric: str
    greater_is_better: dict[str, bool]
    data: DataSummary
    training_data_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    dvc_data_md5: str | None = None
    tuning: TuningSummary | None = None
    mlflow: MlflowLineage = MlflowLineage()
    artifacts: ExportedArtifacts

    @property
    def classes(self) -> list[str] | None:
        return self.target.classes

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """The parts that must agree with each other, so a hand edit cannot make them disagree."""
        names = [f.name for f in self.features]
        if self.target.task != self.task:
            raise ValueError(f"target.task is {self.target.task!r} but task is {self.task!r}")
        if sorted(self.inputs.names) != sorted(names):
            raise ValueError(f"inputs lists {self.inputs.names} but features are {names}")
        kinds = {f.name: f.kind for f in self.features}
        if any(kinds[name] == "categorical" for name in self.inputs.numeric) or any(
            kinds[name] != "categorical" for name in self.inputs.categorical
        ):
            raise ValueError("inputs.numeric and inputs.categorical do not match the features' kinds")
        if set(self.example) != set(names):
            raise ValueError(f"example has the columns {sorted(self.example)} but features are {names}")
        if self.primary_metric not in self.metrics:
            raise ValueError(f"primary_metric {self.primary_metric!r} is not among metrics")
        if self.task == "classification" and not self.target.classes:
            raise ValueError("target.classes is empty for a classification model")
        return self


def _problems(error: ValidationError) -> str:
    """'features.0.kind: Input should be ...; inputs: Field required', one entry per error."""
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or 'model.json'}: {e['msg']}" for e in error.errors()
    )


def read_model_card(path: Path) -> ModelCard:
    """The model card at `path`, validated; a missing or mismatched file raises ModelCardError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ModelCardError(
            f"{path} does not exist yet: train a model first with `make pipeline` (or `uv run dvc repro`)."
        ) from exc
    try:
        return ModelCard.model_validate_json(text)
    except ValidationError as exc:
        raise ModelCardError(
            f"{path} does not match what this project writes ({_problems(exc)}); it is from an older "
            f"version of the project or was edited by hand: {RETRAIN}."
        ) from None


def write_model_card(path: Path, card: ModelCard) -> None:
    """Write `card` as pretty-printed JSON; the file is replaced whole, never left half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    partial.write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


# ---- evaluate's outputs, which the report quotes ------------------------------------------------


class Plots:
    """reports/plots/*.csv: the data behind `dvc plots` (dvc.yaml's `plots:` lists the same files)."""

    CONFUSION = "confusion.csv"
    ROC = "roc.csv"
    PRECISION_RECALL = "precision_recall.csv"
    PREDICTIONS = "predictions.csv"
    RESIDUALS = "residuals.csv"
    IMPORTANCE = "importance.csv"
    RELIABILITY = "reliability.csv"

    @classmethod
    def for_task(cls, task: Task) -> list[str]:
        """The plot files evaluate writes for a model of `task`."""
        if task == "classification":
            return [cls.CONFUSION, cls.ROC, cls.PRECISION_RECALL, cls.RELIABILITY, cls.IMPORTANCE]
        return [cls.PREDICTIONS, cls.RESIDUALS, cls.IMPORTANCE]


class Figures:
    """reports/figures/*.png: the same results drawn for people (the report and README embed them)."""

    CONFUSION = "confusion_matrix.png"
    ROC = "roc.png"
    PRECISION_RECALL = "precision_recall.png"
    PREDICTED_VS_ACTUAL = "predicted_vs_actual.png"
    RESIDUALS = "residuals.png"
    IMPORTANCE = "permutation_importance.png"
    RELIABILITY = "reliability.png"
    # The README shows one figure of the fit, whichever the task has, and the importances.
    README = (CONFUSION, PREDICTED_VS_ACTUAL, IMPORTANCE)
