"""Which trained candidate is served, decided on cross-validation evidence, and the guessing baseline.

The candidates are `train.model` and the linear baseline, simplest first. The one with the best
cross-validated primary metric wins, unless the simpler one is within one standard error of the
best mean (the "one-standard-error rule"): the folds cannot tell them apart, and the simpler model
is cheaper to serve and easier to explain. On penguins the linear model wins outright (CV f1_macro
0.988 against the random forest's 0.979), so it is what gets registered and served.
`train.selection.rule: model` serves `train.model` whatever the evidence.

Guessing (class priors, or the training mean) is no candidate: it is the floor every table shows,
so a reader sees at once whether a model learned anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .metrics import GREATER_IS_BETTER


def guessing_estimator(task: str) -> Any:
    """Predicts the training class priors (classification) or the training mean (regression)."""
    from sklearn.dummy import DummyClassifier, DummyRegressor

    return DummyClassifier(strategy="prior") if task == "classification" else DummyRegressor(strategy="mean")


def guessing_name(task: str) -> str:
    """What the guessing baseline is called in tables."""
    return "guessing (class priors)" if task == "classification" else "guessing (training mean)"


@dataclass(frozen=True)
class Choice:
    """The served candidate and why, in a sentence the report quotes."""

    winner: str
    reason: str
    standard_error: float | None


def standard_error(metrics: dict[str, float], metric: str) -> float:
    """The standard error of a candidate's CV mean: the fold spread over the square root of the folds."""
    return metrics.get(f"cv_{metric}_std", 0.0) / math.sqrt(max(1.0, metrics.get("cv_folds", 1.0)))


def choose(
    candidates: dict[str, dict[str, float]], requested: str, metric: str, rule: str, names: dict[str, str]
) -> Choice:
    """The candidate to serve, from `candidates` (family -> metrics with cv_*), simplest first.

    `names` gives each family's display name for the reason sentence.
    """
    if rule == "model" or len(candidates) == 1:
        why = (
            "it is the only candidate"
            if len(candidates) == 1
            else "train.selection.rule is `model`, which serves train.model whatever cross-validation says"
        )
        return Choice(requested, f"The {names[requested]} is served: {why}.", None)
    sign = 1.0 if GREATER_IS_BETTER[metric] else -1.0
    means = {family: m[f"cv_{metric}_mean"] for family, m in candidates.items()}
    best = max(means, key=lambda family: sign * means[family])
    error = standard_error(candidates[best], metric)
    simplest = next(iter(candidates))
    cv = ", ".join(f"{names[f]} {means[f]:.4f}" for f in candidates)
    if best == simplest:
        reason = (
            f"The {names[best]} is served: it has the best cross-validated {metric} ({cv}) and is the "
            "simpler model."
        )
        return Choice(best, reason, error)
    gap = sign * (means[best] - means[simplest])
    if gap <= error:
        reason = (
            f"The {names[simplest]} is served: the {names[best]} leads in cross-validated {metric} "
            f"({cv}) by {gap:.4f}, within one standard error ({error:.4f}), so the simpler model wins the tie."
        )
        return Choice(simplest, reason, error)
    reason = (
        f"The {names[best]} is served: it beats the simpler {names[simplest]} in cross-validated "
        f"{metric} ({cv}) by {gap:.4f}, more than one standard error ({error:.4f})."
    )
    return Choice(best, reason, error)
