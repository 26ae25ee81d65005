"""`monitor [INPUT]`: check a window of rows against the training reference and write the report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..config import Params, Paths, Settings
from ..data.io import DataError
from .drift import DriftResult, detect
from .reference import read_reference
from .report import write_report
from .window import Window, read_file, read_log


def _predictions(window: Window, model_dir: Path) -> pd.Series:
    """The served model's predictions for the window's rows that pass the API's validation."""
    from ..scoring import ChunkValidator, load_model

    card, predictor, _ = load_model(model_dir, None, None)
    rows, _, _ = ChunkValidator(card).split(window.frame.reset_index(drop=True))
    labels = predictor.predict(rows)[0] if rows else []
    return pd.Series(labels, name="prediction")


def run_monitor(
    params: Params, paths: Paths, source: Path | None, settings: Settings | None = None
) -> DriftResult:
    """Check INPUT (or, without it, the latest `monitor.window_rows` of the prediction log)."""
    reference = read_reference(paths.reference)
    features = list(reference.features)
    if source is not None:
        window = read_file(source, features)
    else:
        settings = settings or Settings()
        window = read_log(settings.prediction_log_dir or paths.logs, params.monitor.window_rows, features)
    rows = len(window.frame)
    if rows < params.monitor.min_rows:
        raise DataError(
            f"{window.source} has {rows} rows; drift needs at least monitor.min_rows = "
            f"{params.monitor.min_rows} to say anything (a smaller window is mostly noise)"
        )
    predictions = window.predictions
    if predictions is None:
        predictions = _predictions(window, paths.models)
    result = detect(reference, window.frame, predictions, params.monitor)
    result = result.model_copy(update={"skipped": {**result.skipped, **window.skipped}})
    write_report(
        result,
        window.source,
        {"name": reference.model, "version": reference.version},
        paths.monitoring_json,
        paths.monitoring_md,
        paths.monitoring_figures,
    )
    return result
