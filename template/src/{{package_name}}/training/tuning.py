"""Optional hyperparameter search with Optuna (`train.tuning` in params.yaml).

Each trial cross-validates the chosen family on the training split with one set of
hyperparameters; the search optimises the primary metric's cross-validation mean. The sampler is
seeded with `train.seed` and trials run one after another, so the same params and data give the
same trials and the same best hyperparameters. The test split is never looked at.

Optuna is imported only when the search is switched on, so projects without it never need it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import families
from ..config import ConfigError, TrainParams
from .metrics import GREATER_IS_BETTER

log = logging.getLogger(__name__)

Hyperparameters = dict[str, Any]


@dataclass(frozen=True)
class Trial:
    """One evaluated set of hyperparameters."""

    number: int
    hyperparameters: Hyperparameters
    cv: dict[str, float]
    score: float
    started_ms: int
    ended_ms: int


@dataclass(frozen=True)
class SearchResult:
    """Every trial of a search and the best one."""

    metric: str
    trials: list[Trial] = field(default_factory=list)

    @property
    def best(self) -> Trial:
        pick = max if GREATER_IS_BETTER[self.metric] else min
        return pick(self.trials, key=lambda trial: (trial.score, -trial.number))

    def summary(self) -> dict[str, Any]:
        """What model.json and training.json record about the search."""
        return {
            "n_trials": len(self.trials),
            "metric": f"cv_{self.metric}_mean",
            "best_trial": self.best.number,
            "best_score": self.best.score,
            "best_hyperparameters": self.best.hyperparameters,
        }


def suggest(trial: Any, family: str, task: str) -> Hyperparameters:
    """One trial's hyperparameters, drawn from the search space `family` declares."""
    return families.get(family).search_space(trial, task)


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:
        raise ConfigError(
            "train.tuning.enabled is true but Optuna is not installed; install it with "
            "'uv add --group pipeline optuna', or set train.tuning.enabled: false in params.yaml."
        ) from exc
    return optuna


def search(
    cross_validate: Callable[[Hyperparameters], dict[str, float]],
    family: str,
    task: str,
    metric: str,
    params: TrainParams,
    on_trial: Callable[[Trial], None] | None = None,
) -> SearchResult:
    """Run the seeded search; `cross_validate` maps hyperparameters to `cv_<metric>_mean/std`.

    The suggested values override the family's hyperparameters from params.yaml; the rest stay.
    `on_trial` is called after each trial (the MLflow run logs it there as a nested run).
    """
    optuna = _import_optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = params.hyperparameters(task, family)
    result = SearchResult(metric=metric)

    def objective(optuna_trial: Any) -> float:
        started = time.time()
        hyperparameters = {**base, **suggest(optuna_trial, family, task)}
        cv = cross_validate(hyperparameters)
        score = cv[f"cv_{metric}_mean"]
        trial = Trial(
            number=optuna_trial.number,
            hyperparameters=hyperparameters,
            cv=cv,
            score=score,
            started_ms=int(started * 1000),
            ended_ms=int(time.time() * 1000),
        )
        result.trials.append(trial)
        log.info("trial %d: cv %s=%.4f with %s", trial.number, metric, score, optuna_trial.params)
        if on_trial is not None:
            on_trial(trial)
        return score

    study = optuna.create_study(
        direction="maximize" if GREATER_IS_BETTER[metric] else "minimize",
        sampler=optuna.samplers.TPESampler(seed=params.seed),
    )
    study.optimize(
        objective,
        n_trials=params.tuning.n_trials,
        timeout=params.tuning.timeout_seconds,
        n_jobs=1,  # sequential trials keep the search reproducible
    )
    best = result.best
    log.info(
        "search: best of %d trials is #%d, cv %s=%.4f with %s",
        len(result.trials),
        best.number,
        metric,
        best.score,
        {k: v for k, v in best.hyperparameters.items() if k not in base or base[k] != v},
    )
    return result
