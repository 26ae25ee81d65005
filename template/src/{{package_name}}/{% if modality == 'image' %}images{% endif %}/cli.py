"""The image project's command line: one command per pipeline stage (see stages.py), and `serve`.

`dvc repro` runs the stages in order (dvc.yaml); each command also runs on its own. Expected
failures (bad images, bad params, a failed parity check) print one clear message and exit 1.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from ..config import ConfigError, get_paths
from ..data.io import DataError
from .params import ImagePaths, load_image_params
from .stages import STAGES, TRACKED

app = typer.Typer(
    help=f"Run the image pipeline's stages ({', '.join(STAGES)}) or serve the model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
log = logging.getLogger(__name__)


def _setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("mlflow", "alembic", "urllib3", "matplotlib", "git", "onnxscript", "torch"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _run(name: str, **options: Any) -> None:
    """Run stage `name` with the project's params; a problem the user can fix exits 1 with its message."""
    _setup_logging()
    started = time.perf_counter()
    try:
        paths = ImagePaths(get_paths())
        STAGES[name](load_image_params(paths.base.params), paths, **options)
    except (ConfigError, DataError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from exc
    log.info("%s finished in %.1fs", name, time.perf_counter() - started)


def _command(name: str) -> Callable[..., None]:
    """The command for stage `name`: its help is the stage's docstring."""
    if name in TRACKED:

        def tracked(
            no_tracking: Annotated[
                bool,
                typer.Option("--no-tracking", help="Skip MLflow (faster; nothing is logged or registered)."),
            ] = False,
        ) -> None:
            _run(name, track=not no_tracking)

        command: Callable[..., None] = tracked
    else:

        def untracked() -> None:
            _run(name)

        command = untracked
    command.__name__ = command.__qualname__ = name
    command.__doc__ = STAGES[name].__doc__
    return command


COMMANDS: dict[str, Callable[..., Any]] = {name: _command(name) for name in STAGES}
for _name, _command_fn in COMMANDS.items():
    app.command(name=_name)(_command_fn)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the trained model with FastAPI (demo page at /, API docs at /docs)."""
    import uvicorn

    from ..config import Settings
    from ..serving.security import check_auth_settings

    _setup_logging()
    try:
        check_auth_settings(Settings())
    except ConfigError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from exc
    uvicorn.run(
        f"{__package__}.serving:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,  # the app logs each request as one JSON line with its request id
    )


def _tabular_only(name: str) -> None:
    typer.secho(
        f"`{name}` is for tabular projects (it scores or monitors rows); an image project classifies "
        f"images through its API: `uv run {__package__.split('.')[0]} serve`, then POST an image to /predict.",
        fg=typer.colors.RED,
        err=True,
    )
    raise typer.Exit(code=2)


@app.command()
def predict() -> None:
    """Not in image projects: batch scoring of rows is for tabular projects (use the API's /predict)."""
    _tabular_only("predict")


@app.command()
def monitor() -> None:
    """Not in image projects: drift monitoring of rows is for tabular projects."""
    _tabular_only("monitor")


@app.command(name="import-images")
def import_images(
    folder: Annotated[
        Path, typer.Argument(help="Your folder of class folders (a new version of it, or another).")
    ],
) -> None:
    """Copy a folder of class folders into data/external/images/ (versioned by DVC, shared by `dvc push`)."""
    from .external import IMAGES_DIR, import_folder

    _setup_logging()
    try:
        counts = import_folder(folder, get_paths().root)
    except (OSError, ValueError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(f"imported {sum(counts.values())} files in {len(counts)} classes into {IMAGES_DIR}.")
    typer.echo(
        "Next: set `source: local` and `path: data/external/images` under data: in params.yaml (if not yet), "
        "`uv run dvc repro`, then commit data/external.dvc and dvc.lock, and `uv run dvc push`."
    )


@app.command()
def provenance(
    template: Annotated[
        str | None, typer.Option(help="Template location, if it moved since the project was generated.")
    ] = None,
) -> None:
    """Write PROVENANCE.md: which files the template wrote and which the author wrote."""
    from ..provenance import ProvenanceError, run_provenance

    _setup_logging()
    try:
        result = run_provenance(get_paths().root, template)
    except (ProvenanceError, ConfigError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(f"wrote PROVENANCE.md: {result.summary()}")
