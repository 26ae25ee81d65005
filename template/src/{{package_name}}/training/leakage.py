"""A leakage and shortcut screen: features that alone explain (almost) everything, and id-like columns.

A score too good to be true usually is: a grade column that encodes the interest rate to predict,
an id that follows the order rows were collected in. The screen does not decide; it flags, with
the number behind each flag and a question for the author, and the report lists the flags under
"Possible leakage". Thresholds live in params.yaml (`evaluate.leakage`).

- Single-feature scores: a depth-limited tree on each feature alone, fitted on the training split
  and scored on the test split with the primary metric. A feature whose lift over guessing reaches
  `share` of the full model's lift is flagged. Measured on 10,000 rows x 55 columns: about a second.
- Id-like columns, in the clean table's row order (before the shuffled split): unique per row
  (categories or whole numbers), or monotonic in row order.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.metrics import get_scorer

from ..config import LeakageParams
from ..data.schema import DatasetSchema
from ..features import model_frame
from .metrics import GREATER_IS_BETTER, SCORERS, from_scorer


def single_feature_scores(
    train: pd.DataFrame,
    test: pd.DataFrame,
    schema: DatasetSchema,
    metric: str,
    params: LeakageParams,
    seed: int,
) -> dict[str, float]:
    """The test-split `metric` of a depth-limited tree fitted on each feature alone.

    Categories become codes in the training split's order (unseen ones and missing values: -1);
    numbers keep their missing values, which scikit-learn's trees route on their own.
    """
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    if len(train) > params.max_rows:
        train = train.sample(params.max_rows, random_state=seed)
    target = schema.target.name
    tree_class = DecisionTreeClassifier if schema.target.task == "classification" else DecisionTreeRegressor
    scorer = SCORERS[metric]
    scorer = get_scorer(scorer) if isinstance(scorer, str) else scorer
    x_train, x_test = model_frame(train, schema), model_frame(test, schema)
    scores = {}
    for name in schema.numeric + schema.categorical:
        column_train, column_test = (
            _as_number(x_train[name], x_train[name]),
            _as_number(x_test[name], x_train[name]),
        )
        tree = tree_class(max_depth=params.tree_depth, random_state=seed)
        tree.fit(column_train, train[target])
        scores[name] = float(from_scorer(metric, scorer(tree, column_test, test[target])))
    return scores


def _as_number(column: pd.Series, fitted_on: pd.Series) -> pd.DataFrame:
    """One column as a float frame a tree takes: numbers as they are, categories as codes."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return column.astype(float).to_frame()
    categories = pd.Index(sorted(fitted_on.dropna().astype(str).unique()))
    codes = pd.Categorical(column.astype("string"), categories=categories).codes
    return pd.DataFrame({column.name: codes.astype(float)})


def id_like(clean: pd.DataFrame, schema: DatasetSchema, min_rows: int) -> dict[str, str]:
    """Features that look like row ids in the clean table's order: feature -> what was seen.

    Unique per row counts only for categories and whole numbers: a measurement with decimals is
    often unique per row without being an id. Monotonic counts for any number with at least three
    values, since a row number or a timestamp in a file's order is both.
    """
    found = {}
    for column in schema.features:
        if column.name not in clean:
            continue
        values = clean[column.name].dropna()
        if len(values) < min_rows:
            continue
        if (column.kind == "categorical" or column.integer) and values.nunique() == len(values):
            found[column.name] = f"unique in each of its {len(values)} rows"
        elif (
            column.kind == "numeric"
            and values.nunique() >= 3
            and (values.is_monotonic_increasing or values.is_monotonic_decreasing)
        ):
            direction = "rises" if values.is_monotonic_increasing else "falls"
            found[column.name] = f"{direction} steadily with row order"
    return found


def screen(
    train: pd.DataFrame,
    test: pd.DataFrame,
    clean: pd.DataFrame | None,
    schema: DatasetSchema,
    metric: str,
    model_score: float,
    guessing_score: float | None,
    params: LeakageParams,
    seed: int,
) -> dict[str, Any]:
    """Every feature's single-feature score and the flags, JSON-ready for reports/metrics.json."""
    scores = single_feature_scores(train, test, schema, metric, params, seed)
    sign = 1.0 if GREATER_IS_BETTER[metric] else -1.0
    flags = []
    # A model no better than guessing has no lift to share out: the single-feature flags need one.
    lift = sign * (model_score - guessing_score) if guessing_score is not None else 0.0
    if guessing_score is not None and lift > 0:
        for name, alone in sorted(scores.items(), key=lambda item: -sign * item[1]):
            share = sign * (alone - guessing_score) / lift
            if share >= params.share:
                flags.append(
                    {
                        "feature": name,
                        "why": f"alone scores {metric} = {alone:.4f}, {share:.0%} of the full model's lift "
                        f"over guessing ({guessing_score:.4f} -> {model_score:.4f})",
                        "question": "is it known when a prediction is made, or is it derived from the target?",
                    }
                )
    for name, seen in (id_like(clean, schema, params.min_rows_for_id) if clean is not None else {}).items():
        flags.append(
            {
                "feature": name,
                "why": f"id-like: {seen}",
                "question": "is it an identifier or a row counter? If so, mark it `id` in "
                "params.yaml (clean.column_types) so the model cannot learn the row order.",
            }
        )
    return {
        "metric": metric,
        "model_score": model_score,
        "guessing_score": guessing_score,
        "share": params.share,
        "scores": {name: round(value, 6) for name, value in scores.items()},
        "flags": flags,
    }
