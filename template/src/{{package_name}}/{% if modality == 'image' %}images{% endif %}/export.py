"""ONNX export of the trained CNN, and the parity check that gates registration.

The graph is opset 18 from the dynamo exporter (it needs onnxscript), one file with the weights
inside (no external-data sidecar), a dynamic batch dimension, input `pixels` (float32, raw 0..255)
and output `probabilities`. Parity: ONNX Runtime must agree with torch on the test split at every
batch size in export.batch_sizes within export.atol, or the stage fails with the figures and
nothing is registered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.io import DataError, atomic_path
from .cnn import Probabilities, SmallCNN, predict_proba

log = logging.getLogger(__name__)

INPUT = "pixels"
OUTPUT = "probabilities"


class ParityError(DataError):
    """ONNX Runtime disagrees with torch beyond the tolerance: the export must not be served."""


@dataclass(frozen=True)
class Parity:
    """The largest difference between torch and ONNX Runtime, per batch size."""

    max_abs_diff: dict[int, float]
    atol: float

    @property
    def worst(self) -> float:
        return max(self.max_abs_diff.values())

    @property
    def passed(self) -> bool:
        return self.worst <= self.atol

    def describe(self) -> str:
        figures = ", ".join(f"batch {size}: {diff:.2e}" for size, diff in self.max_abs_diff.items())
        return f"max |torch - onnxruntime| {figures} (tolerance {self.atol:.0e})"


def export_onnx(model: SmallCNN, example: np.ndarray, target: Path, opset: int) -> Path:
    """Write the model (softmax included) to `target` as one self-contained ONNX file, atomically."""
    import torch
    from torch.export import Dim

    wrapped = Probabilities(model).eval()
    sample = torch.from_numpy(example[:2])
    program = torch.onnx.export(
        wrapped,
        (sample,),
        dynamo=True,
        opset_version=opset,
        input_names=[INPUT],
        output_names=[OUTPUT],
        dynamic_shapes=({0: Dim("batch", min=1, max=65536)},),
        optimize=True,
        verbose=False,
    )
    if program is None:
        raise RuntimeError(
            "torch.onnx.export returned no program; the dynamo exporter is needed (torch>=2.6)"
        )
    with atomic_path(target) as tmp:
        program.save(tmp, external_data=False)
    return target


def check_parity(
    model: SmallCNN, onnx_file: Path, pixels: np.ndarray, batch_sizes: list[int], atol: float
) -> Parity:
    """Compare torch and ONNX Runtime on `pixels`, cut into batches of each size (the last may be short)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    expected = predict_proba(model, pixels)
    diffs: dict[int, float] = {}
    for size in batch_sizes:
        worst = 0.0
        for start in range(0, len(pixels), size):
            got = session.run([OUTPUT], {INPUT: pixels[start : start + size]})[0]
            worst = max(worst, float(np.abs(got - expected[start : start + size]).max()))
        diffs[size] = worst
    return Parity(diffs, atol)


def export_checked(
    model: SmallCNN, pixels: np.ndarray, target: Path, opset: int, batch_sizes: list[int], atol: float
) -> Parity:
    """Export, then check parity on `pixels`; a failed check deletes the file and raises ParityError."""
    export_onnx(model, pixels, target, opset)
    parity = check_parity(model, target, pixels, batch_sizes, atol)
    if not parity.passed:
        target.unlink(missing_ok=True)
        raise ParityError(
            f"the ONNX export does not match torch: {parity.describe()}; nothing was registered. "
            "Check the model for layers the exporter changes, or raise export.atol if the difference is harmless."
        )
    log.info("ONNX parity: %s", parity.describe())
    return parity
