"""The pipeline's stages, one module each, in the order dvc.yaml runs them.

A stage module has `run(params, paths)`, which reads its inputs, writes its outputs and returns a
summary; a stage that logs to MLflow also takes `track`. The CLI makes one command per name in
STAGES, and dvc.yaml has one entry per name whose `deps` and `params` list what the stage imports
and reads (tests/stages/test_deps.py runs every stage to prove it).

Stage modules import their domain code inside `run`, so building the CLI (and `serve`) never pays
for pandas, scikit-learn or MLflow.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Params, Paths

STAGES: tuple[str, ...] = ("collect", "clean", "featurize", "train", "evaluate", "report")


def load(name: str) -> ModuleType:
    """The module of stage `name` (cheap: its domain code is imported when it runs)."""
    if name not in STAGES:
        raise ValueError(f"unknown stage {name!r}; the stages are: {', '.join(STAGES)}")
    return importlib.import_module(f"{__name__}.{name}")


def tracks(stage: ModuleType) -> bool:
    """Whether the stage's `run` takes `track` (it logs to MLflow unless told not to)."""
    return "track" in inspect.signature(stage.run).parameters


def run(name: str, params: Params, paths: Paths, *, track: bool = True) -> Any:
    """Run stage `name` and return its summary; `track` reaches only the stages that log to MLflow."""
    stage = load(name)
    if tracks(stage):
        return stage.run(params, paths, track=track)
    return stage.run(params, paths)
