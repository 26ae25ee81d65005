"""Batch scoring: `predict INPUT OUTPUT` scores a CSV or Parquet file, chunk by chunk, with the served model.

Each chunk is validated against the same per-row model the API builds from `models/model.json`
(serving/schemas.py), so a row the API would refuse is refused here too: it goes to the rejects
file beside OUTPUT (`<name>.rejects.csv`) with its reason, and OUTPUT holds the scored rows only,
so that rows in = scored + rejected. The model is loaded by the API's own loader
(serving/artifact.py): the ONNX export in models/, or the registry's model with `--model-uri`.
Only one chunk is in memory at a time, so a file larger than memory works; both outputs are
written to temporary files and renamed at the end, so a failed run leaves no half-written file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import TypeAdapter, ValidationError

from .artifacts import ModelCard
from .data.io import NA_VALUES, DataError, atomic_path
from .serving.artifact import Predictor, load_predictor, read_card
from .serving.schemas import build_instance_model

log = logging.getLogger(__name__)

DEFAULT_CHUNK_ROWS = 10_000
ROW_COLUMN = "row"  # the input row's position in INPUT (0 = the first data row)
REASON_COLUMN = "reason"
FORMATS = (".csv", ".parquet", ".pq")


@dataclass(frozen=True)
class ScoreSummary:
    """What a batch run did: rows_in = scored + rejected."""

    rows_in: int
    scored: int
    rejected: int
    output: Path
    rejects: Path
    model: str
    version: str | None
    seconds: float

    def describe(self) -> str:
        rate = self.rows_in / self.seconds if self.seconds else 0.0
        return (
            f"{self.rows_in} rows in: {self.scored} scored into {self.output}, {self.rejected} rejected "
            f"into {self.rejects} ({rate:,.0f} rows/s)"
        )


def rejects_path(output: Path) -> Path:
    """Where the rejects of OUTPUT go: beside it, `<stem>.rejects.csv`."""
    return output.with_name(f"{output.stem}.rejects.csv")


def _format(path: Path, role: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DataError(f"{role} {path} must end in .csv or .parquet (got '{suffix or 'no suffix'}')")
    return "csv" if suffix == ".csv" else "parquet"


def input_columns(path: Path) -> list[str]:
    """The column names of INPUT, read from its header (CSV) or its schema (Parquet)."""
    if not path.is_file():
        raise DataError(f"{path} not found: pass the CSV or Parquet file of rows to score")
    if _format(path, "INPUT") == "csv":
        try:
            return [str(c) for c in pd.read_csv(path, nrows=0).columns]
        except pd.errors.EmptyDataError:
            raise DataError(
                f"{path} is empty: it needs a header row naming the features, then rows"
            ) from None
    import pyarrow.parquet as pq

    return list(pq.ParquetFile(path).schema_arrow.names)


def iter_chunks(path: Path, columns: list[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """INPUT's `columns`, `chunk_rows` rows at a time (CSV values as text: validation types them)."""
    if _format(path, "INPUT") == "csv":
        reader = pd.read_csv(
            path,
            usecols=columns,
            dtype=str,
            na_values=NA_VALUES,
            keep_default_na=False,
            chunksize=chunk_rows,
        )
        with reader:
            yield from reader
        return
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows, columns=columns):
        yield batch.to_pandas()


def count_rows(path: Path) -> int | None:
    """INPUT's row count when it is cheap to know (Parquet metadata), for the progress bar."""
    if _format(path, "INPUT") == "csv":
        return None
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


class ChunkValidator:
    """Validates rows with the API's per-instance model; splits a chunk into valid rows and rejects."""

    def __init__(self, card: ModelCard) -> None:
        self.features = [c.name for c in card.features]
        # list[<the generated model>]: a type built at run time, which a type checker cannot see.
        rows_type: Any = list.__class_getitem__(build_instance_model(card.features, card.example))
        self.adapter: TypeAdapter[list[Any]] = TypeAdapter(rows_type)

    def split(self, chunk: pd.DataFrame) -> tuple[list[dict[str, Any]], np.ndarray, dict[int, str]]:
        """The valid rows (typed, as the API passes them to the model), their positions, the rejects."""
        records = chunk[self.features].astype(object).where(chunk[self.features].notna(), None)
        rows = records.to_dict("records")
        reasons: dict[int, list[str]] = {}
        try:
            valid = self.adapter.validate_python(rows)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                index, *field = error["loc"]
                reasons.setdefault(int(index), []).append(f"{'.'.join(map(str, field))}: {error['msg']}")
            valid = self.adapter.validate_python([r for i, r in enumerate(rows) if i not in reasons])
        kept = np.array([i for i in range(len(rows)) if i not in reasons], dtype=np.int64)
        joined = {i: "; ".join(r) for i, r in reasons.items()}
        return self.adapter.dump_python(valid, by_alias=True), kept, joined


def _whole_column_failure(chunk: pd.DataFrame, rejects: dict[int, str]) -> str | None:
    """The field every row of a chunk fails on, when there is one: then the file, not the rows, is wrong."""
    if len(chunk) == 0 or len(rejects) < len(chunk):
        return None
    fields = [{part.split(":", 1)[0] for part in reason.split("; ")} for reason in rejects.values()]
    common = set.intersection(*fields)
    return sorted(common)[0] if common else None


