"""The project's command line: one command per pipeline stage, plus `import-data`, `serve`, `predict`,
`monitor` and `provenance`.

The stage commands are made from the registry in `stages/` (one module per stage), so a new stage
gets its command by being registered there. `dvc repro` runs the stages in order (see dvc.yaml);
each command also runs on its own.
Expected failures (bad data, bad params) print one clear message and exit 1, without a traceback.
"""

from __future__ import annotations

import atexit
import functools
import gc
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from . import stages
from .config import ConfigError, Params, Paths, get_paths, load_params, tracking_uri

app = typer.Typer(
    help=f"Run the pipeline stages ({', '.join(stages.STAGES)}) or serve the model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
log = logging.getLogger(__name__)

# By the time a stage's process exits it holds every object pandas, scikit-learn and MLflow made on
# import, and Python's final garbage collections walk them all: 1 to 2 s per stage process (measured
# on the train stage), for memory the OS takes back anyway. atexit handlers run before those
# collections, so freezing the objects there makes the collections skip them; the commands close
# what they write before they return, and the rest of the exit (handlers, flushes) is unchanged.
atexit.register(gc.freeze)


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


def _stage_command(name: str) -> Callable[..., None]:
    """The command for stage `name`: its help is the stage's `run` docstring."""
    module = stages.load(name)
    if stages.tracks(module):

        def tracked(
            no_tracking: Annotated[
                bool,
                typer.Option("--no-tracking", help="Skip MLflow (faster; nothing is logged or registered)."),
            ] = False,
        ) -> None:
            params, paths = _context()
            stages.run(name, params, paths, track=not no_tracking)

        command: Callable[..., None] = tracked
    else:

        def untracked() -> None:
            params, paths = _context()
            stages.run(name, params, paths)

        command = untracked
    command.__name__ = command.__qualname__ = name
    command.__doc__ = module.run.__doc__
    return stage(command)


# One command per registered stage, in pipeline order; `cli.train(no_tracking=True)` calls one directly.
COMMANDS: dict[str, Callable[..., None]] = {name: _stage_command(name) for name in stages.STAGES}
for _name, _command in COMMANDS.items():
    app.command(name=_name)(_command)


def __getattr__(name: str) -> Callable[..., None]:
    """`cli.collect()`, `cli.train(no_tracking=True)`: each stage's command as a plain function."""
    try:
        return COMMANDS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


@app.command(name="import-data")
def import_data(
    path: Annotated[Path, typer.Argument(help="Your CSV file (a new version of it, or another one).")],
) -> None:
    """Copy a CSV into data/external/ (versioned by DVC, shared by `dvc push`); record where it came from."""
    from .data import external

    _setup_logging()
    params, paths = _context()
    current = Path(params.data.path or "")
    keeps_name = params.data.source == "local" and current.parent.as_posix() == external.EXTERNAL_DIR
    try:
        imported = external.import_file(path, paths.root, current.name if keeps_name else None)
    except (OSError, ValueError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(f"imported {imported.original} as {imported.file} (sha256 {imported.sha256[:12]}...).")
    if not keeps_name:
        typer.echo(f"Now set `source: local` and `path: {imported.file}` under data: in params.yaml.")
    typer.echo(
        f"Next: `uv run dvc repro` (DVC records the new file in {external.DVC_FILE} and re-runs what it "
        f"feeds), then commit {external.DVC_FILE}, dvc.lock and params.yaml, and `uv run dvc push`."
    )


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


# Exit codes of `predict` and `monitor`, for CI and cron: 1 is any other error.
EXIT_BAD_INPUT = 2
EXIT_DRIFT = 3


def _fail(exc: Exception, code: int) -> typer.Exit:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=code)


@app.command()
def predict(
    input_file: Annotated[
        Path, typer.Argument(metavar="INPUT", help="CSV or Parquet file of rows to score.")
    ],
    output: Annotated[
        Path,
        typer.Argument(metavar="OUTPUT", help="Where the scores go (.csv or .parquet); rejects beside it."),
    ],
    model_uri: Annotated[
        str | None,
        typer.Option(help="Score with a registry model, e.g. models:/<name>@champion (default: models/)."),
    ] = None,
    chunk_size: Annotated[
        int, typer.Option(min=1, help="Rows read, validated and scored at a time.")
    ] = 10_000,
) -> None:
    """Score a file in chunks: OUTPUT gets the scored rows, OUTPUT's `.rejects.csv` the rest, with why.

    Exit codes: 0 done, 2 bad input (the message says what), 1 any other error.
    """
    from .config import Settings
    from .data.io import DataError
    from .scoring import score_file
    from .serving.artifact import ModelNotFoundError

    _setup_logging()
    settings = Settings()
    try:
        summary = score_file(
            input_file,
            output,
            settings.model_path or get_paths().models,
            model_uri=model_uri,
            tracking_uri=tracking_uri(get_paths(), settings) if model_uri else None,
            chunk_rows=chunk_size,
            progress=sys.stderr.isatty(),
        )
    except DataError as exc:
        raise _fail(exc, EXIT_BAD_INPUT) from exc
    except (ConfigError, ModelNotFoundError) as exc:
        raise _fail(exc, 1) from exc
    typer.echo(summary.describe())


@app.command()
def monitor(
    input_file: Annotated[
        Path | None,
        typer.Argument(
            metavar="[INPUT]", help="CSV or Parquet file of feature rows (default: the prediction log)."
        ),
    ] = None,
) -> None:
    """Check new inputs for drift against the training reference; write reports/MONITORING.md.

    Exit codes: 0 no drift, 3 drift, 2 bad input (the message says what), 1 any other error.
    """
    from .data.io import DataError
    from .monitoring.monitor import run_monitor

    _setup_logging()
    try:
        params, paths = _context()
        result = run_monitor(params, paths, input_file)
    except DataError as exc:
        raise _fail(exc, EXIT_BAD_INPUT) from exc
    except ConfigError as exc:
        raise _fail(exc, 1) from exc
    typer.echo(f"{result.verdict()}; report: {paths.monitoring_md.relative_to(paths.root)}")
    if result.drifted:
        raise typer.Exit(code=EXIT_DRIFT)


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
