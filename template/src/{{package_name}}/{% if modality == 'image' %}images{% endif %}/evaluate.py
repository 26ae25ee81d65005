"""evaluate: score the served graph (ONNX Runtime, not torch) on the test split.

Writes reports/metrics.json (overall and per class), reports/plots/confusion.csv (for `dvc plots`),
reports/figures/confusion_matrix.png and a gallery of misclassified test images
(reports/figures/misclassified/*.png, enlarged so that REPORT.md shows them legibly).
"""

from __future__ import annotations

import csv
import logging
from typing import Any

import numpy as np
from PIL import Image

from ..data.io import atomic_path, write_json
from .card import read_card
from .clean import read_index
from .featurize import load_arrays
from .metrics import scores
from .params import ImageParams, ImagePaths

log = logging.getLogger(__name__)

GALLERY_PIXELS = 64  # shortest side of a gallery thumbnail


def onnx_probabilities(paths: ImagePaths, pixels: np.ndarray) -> np.ndarray:
    """The exported model's probabilities for `pixels`, as the API computes them."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(paths.onnx), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: pixels})[0])


def per_class(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, f1 and support of each class."""
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=list(range(len(classes))), zero_division=0
    )
    return {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    }


def plot_confusion(matrix: np.ndarray, classes: list[str], target: Any) -> None:
    """The confusion matrix as a PNG (counts in each cell)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    side = max(4.0, 0.45 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(side, side))
    ax.imshow(matrix, cmap="Blues")
    ax.set(xticks=range(len(classes)), yticks=range(len(classes)), xlabel="predicted", ylabel="actual")
    ax.set_xticklabels(classes, rotation=90)
    ax.set_yticklabels(classes)
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            str(count),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if count > matrix.max() / 2 else "black",
        )
    ax.set_title("Confusion matrix (test split)")
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def write_gallery(paths: ImagePaths, mistakes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Save each misclassified image, enlarged, under reports/figures/misclassified/; return the entries."""
    paths.gallery.mkdir(parents=True, exist_ok=True)
    for number, mistake in enumerate(mistakes):
        with Image.open(paths.raw_images / mistake["path"]) as image:
            scale = max(1, GALLERY_PIXELS // max(1, min(image.size)))
            thumb = image.convert("RGB").resize(
                (image.width * scale, image.height * scale), Image.Resampling.NEAREST
            )
        name = f"{number:02d}.png"
        thumb.save(paths.gallery / name)
        mistake["thumbnail"] = f"figures/misclassified/{name}"
    return mistakes


def run_evaluate(params: ImageParams, paths: ImagePaths) -> dict[str, Any]:
    """Score the ONNX model on the test split; write metrics, the confusion matrix and the gallery."""
    from sklearn.metrics import confusion_matrix

    card = read_card(paths.model_card)
    arrays = load_arrays(paths)
    classes = card.classes
    proba = onnx_probabilities(paths, arrays["x_test"])
    y_true, y_pred = arrays["y_test"], proba.argmax(axis=1)
    matrix = confusion_matrix(y_true, y_pred, labels=list(range(len(classes))))
    test_rows = [row for row in read_index(paths.split) if row["split"] == "test"]
    mistakes = [
        {"path": row["path"], "actual": classes[t], "predicted": classes[p], "confidence": float(proba[i, p])}
        for i, (row, t, p) in enumerate(zip(test_rows, y_true, y_pred, strict=True))
        if t != p
    ]
    mistakes.sort(key=lambda m: -m["confidence"])
    gallery = write_gallery(paths, mistakes[: params.evaluate.gallery_max])
    plot_confusion(matrix, classes, paths.figures / "confusion_matrix.png")
    paths.plots.mkdir(parents=True, exist_ok=True)
    with (
        atomic_path(paths.plots / "confusion.csv") as tmp,
        tmp.open("w", newline="", encoding="utf-8") as handle,
    ):
        writer = csv.writer(handle)
        writer.writerow(["actual", "predicted"])
        writer.writerows([classes[t], classes[p]] for t, p in zip(y_true, y_pred, strict=True))
    metrics = {
        **scores(y_true, y_pred),
        "baseline": card.baseline_metrics,
        "per_class": per_class(y_true, y_pred, classes),
        "confusion_matrix": {"labels": classes, "counts": matrix.tolist()},
        "misclassified": {"count": len(mistakes), "shown": gallery},
        "test_images": len(y_true),
    }
    write_json(paths.metrics, metrics)
    log.info(
        "test: accuracy %.4f, f1_macro %.4f, %d misclassified",
        metrics["accuracy"],
        metrics["f1_macro"],
        len(mistakes),
    )
    return metrics
