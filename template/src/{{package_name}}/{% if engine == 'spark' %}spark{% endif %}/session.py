"""The Spark session of the data stages: where it runs, its settings, and errors that say what to do.

Where Spark runs comes from the environment (or `.env`); the first one set wins:
- `SPARK_REMOTE`: a Spark Connect server, e.g. `sc://spark.example.internal:15002` (no local Java);
- `SPARK_MASTER`: a cluster manager, e.g. `spark://host:7077`, `yarn` or `k8s://https://host:6443`;
- else `spark.master` in params.yaml: `local[*]`, every core of this machine.

Every other setting comes from the `spark:` section of params.yaml. A process has one session: a
second call returns it, and a session that is already running (a Databricks notebook's, say) is
used as it is.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic_settings import BaseSettings, SettingsConfigDict

from ..config import ConfigError, SparkParams

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

MIN_JAVA = 17
JAVA_HINT = (
    "install Java 17 or 21 (Debian/Ubuntu: `sudo apt-get install openjdk-17-jre-headless`, macOS: "
    "`brew install openjdk@17`, Windows: https://adoptium.net) and set JAVA_HOME to it, or set "
    "SPARK_REMOTE to a Spark Connect server so that Spark runs elsewhere"
)


class SparkEnvironment(BaseSettings):
    """Where Spark runs: SPARK_REMOTE or SPARK_MASTER, from the environment or `.env`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    spark_remote: str | None = None
    spark_master: str | None = None


def java_executable(java_home: str | None) -> str | None:
    """The `java` that Spark will start: $JAVA_HOME/bin/java when JAVA_HOME is set, else PATH's."""
    if java_home:
        candidate = Path(java_home) / "bin" / ("java.exe" if os.name == "nt" else "java")
        return str(candidate) if candidate.is_file() else None
    return shutil.which("java")


def java_major_version(java: str) -> int | None:
    """The major version that `java -version` reports (8 for '1.8.0_392', 17 for '17.0.15')."""
    try:
        result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def check_java(java_home: str | None) -> None:
    """Raise ConfigError, saying what to install, unless a Java that Spark can run is available."""
    java = java_executable(java_home)
    if java is None:
        where = (
            f"JAVA_HOME is {java_home}, which has no bin/java"
            if java_home
            else "there is no `java` on PATH and JAVA_HOME is not set"
        )
        raise ConfigError(f"the Spark engine needs Java {MIN_JAVA} or newer, but {where}; {JAVA_HINT}.")
    version = java_major_version(java)
    if version is None:
        raise ConfigError(f"`{java} -version` did not say which Java it is; {JAVA_HINT}.")
    if version < MIN_JAVA:
        raise ConfigError(
            f"the Spark engine needs Java {MIN_JAVA} or newer, but {java} is Java {version}; {JAVA_HINT}."
        )


def spark_conf(settings: SparkParams, *, remote: bool = False) -> dict[str, str]:
    """Spark settings from params.yaml; a remote session gets only those a client may set (spark.sql.*)."""
    conf = {
        "spark.driver.memory": settings.driver_memory,
        "spark.ui.enabled": str(settings.ui).lower(),
        "spark.ui.showConsoleProgress": "false",  # progress bars would flood the `dvc repro` log
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    conf.update(
        {
            key: str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in settings.conf.items()
        }
    )
    if remote:
        return {key: value for key, value in conf.items() if key.startswith("spark.sql.")}
    return conf


def _quiet() -> None:
    # PySpark 4.3 warns that pandas 3 is "not yet fully supported"; the engine's tests cover what it uses.
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)


def get_spark(settings: SparkParams, app_name: str) -> SparkSession:
    """The process's Spark session, started from params.yaml and the environment on first use."""
    _quiet()
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigError(
            "params.yaml says engine: spark, but PySpark is not installed here; run `uv sync` (the "
            "project's spark dependency group installs it)."
        ) from exc

    active = SparkSession.getActiveSession()
    if active is not None:
        for key, value in spark_conf(settings, remote=True).items():
            active.conf.set(key, value)
        return active

    env = SparkEnvironment()
    builder = SparkSession.builder.appName(app_name)
    if env.spark_remote:
        builder = builder.remote(env.spark_remote)
        action, where = "connecting to", f"the Spark Connect server at {env.spark_remote} (SPARK_REMOTE)"
    else:
        check_java(os.environ.get("JAVA_HOME"))
        master = env.spark_master or settings.master
        builder = builder.master(master)
        if master.startswith("local"):
            # Local Python workers (they parse dates) must import what this interpreter imports,
            # also when the project's .venv is not first on PATH; PySpark reads only this variable.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        action, where = (
            "starting",
            f"Spark with master {master}" + (" (SPARK_MASTER)" if env.spark_master else ""),
        )
    for key, value in spark_conf(settings, remote=bool(env.spark_remote)).items():
        builder = builder.config(key, value)
    log.info("%s %s", action, where)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # Py4J and gRPC raise their own types; the user needs the next step
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"{action} {where} failed ({first_line}). Check JAVA_HOME (Java {MIN_JAVA}+), "
            f"spark.driver_memory in params.yaml (now {settings.driver_memory}) and SPARK_MASTER / "
            'SPARK_REMOTE; `uv run python -c "import pyspark; print(pyspark.__version__)"` checks the install.'
        ) from exc
