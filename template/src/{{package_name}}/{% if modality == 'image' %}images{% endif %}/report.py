"""report: REPORT.md, MODEL_CARD.md and the README's results block, written from the outputs.

Every figure in them is read from reports/ and models/model.json, never typed by hand, so the
documents cannot drift from the model that is served.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.io import atomic_path, read_json
from ..reporting.markers import RESULTS_BLOCK, RESULTS_END, RESULTS_START
from .card import ImageCard, read_card
from .params import ImageParams, ImagePaths


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def results_lines(card: ImageCard, metrics: dict[str, Any]) -> list[str]:
    """The results table: the CNN against the baseline on the test split."""
    rows = [
        ["CNN (served, ONNX)", f"{metrics['accuracy']:.4f}", f"{metrics['f1_macro']:.4f}"],
        [
            "Logistic regression on downscaled pixels",
            f"{card.baseline_metrics['accuracy']:.4f}",
            f"{card.baseline_metrics['f1_macro']:.4f}",
        ],
    ]
    return _table(["model", "accuracy", "f1_macro"], rows)


def report_text(
    card: ImageCard, metrics: dict[str, Any], quality: dict[str, Any], raw: dict[str, Any]
) -> str:
    """REPORT.md."""
    lines = [
        f"# {card.name}: report",
        "",
        f"Model trained {card.trained_at} on {raw.get('source')} data "
        f"({raw.get('files')} files, {len(card.classes)} classes).",
        "",
        "## Data",
        "",
    ]
    lines += _table(
        ["images in", "clean", "quarantined", "reasons"],
        [
            [
                quality["rows_in"],
                quality["rows_clean"],
                quality["rows_quarantined"],
                ", ".join(f"{k}: {v}" for k, v in quality["quarantine_reasons"].items()) or "none",
            ]
        ],
    )
    lines += ["", f"Split (seeded, stratified): {card.data}.", "", "## Results (test split)", ""]
    lines += results_lines(card, metrics)
    lines += ["", "### Per class", ""]
    lines += _table(
        ["class", "precision", "recall", "f1", "support"],
        [
            [name, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", m["support"]]
            for name, m in metrics["per_class"].items()
        ],
    )
    lines += ["", "![Confusion matrix](figures/confusion_matrix.png)", "", "## Misclassified test images", ""]
    shown = metrics["misclassified"]["shown"]
    if shown:
        lines += [
            f"{metrics['misclassified']['count']} of {metrics['test_images']} test images are misclassified; "
            f"the {len(shown)} most confident mistakes:",
            "",
        ]
        lines += _table(
            ["image", "actual", "predicted", "confidence"],
            [
                [f"![{m['path']}]({m['thumbnail']})", m["actual"], m["predicted"], f"{m['confidence']:.2f}"]
                for m in shown
            ],
        )
    else:
        lines.append("None: every test image is classified correctly.")
    training = card.training
    lines += [
        "",
        "## Training",
        "",
        f"{training['epochs_run']} epochs on {training['device']} ({training['seconds_per_epoch']} s each), "
        f"best validation loss at epoch {training['best_epoch']} (those weights are kept). "
        f"ONNX parity, max |torch - onnxruntime| by batch size: {card.parity}.",
        "",
    ]
    return "\n".join(lines)


def card_text(card: ImageCard, metrics: dict[str, Any]) -> str:
    """MODEL_CARD.md."""
    lines = [
        f"# Model card: {card.name}",
        "",
        f"- Version: {card.version or 'not registered (trained with --no-tracking)'}",
        f"- Trained: {card.trained_at}",
        "- Model: a small CNN (two convolution blocks) in PyTorch, served from its ONNX export",
        f"- Input: one image, resized to {card.input.size}x{card.input.size} {card.input.mode}",
        f"- Classes: {', '.join(card.classes)}",
        f"- Test {card.primary_metric}: {metrics[card.primary_metric]:.4f} "
        f"(baseline {card.baseline_metrics[card.primary_metric]:.4f})",
        "",
        "## Limits",
        "",
        "It knows only the classes above and answers with one of them for any image, even one of "
        "something else: check the probabilities before trusting an answer.",
        "",
    ]
    return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def run_report(params: ImageParams, paths: ImagePaths) -> list[Path]:
    """Write reports/REPORT.md and MODEL_CARD.md and refresh the README's results block."""
    card = read_card(paths.model_card)
    metrics = read_json(paths.metrics)
    quality = read_json(paths.data_quality)
    raw = read_json(paths.raw_metadata)
    written = [paths.reports / "REPORT.md", paths.reports / "MODEL_CARD.md"]
    _write(written[0], report_text(card, metrics, quality, raw))
    _write(written[1], card_text(card, metrics))
    if paths.readme.is_file():
        text = paths.readme.read_text(encoding="utf-8")
        block = "\n".join([RESULTS_START, "", *results_lines(card, metrics), "", RESULTS_END])
        if RESULTS_BLOCK.search(text):
            _write(paths.readme, RESULTS_BLOCK.sub(lambda _: block, text))
            written.append(paths.readme)
    return written
