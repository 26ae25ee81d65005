"""The random forest family: bagged decision trees on unscaled features."""

from __future__ import annotations

from typing import Any

from . import Family, Hyperparameters, SearchTrial


def estimator(task: str, hyperparameters: Hyperparameters, seed: int) -> Any:
    """RandomForestClassifier or RandomForestRegressor, seeded.

    n_jobs stays unset: the trees run in the threads of `training.train.parallelism()`.
    """
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
    return cls(random_state=seed, **hyperparameters)


def search_space(trial: SearchTrial, task: str) -> Hyperparameters:
    """Forest size, depth, leaf size and features per split: wide enough for small and medium tables."""
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 300, step=50),
        "max_depth": trial.suggest_categorical("max_depth", [None, 4, 8, 16]),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 10),
        "max_features": trial.suggest_categorical("max_features", ["sqrt", 0.33, 0.5, 1.0]),
    }


FAMILY = Family(
    name="random_forest",
    display_name="random forest",
    estimator=estimator,
    search_space=search_space,
    defaults={
        "classification": {
            "n_estimators": 100,
            "max_depth": None,
            "min_samples_leaf": 1,
            "max_features": "sqrt",
        },
        # Breiman's regression defaults: leaf size 5, a third of the features per split.
        "regression": {"n_estimators": 100, "max_depth": None, "min_samples_leaf": 5, "max_features": 0.33},
    },
    trusted_types=("sklearn.tree._tree.Tree",),
)
