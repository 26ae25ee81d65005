"""The linear family: logistic regression or ridge, on standardised features. Also the baseline."""

from __future__ import annotations

from typing import Any

from . import Family, Hyperparameters, SearchTrial


def estimator(task: str, hyperparameters: Hyperparameters, seed: int) -> Any:
    """LogisticRegression for classification (1000 iterations unless set), Ridge for regression."""
    from sklearn.linear_model import LogisticRegression, Ridge

    if task == "classification":
        return LogisticRegression(random_state=seed, **{"max_iter": 1000, **hyperparameters})
    return Ridge(**hyperparameters)


def search_space(trial: SearchTrial, task: str) -> Hyperparameters:
    """The regularisation strength, over six decades."""
    name = "C" if task == "classification" else "alpha"
    return {name: trial.suggest_float(name, 1e-3, 1e3, log=True)}


FAMILY = Family(
    name="linear",
    display_name="linear model",
    estimator=estimator,
    search_space=search_space,
    defaults={"classification": {"C": 1.0, "max_iter": 1000}, "regression": {"alpha": 1.0}},
    scaled=True,  # the penalty treats every coefficient alike, so features need one scale
)
