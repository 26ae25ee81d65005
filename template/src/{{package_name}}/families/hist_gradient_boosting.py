"""The histogram gradient boosting family: boosted trees on binned, unscaled features.

skl2onnx cannot convert it with scikit-learn 1.9, so it is served from its skops file.
"""

from __future__ import annotations

from typing import Any

from . import Family, Hyperparameters, SearchTrial


def estimator(task: str, hyperparameters: Hyperparameters, seed: int) -> Any:
    """HistGradientBoostingClassifier or HistGradientBoostingRegressor, seeded."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
    return cls(random_state=seed, **hyperparameters)


def search_space(trial: SearchTrial, task: str) -> Hyperparameters:
    """Learning rate, rounds, tree size, leaf size and L2 penalty, on log scales."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_iter": trial.suggest_int("max_iter", 50, 300, step=50),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 8, 64, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 5, 50, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-3, 10.0, log=True),
    }


_DEFAULTS: Hyperparameters = {"learning_rate": 0.1, "max_iter": 200, "max_leaf_nodes": 31}

FAMILY = Family(
    name="hist_gradient_boosting",
    display_name="histogram gradient boosting",
    estimator=estimator,
    search_space=search_space,
    defaults={"classification": _DEFAULTS, "regression": _DEFAULTS},
    trusted_types=("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",),
)
