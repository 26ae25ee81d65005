"""The data engine that runs collect, clean and featurize: pandas, or Spark (`engine: spark`)."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..config import ConfigError

SPARK_PACKAGE = f"{__package__.rpartition('.')[0]}.spark"


def spark(stage: str) -> ModuleType:
    """The Spark engine's module for a data stage, imported only when params.yaml asks for Spark."""
    try:
        return importlib.import_module(f"{SPARK_PACKAGE}.{stage}")
    except ModuleNotFoundError as exc:
        if exc.name != SPARK_PACKAGE:
            raise
        raise ConfigError(
            "params.yaml says engine: spark, but this project was generated without the Spark engine; "
            "set engine: pandas, or add the engine with `copier update --data engine=spark`."
        ) from exc
