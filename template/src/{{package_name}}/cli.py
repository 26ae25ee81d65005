"""The project's command line: one command per pipeline stage, plus `serve`.

`dvc repro` runs the stages in order (see dvc.yaml); each command also runs on its own.
Expected failures (bad data, bad params) print one clear message and exit 1, without a traceback.
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer

from .config import ConfigError, Params, Paths, get_paths, load_params

app = typer.Typer(
    help="Run the pipeline stages (collect, clean, featurize, train, evaluate, report) or serve the model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
log = logging.getLogger(__name__)


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("mlflow", "alembic", "urllib3", "matplotlib", "skl2onnx", "git"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def stage(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command: logging, timing, and a clean exit for errors the user can fix."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .data.io import DataError

        _setup_logging()
        started = time.perf_counter()
        try:
            result = func(*args, **kwargs)
        except (ConfigError, DataError) as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=1) from exc
        log.info("%s finished in %.1fs", func.__name__, time.perf_counter() - started)
        return result

    return wrapper


def _context() -> tuple[Params, Paths]:
    paths = get_paths()
    return load_params(paths.params), paths


def _spark_stage(name: str) -> Any:
    """The Spark engine's module for a data stage (params.yaml `engine: spark`), imported only then."""
    try:
        return importlib.import_module(f"{__package__}.spark.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.spark":
            raise
        raise ConfigError(
            "params.yaml says engine: spark, but this project was generated without the Spark engine; "
            "set engine: pandas, or add the engine with `copier update --data engine=spark`."
        ) from exc


@app.command()
@stage
def collect() -> None:
    """Bring the raw data into data/raw/ and record its source and sha256."""
    params, paths = _context()
    if params.engine == "spark":
        _spark_stage("collect").run_collect(params, paths)
        return
    from .data.collect import collect as run

    run(params.data, paths)


@app.command()
@stage
def clean() -> None:
    """Infer the schema, validate every row and quarantine the rows that fail."""
    params, paths = _context()
    if params.engine == "spark":
        _spark_stage("clean").run_clean(params, paths)
        return
    from .data.clean import run_clean

    run_clean(params.data, params.clean, params.split, paths)


@app.command()
@stage
def featurize() -> None:
    """Split the clean table (seeded) and write the feature spec."""
    params, paths = _context()
    if params.engine == "spark":
        _spark_stage("featurize").run_featurize(params, paths)
        return
    from .features import run_featurize

    run_featurize(params.split, paths)


@app.command()
@stage
def train(
    no_tracking: Annotated[
        bool, typer.Option("--no-tracking", help="Skip MLflow (faster; nothing is registered).")
    ] = False,
) -> None:
    """Fit the baseline and the chosen model, log them to MLflow and export the model."""
    from .training.train import run_train

    params, paths = _context()
    run_train(params, paths, track=not no_tracking)


@app.command()
@stage
def evaluate(
    no_tracking: Annotated[bool, typer.Option("--no-tracking", help="Do not log figures to MLflow.")] = False,
) -> None:
    """Score the model on the test split; write metrics, plot data and figures."""
    from .training.evaluate import run_evaluate

    params, paths = _context()
    run_evaluate(params, paths, track=not no_tracking)


@app.command()
@stage
def report() -> None:
    """Write reports/REPORT.md and MODEL_CARD.md and refresh the README's results block."""
    from .reporting.report import run_report

    params, paths = _context()
    run_report(params, paths)


@app.command()
def provenance(
    template: Annotated[
        str | None, typer.Option(help="Template location, if it moved since the project was generated.")
    ] = None,
) -> None:
    """Write PROVENANCE.md: which files the template wrote and which the author wrote."""
    from .provenance import ProvenanceError, run_provenance

    _setup_logging()
    try:
        result = run_provenance(get_paths().root, template)
    except (ProvenanceError, ConfigError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(f"wrote PROVENANCE.md: {result.summary()}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the trained model with FastAPI (demo page at /, API docs at /docs)."""
    import uvicorn

    from .config import Settings
    from .serving.security import check_auth_settings

    _setup_logging()
    try:
        check_auth_settings(Settings())
    except ConfigError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from exc
    uvicorn.run(
        f"{__package__}.serving.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,  # the app logs each request as one JSON line with its request id
    )


if __name__ == "__main__":
    app()
