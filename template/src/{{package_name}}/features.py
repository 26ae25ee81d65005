"""Features: the seeded train/test split and the ColumnTransformer built from the schema.

The preprocessor is fitted inside the model pipeline (train split only), saved with the model and
served as one object, so training and serving cannot drift.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .config import Paths, SplitParams
from .data.io import DataError, atomic_dir, read_json, write_json
from .data.schema import DatasetSchema

log = logging.getLogger(__name__)

# Missing categories travel as "" end to end (ONNX string tensors have no NaN).
MISSING_CATEGORY = ""


def model_frame(frame: pd.DataFrame, schema: DatasetSchema) -> pd.DataFrame:
    """The model's input columns in schema order: numbers as float64, categories as str ('' if missing)."""
    columns = {name: frame[name].astype("float64") for name in schema.numeric}
    for name in schema.categorical:
        columns[name] = frame[name].astype("str").where(frame[name].notna(), MISSING_CATEGORY)
    return pd.DataFrame(columns, index=frame.index)[schema.numeric + schema.categorical]


def build_preprocessor(schema: DatasetSchema) -> ColumnTransformer:
    """Impute and scale numbers; impute and one-hot encode categories (unknown ones ignored)."""
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
    """Seeded train/test split, stratified by class for classification."""
    stratify = frame[schema.target.name] if schema.target.task == "classification" else None
    train, test = train_test_split(
        frame, test_size=split.test_size, random_state=split.seed, stratify=stratify
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


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
    spec = {
        **schema.model_dump(mode="json"),
        "example": example_row(train, schema),
        "split": {"train_rows": len(train), "test_rows": len(test), **split.model_dump()},
    }
    with atomic_dir(paths.processed) as staging:
        train.to_parquet(staging / paths.train.name, index=False)
        test.to_parquet(staging / paths.test.name, index=False)
        write_json(staging / paths.features.name, spec)
    log.info("split %d rows: %d train, %d test (seed %d)", len(clean), len(train), len(test), split.seed)
    return spec["split"]
