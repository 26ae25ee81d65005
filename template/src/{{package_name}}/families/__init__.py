"""Model families: one module per family, found by the registry below.

A family is everything the project needs to know about one kind of model: the name that
`train.model` in params.yaml selects, a display name for the report and the model card, whether
its numeric features are standardised, the skops types its fitted estimator needs trusted, its
default hyperparameters, its estimator factory and its tuning search space. Config validation,
training, tuning, export, serving's loader and the reports all read this registry, so adding a
family is one new module in this package that defines `FAMILY`; nothing else is edited.

Importing a family module must stay cheap: serving reads the trusted types from here and never
imports scikit-learn, so each module imports scikit-learn inside its factory only.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

from ..config import ConfigError

Hyperparameters = dict[str, Any]


class SearchTrial(Protocol):
    """The part of an Optuna trial a search space uses (a test can pass a small fake)."""

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float: ...

    def suggest_categorical(self, name: str, choices: list[Any]) -> Any: ...


@dataclass(frozen=True)
class Family:
    """One model family, declared once in its own module of this package.

    `estimator(task, hyperparameters, seed)` returns an unfitted scikit-learn estimator for
    `classification` or `regression`; the hyperparameters never hold None (None in params.yaml
    means "the estimator's own default" and is dropped before the call). `search_space(trial,
    task)` returns the hyperparameters one tuning trial tries; they override the family's
    params.yaml values, the rest stay. `defaults[task]` are used for every key params.yaml does
    not set, so a family works before it has a section there.
    """

    name: str
    display_name: str
    estimator: Callable[[str, Hyperparameters, int], Any]
    search_space: Callable[[SearchTrial, str], Hyperparameters]
    defaults: Mapping[str, Hyperparameters] = field(default_factory=dict)
    scaled: bool = False
    trusted_types: tuple[str, ...] = ()

    def defaults_for(self, task: str) -> Hyperparameters:
        """A copy of the default hyperparameters for `task` (empty when the family has none)."""
        return dict(self.defaults.get(task, {}))


@cache
def _registry() -> dict[str, Family]:
    """Every module of this package that defines FAMILY, by family name (imported on first use)."""
    found: dict[str, Family] = {}
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        family = getattr(importlib.import_module(f"{__name__}.{module.name}"), "FAMILY", None)
        if not isinstance(family, Family):
            raise TypeError(
                f"{__name__}.{module.name} defines no FAMILY = Family(...); every module in this "
                "package is a model family (move helpers into a module whose name starts with '_')."
            )
        if family.name != module.name:
            raise TypeError(
                f"{__name__}.{module.name} declares the family {family.name!r}; name the module "
                f"{family.name}.py or the family {module.name!r}, so params.yaml and the file agree."
            )
        found[family.name] = family
    return found


def names() -> list[str]:
    """The registered family names, sorted."""
    return list(_registry())


def all_families() -> list[Family]:
    """The registered families, sorted by name."""
    return list(_registry().values())


def get(name: str) -> Family:
    """The family called `name`; an unknown one raises ConfigError listing the known ones."""
    try:
        return _registry()[name]
    except KeyError:
        raise ConfigError(unknown_family_message(name)) from None


def unknown_family_message(name: str) -> str:
    """What to say about a family name that no module in this package declares."""
    return (
        f"unknown model family {name!r}; the families are {', '.join(names())} "
        f"(one module each in src/{__package__.split('.')[0]}/families/: add a module there to add one)"
    )


def trusted_types() -> list[str]:
    """Every skops type some family's fitted estimator needs trusted, sorted, without duplicates."""
    return sorted({t for family in all_families() for t in family.trusted_types})
