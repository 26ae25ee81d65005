"""The rows `monitor` checks: a CSV or Parquet file of feature rows, or the latest prediction log rows."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..data.io import NA_VALUES, DataError

log = logging.getLogger(__name__)

LOG_GLOB = "predictions-*.jsonl"  # the files serving/predlog.py writes; their names sort by time
PREDICTION_COLUMN = "prediction"


@dataclass(frozen=True)
class Window:
    """The rows to check, their predictions when known, and where they came from (for the report)."""

    frame: pd.DataFrame
    predictions: pd.Series | None
    source: str
    skipped: dict[str, str]


def read_file(path: Path, features: list[str]) -> Window:
    """Feature rows from a CSV or Parquet file; every feature must be a column (extra ones are ignored)."""
    if not path.is_file():
        raise DataError(f"{path} not found: pass a CSV or Parquet file of feature rows")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, na_values=NA_VALUES, keep_default_na=False, low_memory=False)
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            raise DataError(
                f"{path}: monitor reads .csv or .parquet files, not {suffix or 'a file without suffix'}"
            )
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty: it needs a header row and at least one row of features") from None
    except (ValueError, OSError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path} could not be read as {suffix[1:]}: {exc}") from exc
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise DataError(
            f"{path} lacks the feature column(s) {', '.join(missing)}; the model's features are: "
            f"{', '.join(features)}"
        )
    predictions = frame[PREDICTION_COLUMN] if PREDICTION_COLUMN in frame.columns else None
    return Window(frame[features], predictions, str(path), {})


def read_log(folder: Path, rows: int, features: list[str]) -> Window:
    """The latest `rows` instances of the prediction log in `folder` (one line per request)."""
    files = sorted(folder.glob(LOG_GLOB))
    if not files:
        raise DataError(
            f"no prediction log in {folder}: serve with PREDICTION_LOG=true to write one, or pass a "
            "CSV or Parquet file of feature rows: monitor INPUT"
        )
    inputs: list[dict[str, Any]] = []
    predictions: list[Any] = []
    dropped: set[str] = set()
    for path in reversed(files):  # newest first, until the window is full
        file_inputs: list[dict[str, Any]] = []
        file_predictions: list[Any] = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                # A line cut short by a crash while writing: skip it, keep the rest.
                log.warning("%s line %d is not complete JSON; skipped", path, number)
                continue
            file_inputs += record["inputs"]
            file_predictions += record["predictions"]
            dropped.update(record.get("dropped", ()))
        inputs[:0], predictions[:0] = file_inputs, file_predictions
        if len(inputs) >= rows:
            break
    inputs, predictions = inputs[-rows:], predictions[-rows:]
    frame = pd.DataFrame.from_records(inputs)
    # A feature PREDICTION_LOG_DROP kept out of the log is not checked, rather than counted as missing;
    # one a client left out (a nullable feature: the log keeps the body as sent) is missing.
    skipped = {name: "dropped from the prediction log" for name in features if name in dropped}
    present = [name for name in features if name not in dropped]
    source = f"the latest {len(inputs)} rows of the prediction log ({folder})"
    window_predictions = pd.Series(predictions, name=PREDICTION_COLUMN)
    return Window(frame.reindex(columns=present), window_predictions, source, skipped)