class _TableWriter:
    """Appends frames to a CSV or Parquet file, one chunk at a time."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind
        self.parquet: Any = None
        self.started = False

    def write(self, frame: pd.DataFrame) -> None:
        if self.kind == "csv":
            frame.to_csv(self.path, mode="a" if self.started else "w", header=not self.started, index=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.path, table.schema)
            self.parquet.write_table(table.cast(self.parquet.schema))
        self.started = True

    def close(self, empty: pd.DataFrame) -> None:
        """Finish the file; with nothing written, write `empty` (the header) so the file exists."""
        if not self.started:
            self.write(empty)
        if self.parquet is not None:
            self.parquet.close()


def scored_frame(
    positions: np.ndarray, labels: list[Any], proba: np.ndarray | None, card: ModelCard, version: str | None
) -> pd.DataFrame:
    """OUTPUT's rows: the input row id, the prediction, one probability column per class, the model."""
    columns: dict[str, Any] = {ROW_COLUMN: positions, "prediction": labels}
    if proba is not None and card.classes:
        for index, name in enumerate(card.classes):
            columns[f"proba_{name}"] = np.asarray(proba, dtype=np.float64)[:, index]
    columns["model"] = card.name
    columns["model_version"] = version or ""
    frame = pd.DataFrame(columns)
    if card.task == "regression":
        frame["prediction"] = frame["prediction"].astype("float64")
    else:
        frame["prediction"] = frame["prediction"].astype(str)
    return frame


def registry_version(model_uri: str, tracking_uri: str | None) -> str:
    """The registry version behind `models:/<name>@<alias>` or `models:/<name>/<version>` (else the URI)."""
    name, _, rest = model_uri.removeprefix("models:/").partition("/")
    if "@" in name:
        import mlflow

        registered, alias = name.split("@", 1)
        client = mlflow.MlflowClient(tracking_uri=tracking_uri)
        return str(client.get_model_version_by_alias(registered, alias).version)
    return rest if rest.isdigit() else model_uri


def load_model(
    model_dir: Path, model_uri: str | None, tracking_uri: str | None
) -> tuple[ModelCard, Predictor, str | None]:
    """The model card, the predictor (the API's loader) and the version recorded with each score."""
    card = read_card(model_dir)
    predictor = load_predictor(model_dir, card, model_uri, tracking_uri if model_uri else None)
    version = registry_version(model_uri, tracking_uri) if model_uri else card.version
    return card, predictor, version


def score_file(
    source: Path,
    output: Path,
    model_dir: Path,
    *,
    model_uri: str | None = None,
    tracking_uri: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: bool = False,
) -> ScoreSummary:
    """Score INPUT into OUTPUT (and its rejects file); see the module docstring."""
    started = time.perf_counter()
    output_kind = _format(output, "OUTPUT")
    if output.resolve() == source.resolve():
        raise DataError(f"OUTPUT {output} is INPUT: write the scores to another file")
    card, predictor, version = load_model(model_dir, model_uri, tracking_uri)
    validator = ChunkValidator(card)
    columns = input_columns(source)
    missing = [name for name in validator.features if name not in columns]
    if missing:
        raise DataError(
            f"{source} lacks the feature column(s) {', '.join(missing)}; the model needs: "
            f"{', '.join(validator.features)} (it has: {', '.join(columns) or 'no columns'})"
        )
    rejects = rejects_path(output)
    rows_in = scored = rejected = 0
    no_proba = np.empty((0, len(card.classes or [])))
    empty_scores = scored_frame(np.array([], dtype=np.int64), [], no_proba, card, version)
    empty_rejects = pd.DataFrame(columns=[ROW_COLUMN, REASON_COLUMN, *validator.features])
    with ExitStack() as stack:
        out_tmp = stack.enter_context(atomic_path(output))
        rejects_tmp = stack.enter_context(atomic_path(rejects))
        scores_writer, rejects_writer = _TableWriter(out_tmp, output_kind), _TableWriter(rejects_tmp, "csv")
        bar = stack.enter_context(_progress(progress, count_rows(source)))
        for number, chunk in enumerate(iter_chunks(source, validator.features, chunk_rows)):
            chunk = chunk.reset_index(drop=True)
            rows, kept, reasons = validator.split(chunk)
            if number == 0 and (field := _whole_column_failure(chunk, reasons)):
                raise DataError(
                    f"every row of the first chunk of {source} fails on '{field}' (e.g. "
                    f"{reasons[0]}): is it the right file, with the right column types?"
                )
            if rows:
                labels, proba = predictor.predict(rows)
                scores_writer.write(scored_frame(kept + rows_in, labels, proba, card, version))
            if reasons:
                bad = sorted(reasons)
                frame = chunk.iloc[bad].astype(object)
                frame.insert(0, REASON_COLUMN, [reasons[i] for i in bad])
                frame.insert(0, ROW_COLUMN, np.array(bad, dtype=np.int64) + rows_in)
                rejects_writer.write(frame)
            rows_in += len(chunk)
            scored += len(rows)
            rejected += len(reasons)
            bar(len(chunk))
        if rows_in == 0:
            raise DataError(f"{source} has a header but no rows: nothing to score")
        scores_writer.close(empty_scores)
        rejects_writer.close(empty_rejects)
    if rows_in != scored + rejected:  # cannot happen: each row is scored or rejected, never lost
        raise RuntimeError(f"{rows_in} rows in, but {scored} scored and {rejected} rejected")
    return ScoreSummary(
        rows_in, scored, rejected, output, rejects, card.name, version, time.perf_counter() - started
    )


@contextmanager
def _progress(enabled: bool, total: int | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr while scoring; yields `advance(rows)` (a no-op when disabled)."""
    if not enabled:
        yield lambda _rows: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("scoring", total=total)
        yield lambda rows: bar.advance(task, rows)
