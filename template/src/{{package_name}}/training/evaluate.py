"""The evaluate stage: test-split metrics, DVC plot data and PNG figures for the exported model.

It also runs the leakage and shortcut screen (training/leakage.py) and draws the reliability
diagram of a classifier, before and after calibration when training calibrated it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

from ..artifacts import Figures, ModelCard, Plots, read_model_card
from ..config import Params, Paths
from ..data.io import atomic_path, read_json, write_json
from ..data.schema import DatasetSchema
from ..features import model_frame
from ..model_io import load_skops
from .calibration import reliability_table, uncalibrated
from .leakage import screen
from .metrics import SCORERS
from .train import parallelism, score

log = logging.getLogger(__name__)


class OnnxModel(BaseEstimator):  # type: ignore[misc]  # scikit-learn is untyped
    """The exported models/model.onnx behind scikit-learn's `predict`, for scoring and the figures.

    The evaluate stage scores what the API serves: this file, which the parity check holds to the
    fitted pipeline. ONNX Runtime loads it in milliseconds and predicts the test split in a fraction
    of one, where loading the skops pipeline imports the model's scikit-learn modules and a forest
    takes milliseconds a call (permutation importance makes hundreds).
    """

    def __init__(self, path: Path, schema: DatasetSchema) -> None:
        import onnxruntime as ort

        self.path = path
        self.schema = schema
        self._session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def fit(self, frame: pd.DataFrame, target: Any) -> OnnxModel:
        """There is no refitting an export (scikit-learn's checks ask for the method): train instead."""
        raise NotImplementedError("an exported ONNX model is not refitted; run the train stage instead")

    def _outputs(self, frame: pd.DataFrame) -> np.ndarray:
        from .export import onnx_inputs

        # The last output: the probabilities of a classifier (after its labels), a regressor's values.
        return np.asarray(self._session.run(None, onnx_inputs(frame, self.schema))[-1])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self._outputs(frame).ravel()


class OnnxClassifier(ClassifierMixin, OnnxModel):  # type: ignore[misc]  # scikit-learn is untyped
    """A classifier's ONNX export; `classes` in the order of its probability columns."""

    def __init__(self, path: Path, schema: DatasetSchema, classes: np.ndarray) -> None:
        super().__init__(path, schema)
        self.classes = classes
        self.classes_: np.ndarray = classes

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self._outputs(frame)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        labels: np.ndarray = self.classes_[self.predict_proba(frame).argmax(axis=1)]
        return labels


class OnnxRegressor(RegressorMixin, OnnxModel):  # type: ignore[misc]  # scikit-learn is untyped
    """A regressor's ONNX export."""


def served_model(paths: Paths, card: ModelCard, schema: DatasetSchema, train: pd.DataFrame) -> Any:
    """The model the API serves, to score: the ONNX export when it passed parity, else the skops pipeline.

    A classifier's probability columns follow its sorted training labels, as scikit-learn orders
    `classes_`.
    """
    if card.artifacts.onnx is None or not (paths.models / card.artifacts.onnx).is_file():
        return load_skops(paths.pipeline)
    path = paths.models / card.artifacts.onnx
    if schema.target.task == "classification":
        return OnnxClassifier(path, schema, np.unique(train[schema.target.name].to_numpy()))
    return OnnxRegressor(path, schema)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def classification_plots(
    pipeline: Any, test: pd.DataFrame, schema: DatasetSchema, paths: Paths, before: Pipeline | None = None
) -> list[Path]:
    """Confusion matrix, micro-averaged ROC and precision-recall: CSV for DVC, PNG for people.

    `before` is the served model before calibration, when training calibrated it (its reliability
    curve is drawn beside the served model's).
    """
    import matplotlib.pyplot as plt

    x, y = model_frame(test, schema), test[schema.target.name].astype(str).to_numpy()
    proba = pipeline.predict_proba(x)
    classes = [str(c) for c in pipeline.classes_]
    predicted = np.asarray(classes)[proba.argmax(axis=1)]
    onehot = np.column_stack([y == c for c in classes]).astype(int)
    _write_csv(pd.DataFrame({"actual": y, "predicted": predicted}), paths.plots / Plots.CONFUSION)
    fpr, tpr, _ = skm.roc_curve(onehot.ravel(), proba.ravel())
    _write_csv(pd.DataFrame({"fpr": fpr, "tpr": tpr}), paths.plots / Plots.ROC)
    precision, recall, _ = skm.precision_recall_curve(onehot.ravel(), proba.ravel())
    _write_csv(pd.DataFrame({"recall": recall, "precision": precision}), paths.plots / Plots.PRECISION_RECALL)

    figures = []
    fig, ax = plt.subplots(figsize=(5, 4.5))
    skm.ConfusionMatrixDisplay.from_predictions(
        y, predicted, labels=classes, ax=ax, colorbar=False, cmap="Blues"
    )
    ax.set_title("Confusion matrix (test split)")
    figures.append(paths.figures / Figures.CONFUSION)
    _save(fig, figures[-1])

    fig, ax = plt.subplots(figsize=(5, 4.5))
    for index, label in enumerate(classes):
        skm.RocCurveDisplay.from_predictions(onehot[:, index], proba[:, index], name=label, ax=ax)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set_title("ROC, one class vs rest (test split)")
    figures.append(paths.figures / Figures.ROC)
    _save(fig, figures[-1])

    fig, ax = plt.subplots(figsize=(5, 4.5))
    for index, label in enumerate(classes):
        skm.PrecisionRecallDisplay.from_predictions(onehot[:, index], proba[:, index], name=label, ax=ax)
    ax.set_title("Precision-recall (test split)")
    figures.append(paths.figures / Figures.PRECISION_RECALL)
    _save(fig, figures[-1])
    figures.append(reliability_plot(pipeline, x, y, paths, before))
    return figures


def reliability_plot(
    pipeline: Any, x: pd.DataFrame, y: np.ndarray, paths: Paths, before: Pipeline | None = None
) -> Path:
    """The reliability diagram on the test split: the served model, and `before` calibration if given.

    Each point is a confidence bin: how sure the model said it was against how often it was right.
    """
    import matplotlib.pyplot as plt

    classes = [str(c) for c in pipeline.classes_]
    curves = {"served": pipeline}
    if before is not None:
        curves = {"before calibration": before, "served (calibrated)": pipeline}
    tables = []
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
    for label, model in curves.items():
        table = reliability_table(y, model.predict_proba(x), classes)
        ax.plot(table["confidence"], table["accuracy"], marker="o", label=label)
        tables.append(table.assign(model=label))
    _write_csv(pd.concat(tables, ignore_index=True), paths.plots / Plots.RELIABILITY)
    ax.set(
        xlabel="confidence (top class probability)",
        ylabel="share of rows right",
        title="Reliability (test split)",
        xlim=(0, 1.02),
        ylim=(0, 1.02),
    )
    ax.legend(loc="lower right")
    path = paths.figures / Figures.RELIABILITY
    _save(fig, path)
    return path


def regression_plots(pipeline: Any, test: pd.DataFrame, schema: DatasetSchema, paths: Paths) -> list[Path]:
    """Predicted vs actual and residuals: CSV for DVC, PNG for people."""
    import matplotlib.pyplot as plt

    y = test[schema.target.name].to_numpy(dtype=float)
    predicted = pipeline.predict(model_frame(test, schema))
    residual = y - predicted
    _write_csv(pd.DataFrame({"actual": y, "predicted": predicted}), paths.plots / Plots.PREDICTIONS)
    _write_csv(pd.DataFrame({"predicted": predicted, "residual": residual}), paths.plots / Plots.RESIDUALS)

    figures = []
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.scatter(y, predicted, s=14, alpha=0.7)
    low, high = float(min(y.min(), predicted.min())), float(max(y.max(), predicted.max()))
    ax.plot([low, high], [low, high], linestyle="--", color="grey", linewidth=1)
    ax.set(xlabel="actual", ylabel="predicted", title="Predicted vs actual (test split)")
    figures.append(paths.figures / Figures.PREDICTED_VS_ACTUAL)
    _save(fig, figures[-1])

    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.scatter(predicted, residual, s=14, alpha=0.7)
    ax.axhline(0, linestyle="--", color="grey", linewidth=1)
    ax.set(xlabel="predicted", ylabel="actual - predicted", title="Residuals (test split)")
    figures.append(paths.figures / Figures.RESIDUALS)
    _save(fig, figures[-1])
    return figures


def importance_plot(
    pipeline: Any, test: pd.DataFrame, schema: DatasetSchema, params: Params, paths: Paths
) -> Path:
    """Permutation importance of each input column on the test split, for the primary metric.

    Large test splits are subsampled (seeded) to `evaluate.importance_max_rows` rows: the
    estimate needs hundreds of rows, not millions, and each repeat predicts them all again.
    """
    import matplotlib.pyplot as plt

    metric = params.train.primary_metric
    scoring = SCORERS[metric]
    rows = len(test)
    result = permutation_importance(
        pipeline,
        model_frame(test, schema),
        test[schema.target.name],
        scoring=scoring,
        n_repeats=params.evaluate.permutation_repeats,
        random_state=params.train.seed,
        max_samples=min(1.0, params.evaluate.importance_max_rows / rows),
    )
    names = schema.numeric + schema.categorical
    table = pd.DataFrame(
        {"feature": names, "importance": result.importances_mean, "std": result.importances_std}
    )
    table = table.sort_values("importance", ascending=False)
    _write_csv(table, paths.plots / Plots.IMPORTANCE)
    fig, ax = plt.subplots(figsize=(6, max(2.5, 0.35 * len(names) + 1)))
    ordered = table.iloc[::-1]
    ax.barh(ordered["feature"], ordered["importance"], xerr=ordered["std"], color="#4c72b0")
    ax.set(
        xlabel=f"drop in {metric} when the column is shuffled",
        title=f"Permutation importance ({min(rows, params.evaluate.importance_max_rows)} test rows)",
    )
    path = paths.figures / Figures.IMPORTANCE
    _save(fig, path)
    return path


def _first_rows(path: Path, rows: int) -> pd.DataFrame | None:
    """The first `rows` rows of the clean table, in file order (what the id-like check reads).

    Read through pyarrow's dataset, so a Spark table of many files and millions of rows costs
    only the rows it returns; None when there is no clean table (evaluating outside the pipeline).
    """
    if not path.exists():
        return None
    import pyarrow.dataset as ds

    frame: pd.DataFrame = ds.dataset(path, format="parquet").head(rows).to_pandas()
    return frame


def _without_timing(metrics: dict[str, float]) -> dict[str, float]:
    """Metrics without fit_seconds, which changes from run to run and would make every diff noisy."""
    return {k: v for k, v in metrics.items() if k != "fit_seconds"}


def run_evaluate(params: Params, paths: Paths, track: bool = True) -> dict[str, Any]:
    """The evaluate stage: writes reports/metrics.json, reports/plots/*.csv and reports/figures/*.png.

    It scores the model the API serves (models/model.onnx when the export passed its parity check,
    else models/pipeline.skops) and adds the figures to the training run in MLflow. The skops
    pipeline is loaded besides only when training calibrated the model: the reliability diagram
    also shows the model before calibration, which the ONNX export does not hold.
    """
    import matplotlib

    matplotlib.use("Agg")
    schema = DatasetSchema.model_validate(read_json(paths.features))
    card = read_model_card(paths.model_card_json)
    test = pd.read_parquet(paths.test)
    train = pd.read_parquet(paths.train)
    pipeline = served_model(paths, card, schema, train)
    before = None
    if card.calibration is not None and card.calibration.applied:
        before = uncalibrated(pipeline if isinstance(pipeline, Pipeline) else load_skops(paths.pipeline))
    clean = _first_rows(paths.clean, params.evaluate.leakage.max_rows)
    paths.figures.mkdir(parents=True, exist_ok=True)
    paths.plots.mkdir(parents=True, exist_ok=True)
    for stale in (*paths.figures.glob("*.png"), *paths.plots.glob("*.csv")):
        stale.unlink()  # a figure of the other task must not linger (outside `dvc repro`)

    with parallelism(params.train.n_jobs, len(test)):
        model_metrics = score(pipeline, test, schema)
        if schema.target.task == "classification":
            figures = classification_plots(pipeline, test, schema, paths, before)
        else:
            figures = regression_plots(pipeline, test, schema, paths)
        figures.append(importance_plot(pipeline, test, schema, params, paths))
        metric = params.train.primary_metric
        leakage = screen(
            train,
            test,
            clean,
            schema,
            metric,
            model_metrics[metric],
            card.guessing_metrics.get(metric),
            params.evaluate.leakage,
            params.train.seed,
        )
    for flag in leakage["flags"]:
        log.warning("possible leakage: `%s` %s", flag["feature"], flag["why"])

    cv = {k: v for k, v in card.metrics.items() if k.startswith("cv_")}
    metrics = {
        **model_metrics,
        **cv,
        "test_rows": len(test),
        "model": card.model_family,
        "requested_model": card.requested_family or card.model_family,
        "primary_metric": params.train.primary_metric,
        "baseline": _without_timing(card.baseline_metrics),
        "guessing": _without_timing(card.guessing_metrics),
        "candidates": {family: _without_timing(m) for family, m in card.candidates.items()},
        "selection": card.selection.model_dump(mode="json") if card.selection else None,
        "calibration": card.calibration.model_dump(mode="json") if card.calibration else None,
        "leakage": leakage,
    }
    write_json(paths.metrics, metrics)
    if track and card.mlflow.artifact_uri:
        from .registry import log_artifacts, resolve_artifact_uri

        artifact_uri = resolve_artifact_uri(card.mlflow.artifact_uri, paths.root)
        log_artifacts(artifact_uri, figures, "figures", paths)
        log_artifacts(artifact_uri, sorted(paths.plots.glob("*.csv")), "plots", paths)
    elif track:
        log.info("models/model.json names no MLflow run (trained with --no-tracking): figures not logged")
    log.info("test metrics: %s", {k: round(v, 4) for k, v in model_metrics.items()})
    return metrics
