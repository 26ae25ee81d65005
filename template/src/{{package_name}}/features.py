"""Features: the seeded train/test split and the ColumnTransformer built from the schema.

The preprocessor is fitted inside the model pipeline (train split only), saved with the model and
served as one object, so training and serving cannot drift.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .config import Paths, SplitParams
from .data.io import DataError, atomic_dir, read_json, write_json
from .data.schema import DatasetSchema

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer

log = logging.getLogger(__name__)

# Missing categories travel as "" end to end (ONNX string tensors have no NaN).
MISSING_CATEGORY = ""


def model_frame(frame: pd.DataFrame, schema: DatasetSchema) -> pd.DataFrame:
    """The model's input columns in schema order: numbers as float64, categories as str ('' if missing)."""
    columns: dict[str, pd.Series] = {name: frame[name].astype("float64") for name in schema.numeric}
    for name in schema.categorical:
        columns[name] = frame[name].astype("str").where(frame[name].notna(), MISSING_CATEGORY)
    return pd.DataFrame(columns, index=frame.index)[schema.numeric + schema.categorical]


def build_preprocessor(schema: DatasetSchema) -> ColumnTransformer:
    """Impute and scale numbers; impute and one-hot encode categories (unknown ones ignored)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    transformers: list[tuple[str, Any, list[str]]] = []
    if schema.numeric:
        numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
        transformers.append(("numeric", numeric, schema.numeric))
    if schema.categorical:
        categorical = Pipeline(
            [
                (
                    "impute",
                    SimpleImputer(missing_values=MISSING_CATEGORY, strategy="constant", fill_value="missing"),
                ),
                ("onehot", OneHotEncoder(handle_unknown="ignore")),
            ]
        )
        transformers.append(("categorical", categorical, schema.categorical))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def split_table(
    frame: pd.DataFrame, schema: DatasetSchema, split: SplitParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded train/test split, stratified by class for classification.

    The rows are those scikit-learn's `train_test_split` picks for the same seed (tests/test_features.py
    compares them), chosen with numpy alone: importing scikit-learn took longer than the rest of the
    featurize stage, which needs nothing else from it.
    """
    stratify = frame[schema.target.name].to_numpy() if schema.target.task == "classification" else None
    train, test = split_rows(len(frame), split.test_size, split.seed, stratify)
    return frame.iloc[train].reset_index(drop=True), frame.iloc[test].reset_index(drop=True)


def split_rows(
    rows: int, test_size: float, seed: int, stratify: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row positions: scikit-learn's ShuffleSplit, or StratifiedShuffleSplit by `stratify`.

    The clean stage has already refused a split that leaves a class too few rows (data/rules.py).
    """
    n_test = math.ceil(test_size * rows)
    n_train = rows - n_test
    rng = np.random.RandomState(seed)
    if stratify is None:
        order = rng.permutation(rows)
        return order[n_test:], order[:n_test]
    _, codes = np.unique(stratify, return_inverse=True)
    counts = np.bincount(codes)
    by_class = np.split(np.argsort(codes, kind="stable"), np.cumsum(counts)[:-1])
    train_counts = _approximate_mode(counts, n_train, rng)
    test_counts = _approximate_mode(counts - train_counts, n_test, rng)
    train: list[int] = []
    test: list[int] = []
    for members, n_train_class, n_test_class in zip(by_class, train_counts, test_counts, strict=True):
        shuffled = members.take(rng.permutation(len(members)), mode="clip")
        train.extend(shuffled[:n_train_class])
        test.extend(shuffled[n_train_class : n_train_class + n_test_class])
    return rng.permutation(train), rng.permutation(test)


def _approximate_mode(counts: np.ndarray, draws: int, rng: np.random.RandomState) -> np.ndarray:
    """How many of `draws` rows each class gets, in proportion to `counts`; ties broken by `rng`.

    scikit-learn's `utils.extmath._approximate_mode`, which its stratified split uses.
    """
    continuous = counts / counts.sum() * draws
    floored: np.ndarray = np.floor(continuous)
    need = int(draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (tied,) = np.where(remainder == value)
            add = min(len(tied), need)
            floored[rng.choice(tied, size=add, replace=False)] += 1
            need -= add
            if need == 0:
                break
    return floored.astype(np.int64)


def example_row(frame: pd.DataFrame, schema: DatasetSchema) -> dict[str, Any]:
    """A real row with no missing values (for the API docs and the demo form)."""
    features = frame[schema.feature_names]
    complete = features.dropna()
    row = (complete if not complete.empty else features).iloc[0]
    example: dict[str, Any] = {}
    for column in schema.features:
        value = row[column.name]
        if pd.isna(value):
            example[column.name] = None
        elif column.kind == "categorical":
            example[column.name] = str(value)
        elif column.kind == "boolean":
            example[column.name] = bool(value)
        else:
            example[column.name] = int(value) if column.integer else float(np.round(value, 6))
    return example


def run_featurize(split: SplitParams, paths: Paths) -> dict[str, Any]:
    """The featurize stage: split the clean table and write the feature spec the model is built from.

    `data/processed/` is replaced as a whole only when every file is written.
    """
    schema = DatasetSchema.model_validate(read_json(paths.schema))
    if not paths.clean.is_file():
        raise DataError(f"{paths.clean} does not exist yet; run the clean stage first ('make pipeline').")
    clean = pd.read_parquet(paths.clean)
    train, test = split_table(clean, schema, split)
    summary = {"train_rows": len(train), "test_rows": len(test), **split.model_dump()}
    spec = {**schema.model_dump(mode="json"), "example": example_row(train, schema), "split": summary}
    with atomic_dir(paths.processed) as staging:
        train.to_parquet(staging / paths.train.name, index=False)
        test.to_parquet(staging / paths.test.name, index=False)
        write_json(staging / paths.features.name, spec)
    log.info("split %d rows: %d train, %d test (seed %d)", len(clean), len(train), len(test), split.seed)
    return summary
