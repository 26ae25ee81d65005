"""Export the fitted pipeline for serving, in formats that never unpickle code at load time.

- `models/pipeline.skops`: always written; skops loads only the types `model_io.trusted_types()` lists.
- `models/model.onnx`: written when skl2onnx converts the whole pipeline and the ONNX model agrees
  with scikit-learn on the test split (the parity check). The API prefers it: no pandas, no
  sklearn, and a single-row prediction in microseconds.

A neural network family (one whose estimator has `network_onnx()`, such as the PyTorch MLP) is
exported by training/network_export.py, rendered only into projects that have one: its
preprocessing and network are merged into one graph with the same inputs and outputs as every
other model.onnx, and a failed parity check fails the stage (serving never imports torch).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ..artifacts import ExportedArtifacts, ParityCheck
from ..config import ONNX_FILE, SKOPS_FILE, ExportParams
from ..data.io import atomic_path
from ..data.schema import DatasetSchema
from ..features import model_frame
from ..model_io import trusted_types

log = logging.getLogger(__name__)


@runtime_checkable
class NetworkEstimator(Protocol):
    """A fitted estimator that exports its own network, softmax or de-standardising head included."""

    def network_onnx(self) -> Any: ...


@dataclass(frozen=True)
class Parity:
    """How closely the ONNX model reproduces scikit-learn on the test split."""

    passed: bool
    label_agreement: float | None = None
    max_abs_diff: float | None = None
    detail: str = ""


def save_skops(pipeline: Pipeline, path: Path) -> None:
    """Save with skops and refuse to ship a file that needs types outside trusted_types()."""
    import skops.io as sio

    data = sio.dumps(pipeline)
    untrusted = sorted(set(sio.get_untrusted_types(data=data)) - set(trusted_types()))
    if untrusted:
        raise RuntimeError(
            f"the pipeline contains types skops does not trust: {untrusted}; check that they are "
            "plain data (not code) and list them in the trusted_types of the model's family "
            "(its module in the families package)."
        )
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def onnx_inputs(frame: pd.DataFrame, schema: DatasetSchema) -> dict[str, np.ndarray]:
    """One (n, 1) tensor per column: float32 for numbers, strings for categories."""
    model_input = model_frame(frame, schema)
    feed: dict[str, np.ndarray] = {}
    for name in schema.numeric:
        feed[name] = model_input[name].to_numpy(dtype=np.float32).reshape(-1, 1)
    for name in schema.categorical:
        feed[name] = model_input[name].to_numpy(dtype=object).reshape(-1, 1)
    return feed


def convert_to_onnx(pipeline: Pipeline, schema: DatasetSchema) -> bytes:
    """The whole pipeline as ONNX bytes; raises if skl2onnx cannot convert a step.

    A network's pipeline is converted by convert_network_to_onnx (skl2onnx knows no torch model).
    """
    if network_of(pipeline) is not None:
        convert: Callable[[Pipeline, DatasetSchema], bytes] = _network_export().convert_network_to_onnx
        return convert(pipeline, schema)
    from skl2onnx import convert_sklearn

    no_zipmap = {"zipmap": False}
    options = {id(pipeline): no_zipmap} if schema.target.task == "classification" else None
    onnx_model = convert_sklearn(pipeline, initial_types=initial_types(schema), options=options)
    serialized: bytes = onnx_model.SerializeToString()
    return serialized


def check_parity(
    onnx_bytes: bytes,
    pipeline: Pipeline,
    test: pd.DataFrame,
    schema: DatasetSchema,
    params: ExportParams,
) -> Parity:
    """Compare ONNX Runtime against scikit-learn on the test split (a network: check_network_parity)."""
    if network_of(pipeline) is not None:
        check: Callable[..., Parity] = _network_export().check_network_parity
        return check(onnx_bytes, pipeline, test, schema, params)
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    outputs = session.run(None, onnx_inputs(test, schema))
    x = model_frame(test, schema)
    if schema.target.task == "classification":
        proba = pipeline.predict_proba(x)
        expected = np.asarray(pipeline.classes_)[proba.argmax(axis=1)].astype(str)
        labels = np.asarray(outputs[0]).ravel().astype(str)
        agreement = float(np.mean(labels == expected))
        proba_diff = float(np.max(np.abs(outputs[1] - proba)))
        passed = agreement >= params.label_agreement and proba_diff <= params.proba_atol
        detail = f"labels agree on {100 * agreement:.1f}% of test rows, max probability difference {proba_diff:.2g}"
        return Parity(passed, agreement, proba_diff, detail)
    expected = pipeline.predict(x)
    predicted = np.asarray(outputs[0]).ravel()
    scale = max(float(np.std(expected)), 1e-9)
    diff = float(np.max(np.abs(predicted - expected)))
    passed = diff <= params.regression_rtol * scale
    return Parity(passed, None, diff, f"max prediction difference {diff:.3g} (target std {scale:.3g})")


def _network_export() -> ModuleType:
    """training/network_export.py, rendered only into projects with a network family.

    Imported by name, on first use: a project without one has no such module, and torch's exporter
    and onnx take seconds to import.
    """
    return importlib.import_module(f"{__package__}.network_export")


def network_of(pipeline: Pipeline) -> NetworkEstimator | None:
    """The pipeline's network estimator (calibrated or not), or None for a scikit-learn model."""
    model = pipeline.named_steps["model"]
    for candidate in (model, getattr(model, "estimator", None)):
        if isinstance(candidate, NetworkEstimator):
            return candidate
    return None


