"""Load the exported model once and predict from plain rows.

Backends, in order of preference:
- `onnx`: `models/model.onnx` in ONNX Runtime. No pandas and no scikit-learn at serve time.
- `skops`: `models/pipeline.skops`, when the model did not convert to ONNX (needs the `sklearn`
  extra: scikit-learn, skops, pandas).
- `mlflow`: `MODEL_URI=models:/<name>@champion`, loaded from the MLflow registry (needs the
  `registry` extra). The request schema still comes from `model.json` in MODEL_PATH, so keep
  that file from the same training run.

Every backend is fed the columns `model.json` lists under `inputs`: the numbers, then the
categories, exactly as training exported them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..artifacts import ModelCard, ModelInputs, read_model_card
from ..config import MODEL_CARD_FILE, ONNX_FILE, SKOPS_FILE

SINGLE_THREAD = 1  # one thread per worker: oversubscription costs far more than it gains
# Up to this many rows, an ONNX prediction takes less time than handing it to a worker thread.
ONNX_INLINE_ROWS = 64


class ModelNotFoundError(RuntimeError):
    """The model files are missing; the message says how to create them."""


class Predictor(Protocol):
    backend: str
    inline_rows: int  # batches up to this size run on the event loop; larger ones in a thread

    def predict(self, rows: list[dict[str, Any]]) -> tuple[list[Any], np.ndarray | None]: ...


def _numeric(value: Any) -> float:
    if value is None:
        return math.nan
    return float(value)


@dataclass
class OnnxPredictor:
    """ONNX Runtime session with one (n, 1) input tensor per column."""

    session: Any
    numeric: list[str]
    categorical: list[str]
    backend: str = "onnx"
    inline_rows: int = ONNX_INLINE_ROWS

    @classmethod
    def load(cls, path: Path, inputs: ModelInputs) -> OnnxPredictor:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = SINGLE_THREAD
        options.inter_op_num_threads = SINGLE_THREAD
        session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        return cls(session, inputs.numeric, inputs.categorical)

    def predict(self, rows: list[dict[str, Any]]) -> tuple[list[Any], np.ndarray | None]:
        feed: dict[str, np.ndarray] = {}
        for name in self.numeric:
            feed[name] = np.array([[_numeric(row.get(name))] for row in rows], dtype=np.float32)
        for name in self.categorical:
            feed[name] = np.array([[row.get(name) or ""] for row in rows], dtype=object)
        outputs = self.session.run(None, feed)
        predictions = np.asarray(outputs[0]).ravel().tolist()
        probabilities = np.asarray(outputs[1]) if len(outputs) > 1 else None
        return predictions, probabilities


@dataclass
class FramePredictor:
    """A scikit-learn pipeline (from skops) or an MLflow pyfunc model, fed a pandas DataFrame."""

    model: Any
    numeric: list[str]
    categorical: list[str]
    backend: str
    inline_rows: int = 0  # milliseconds per call: always in a worker thread, under the timeout

    def _frame(self, rows: list[dict[str, Any]]) -> Any:
        import pandas as pd

        columns: dict[str, Any] = {n: [_numeric(r.get(n)) for r in rows] for n in self.numeric}
        columns.update({n: [r.get(n) or "" for r in rows] for n in self.categorical})
        return pd.DataFrame(columns)[self.numeric + self.categorical]

    def predict(self, rows: list[dict[str, Any]]) -> tuple[list[Any], np.ndarray | None]:
        from threadpoolctl import threadpool_limits

        frame = self._frame(rows)
        with threadpool_limits(SINGLE_THREAD):
            predictions = np.asarray(self.model.predict(frame)).ravel().tolist()
            probabilities = self.model.predict_proba(frame) if hasattr(self.model, "predict_proba") else None
        return predictions, probabilities


def read_card(model_dir: Path) -> ModelCard:
    """models/model.json, validated once, with a hint when the pipeline has not run yet."""
    path = model_dir / MODEL_CARD_FILE
    if not path.is_file():
        raise ModelNotFoundError(
            f"{path} not found: train a model first ('make pipeline'), or set MODEL_PATH to the "
            f"folder that holds {MODEL_CARD_FILE} and {ONNX_FILE} / {SKOPS_FILE}."
        )
    return read_model_card(path)


def load_predictor(
    model_dir: Path, card: ModelCard, model_uri: str | None = None, tracking_uri: str | None = None
) -> Predictor:
    """The fastest backend available for the model in `model_dir` (or the registry's `model_uri`)."""
    numeric, categorical = card.inputs.numeric, card.inputs.categorical
    if model_uri:
        return FramePredictor(_load_from_registry(model_uri, tracking_uri), numeric, categorical, "mlflow")
    onnx_path = model_dir / ONNX_FILE
    if onnx_path.is_file():
        return OnnxPredictor.load(onnx_path, card.inputs)
    skops_path = model_dir / SKOPS_FILE
    if skops_path.is_file():
        try:
            from ..model_io import load_skops

            return FramePredictor(load_skops(skops_path), numeric, categorical, "skops")
        except ImportError as exc:
            raise ModelNotFoundError(
                "this model has no ONNX export, and serving its skops pipeline needs scikit-learn: "
                "install the 'sklearn' extra (uv sync --extra sklearn)."
            ) from exc
    raise ModelNotFoundError(f"neither {ONNX_FILE} nor {SKOPS_FILE} is in {model_dir}; run 'make pipeline'.")


def _load_from_registry(model_uri: str, tracking_uri: str | None) -> Any:
    """The scikit-learn pipeline behind an MLflow URI such as `models:/<name>@champion`."""
    try:
        import mlflow
        import mlflow.sklearn
    except ImportError as exc:
        raise ModelNotFoundError(
            f"MODEL_URI={model_uri} loads the model through MLflow, which is not installed here: "
            "install the 'registry' extra (uv sync --extra registry), or unset MODEL_URI to serve "
            "the exported model in MODEL_PATH."
        ) from exc
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    return mlflow.sklearn.load_model(model_uri)
