"""train: the CNN and its baseline, the ONNX export with its parity check, MLflow and the registry.

The baseline is a logistic regression on pixels downscaled to train.baseline_size, reported beside
the CNN on the same test split. Each epoch's losses and validation score are logged to MLflow as
steps. The exported graph is registered (and becomes champion if it beats the current one on
train.primary_metric) only after the parity check passes.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Any

import numpy as np
from PIL import Image

from ..data.io import sha256_file, write_json
from ..training import registry
from .card import ImageCard, ImageInput, write_card
from .featurize import load_arrays
from .metrics import scores
from .params import ImageParams, ImagePaths

log = logging.getLogger(__name__)


def downscale(pixels: np.ndarray, size: int) -> np.ndarray:
    """(n, channels, H, W) to (n, channels * size * size), bilinear, scaled to 0..1: the baseline's input."""
    out = np.empty((len(pixels), pixels.shape[1], size, size), dtype=np.float32)
    for i, image in enumerate(pixels):
        for c, plane in enumerate(image):
            out[i, c] = np.asarray(
                Image.fromarray(plane, mode="F").resize((size, size), Image.Resampling.BILINEAR)
            )
    return out.reshape(len(pixels), -1) / 255.0


def fit_baseline(arrays: dict[str, np.ndarray], size: int, seed: int) -> dict[str, float]:
    """Logistic regression on downscaled pixels, scored on the test split."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=2000, random_state=seed)
    model.fit(downscale(arrays["x_train"], size), arrays["y_train"])
    return scores(arrays["y_test"], model.predict(downscale(arrays["x_test"], size)))


def run_train(params: ImageParams, paths: ImagePaths, track: bool = True) -> ImageCard:
    """The train stage. Writes models/model.onnx, models/model.json and reports/training.json."""
    from .cnn import fit, predict_proba
    from .export import export_checked

    arrays = load_arrays(paths)
    classes = [str(c) for c in arrays["classes"]]
    settings = params.train
    metric = settings.primary_metric
    run: Any = None
    if track:
        import mlflow

        registry.configure(paths.base, params.project)
        tags = {
            **registry.git_state(paths.root),
            "dataset": params.data.name,
            "modality": "image",
            "dvc_data_md5": registry.dvc_output_hash(paths.root, "data/processed") or "unknown",
            "training_data_sha256": sha256_file(paths.arrays),
            "template_version": registry.template_version(paths.root),
            "model_family": "cnn",
        }
        if experiment := os.environ.get("DVC_EXP_NAME"):
            tags["dvc_experiment"] = experiment
        run = mlflow.start_run(run_name=f"cnn-{datetime.now(UTC):%Y%m%d-%H%M%S}", tags=tags)
        mlflow.log_params(registry.flatten(params.model_dump(mode="json")))

    def on_epoch(epoch: int, record: dict[str, float]) -> None:
        log.info("epoch %d: %s", epoch, ", ".join(f"{k}={v:.4f}" for k, v in record.items()))
        if run is not None:
            import mlflow

            mlflow.log_metrics({f"epoch_{k}": v for k, v in record.items()}, step=epoch)

    try:
        fitted = fit(
            arrays["x_train"],
            arrays["y_train"],
            arrays["x_val"],
            arrays["y_val"],
            len(classes),
            settings,
            lambda y, p: scores(y, p)[metric],
            on_epoch,
        )
        test_metrics = scores(arrays["y_test"], predict_proba(fitted.model, arrays["x_test"]).argmax(axis=1))
        baseline = fit_baseline(arrays, settings.baseline_size, settings.seed)
        parity = export_checked(
            fitted.model,
            arrays["x_test"],
            paths.onnx,
            params.export.opset,
            params.export.batch_sizes,
            params.export.atol,
        )
        logged: dict[str, str | None] = {}
        version = None
        if run is not None:
            import mlflow
            import onnx

            mlflow.log_metrics(test_metrics | {f"baseline_{k}": v for k, v in baseline.items()})
            mlflow.log_metrics({f"parity_max_abs_diff_batch_{k}": v for k, v in parity.max_abs_diff.items()})
            info = mlflow.onnx.log_model(
                onnx.load(str(paths.onnx)), name="model", pip_requirements=["onnxruntime", "numpy"]
            )
            promotion = registry.register_and_promote(
                info.model_uri, params.project, metric, test_metrics[metric]
            )
            log.info("champion: %s (MLflow run %s)", promotion.describe(), run.info.run_id)
            version = promotion.version
            logged = {"run_id": run.info.run_id, "model_uri": info.model_uri, "decision": promotion.decision}
    finally:
        if run is not None:
            import mlflow

            mlflow.end_run()

    card = ImageCard(
        name=params.project,
        version=version,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        classes=classes,
        input=ImageInput(
            size=params.image.size,
            channels=params.image.channels,
            mode="L" if params.image.channels == 1 else "RGB",
        ),
        max_pixels=params.clean.max_pixels,
        primary_metric=metric,
        metrics=test_metrics,
        baseline_metrics=baseline,
        training={
            "epochs_run": len(fitted.history),
            "best_epoch": fitted.best_epoch,
            "seconds_per_epoch": round(fitted.seconds_per_epoch, 4),
            "device": fitted.device,
            "final_val_loss": fitted.history[fitted.best_epoch - 1]["val_loss"],
        },
        history=fitted.history,
        parity={str(k): v for k, v in parity.max_abs_diff.items()},
        data={name: len(arrays[f"y_{name}"]) for name in ("train", "val", "test")},
        mlflow=logged,
    )
    write_card(paths.model_card, card)
    write_json(
        paths.training_results,
        {
            "model": "cnn",
            "baseline": "logistic_regression_pixels",
            "results": {"model": test_metrics, "baseline": baseline},
            "training": card.training,
            "parity": card.parity,
            "mlflow": logged,
        },
    )
    return card