def initial_types(schema: DatasetSchema) -> list[tuple[str, Any]]:
    """skl2onnx's input declaration: one (n, 1) tensor per column, as onnx_inputs() feeds them."""
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    initial_types: list[tuple[str, Any]] = [(name, FloatTensorType([None, 1])) for name in schema.numeric]
    return initial_types + [(name, StringTensorType([None, 1])) for name in schema.categorical]


def export(
    pipeline: Pipeline,
    test: pd.DataFrame,
    schema: DatasetSchema,
    params: ExportParams,
    models_dir: Path,
) -> ExportedArtifacts:
    """Write pipeline.skops and, when it converts and passes parity, model.onnx; say which is served.

    A model.onnx left by an earlier model is removed first: serving prefers ONNX, so a stale
    file would serve the wrong model.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    (models_dir / ONNX_FILE).unlink(missing_ok=True)
    save_skops(pipeline, models_dir / SKOPS_FILE)
    if network_of(pipeline) is not None:
        export_network: Callable[..., ExportedArtifacts] = _network_export().export_network
        return export_network(pipeline, test, schema, params, models_dir)
    if not params.onnx:
        return skops_only("ONNX export switched off in params.yaml (export.onnx)")
    try:
        onnx_bytes = convert_to_onnx(pipeline, schema)
    except Exception as exc:  # noqa: BLE001 (skl2onnx raises many types for unsupported models)
        first_line = (str(exc).strip().splitlines() or [""])[0]
        reason = f"{type(exc).__name__}: {first_line[:120]}"
        log.warning("ONNX conversion failed (%s); serving will use the skops pipeline", reason)
        return skops_only(f"conversion failed ({reason}); serving uses {SKOPS_FILE}")
    parity = check_parity(onnx_bytes, pipeline, test, schema, params)
    check = ParityCheck(
        passed=parity.passed,
        label_agreement=parity.label_agreement,
        max_abs_diff=parity.max_abs_diff,
        test_rows=len(test),
    )
    if not parity.passed:
        log.warning("ONNX parity check failed (%s); serving will use the skops pipeline", parity.detail)
        return skops_only(parity.detail, check)
    with atomic_path(models_dir / ONNX_FILE) as tmp:
        tmp.write_bytes(onnx_bytes)
    log.info("ONNX export passed the parity check: %s", parity.detail)
    return ExportedArtifacts(
        skops=SKOPS_FILE, onnx=ONNX_FILE, backend="onnx", parity=parity.detail, parity_check=check
    )


def skops_only(why: str, check: ParityCheck | None = None) -> ExportedArtifacts:
    """The export when serving falls back to the skops pipeline, and why it does."""
    return ExportedArtifacts(skops=SKOPS_FILE, backend="skops", parity=why, parity_check=check)
