"""Benchmark the cost of MLflow tracking in the generated train stage.

    uv run python bench/tracking/run.py                      # render the default project, measure
    uv run python bench/tracking/run.py --project /path/p    # reuse a project (its data stages ran)
    uv run python bench/tracking/run.py --repeats 5 --json results.json

Three ways to run the very same training (baseline + random forest, 5-fold CV each, export to
skops and ONNX), each in a fresh process as `dvc repro` would start it, side by side:
- plain:   the train stage without tracking (`train --no-tracking`);
- tracked: the train stage as the pipeline runs it;
- naive:   the plain stage, then MLflow logging the way tutorials do it: log params and metrics,
           `mlflow.sklearn.log_model(..., input_example=..., registered_model_name=...)` with
           MLflow inferring requirements and signature, all after training, in the same thread.
Each variant runs `--repeats` times, interleaved, against a warm store (the database exists) and
against a brand-new database; the medians of wall time and CPU time are compared with plain.
Runs go to stores in a temporary folder: the project's own mlflow.db is never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1].parent
PACKAGE = "penguin_species_classifier"
VARIANTS = ("plain", "tracked", "naive")

# Runs in the project's virtualenv, one process per measurement.
# Each variant runs the train stage as its command does (`stages.run`, which opens the MLflow run
# before importing the model stack), and exits as the command does (gc.freeze at exit).
VARIANT_SNIPPET = """
import atexit
import gc
import sys
atexit.register(gc.freeze)
variant = sys.argv[1]
from {package} import stages
from {package}.config import get_paths, load_params

paths = get_paths()
params = load_params(paths.params)
card = stages.run("train", params, paths, track=variant == "tracked")
if variant == "naive":
    import json
    import mlflow
    import pandas as pd
    from {package}.data.schema import DatasetSchema
    from {package}.features import model_frame
    from {package}.model_io import load_skops, trusted_types
    from {package}.training.registry import flatten

    schema = DatasetSchema.model_validate(json.loads(paths.features.read_text()))
    example = model_frame(pd.read_parquet(paths.train).head(5), schema)
    mlflow.set_experiment(params.project)
    with mlflow.start_run():
        mlflow.log_params(flatten(params.model_dump(mode="json")))
        mlflow.log_metrics(card["metrics"])
        mlflow.log_metrics({{f"baseline_{{k}}": v for k, v in card["baseline_metrics"].items()}})
        mlflow.sklearn.log_model(
            load_skops(paths.pipeline),
            name="model",
            input_example=example,
            registered_model_name=params.project,
            skops_trusted_types=trusted_types(),  # MLflow 3.17 refuses a forest without it
        )
"""


@dataclass
class Sample:
    variant: str
    store: str  # "warm" (the database exists) or "new" (first run: the database is created)
    wall_s: float
    cpu_s: float


def project_env(**extra: str) -> dict[str, str]:
    """The template's own virtualenv must not leak into the project's commands."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH")
    }
    env.pop(
        "PYTHONDONTWRITEBYTECODE", None
    )  # measure warm starts, as a user's second run sees them
    env.update({"UV_NO_PROGRESS": "1", "MPLBACKEND": "Agg", **extra})
    return env


def sh(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        cmd, cwd=cwd, env=env or project_env(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(
            f"failed: {' '.join(cmd)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )


def prepare(project: Path | None, workdir: Path) -> tuple[Path, Path]:
    """(folder to run in, its Python): the default render, or a scratch copy of `project`'s inputs.

    A given project is never written to: the runs happen in a folder holding copies of its
    params.yaml, dvc.lock and data/processed, with the project's own virtualenv.
    """
    if project is not None:
        if not (project / "data" / "processed" / "features.json").is_file():
            raise SystemExit(
                f"{project} has no data/processed yet: run `uv run dvc repro featurize` in it."
            )
        scratch = workdir / "inputs"
        shutil.copytree(project / "data" / "processed", scratch / "data" / "processed")
        for name in ("params.yaml", "dvc.lock", ".copier-answers.yml"):
            if (project / name).is_file():
                shutil.copy2(project / name, scratch / name)
        return scratch, project / ".venv" / "bin" / "python"
    from copier import run_copy

    folder = workdir / "project"
    print(f"rendering the default project into {folder} ...", flush=True)
    run_copy(
        str(REPO), folder, vcs_ref="HEAD", defaults=True, unsafe=True, skip_tasks=True, quiet=True
    )
    sh(["uv", "sync", "--quiet"], folder)
    for stage in ("collect", "clean", "featurize"):
        sh(["uv", "run", PACKAGE, stage], folder)
    return folder, folder / ".venv" / "bin" / "python"


def measure(project: Path, python: Path, variant: str, tracking_uri: str) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, the child process) of one variant run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    sh(
        [str(python), "-c", VARIANT_SNIPPET.format(package=PACKAGE), variant],
        project,
        project_env(MLFLOW_TRACKING_URI=tracking_uri),
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def run(project: Path, python: Path, workdir: Path, repeats: int) -> list[Sample]:
    stores = workdir / "stores"
    stores.mkdir(parents=True, exist_ok=True)
    warm = {v: f"sqlite:///{stores / f'warm-{v}.db'}" for v in VARIANTS}
    print("warm-up (bytecode, warm databases) ...", flush=True)
    for variant in VARIANTS:
        measure(project, python, variant, warm[variant])
    samples = []
    for round_ in range(1, repeats + 1):
        for variant in VARIANTS:
            for store in ("warm", "new"):
                uri = (
                    warm[variant]
                    if store == "warm"
                    else f"sqlite:///{stores / f'new-{variant}-{round_}.db'}"
                )
                wall, cpu = measure(project, python, variant, uri)
                samples.append(Sample(variant, store, wall, cpu))
                print(
                    f"  round {round_}: {variant:8s} {store:4s} store"
                    f"  {wall:6.2f} s wall  {cpu:6.2f} s CPU",
                    flush=True,
                )
    return samples


def summarise(samples: list[Sample]) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for variant in VARIANTS:
        for store in ("warm", "new"):
            chosen = [s for s in samples if s.variant == variant and s.store == store]
            table[f"{variant}/{store}"] = {
                "wall_s": statistics.median(s.wall_s for s in chosen),
                "cpu_s": statistics.median(s.cpu_s for s in chosen),
            }
    return table


def report(table: dict[str, dict[str, float]]) -> None:
    print()
    print(
        f"{'variant':16s} {'wall (median)':>14s} {'CPU (median)':>13s}"
        f" {'wall / plain':>13s} {'CPU / plain':>12s}"
    )
    for store in ("warm", "new"):
        plain = table[f"plain/{store}"]
        for variant in VARIANTS:
            row = table[f"{variant}/{store}"]
            name = f"{variant} ({store} db)" if variant != "plain" else "plain"
            print(
                f"{name:16s} {row['wall_s']:12.2f} s {row['cpu_s']:11.2f} s "
                f"{row['wall_s'] / plain['wall_s']:12.2f}x {row['cpu_s'] / plain['cpu_s']:11.2f}x"
            )
        print()
    ours, naive = table["tracked/warm"], table["naive/warm"]
    print(
        f"tracking overhead: ours {ours['wall_s'] / table['plain/warm']['wall_s']:.2f}x "
        "the plain run, "
        f"naive {naive['wall_s'] / table['plain/warm']['wall_s']:.2f}x (wall time, warm store)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--project", type=Path, help="a rendered default project whose data stages have run"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="measurements per variant and store (default 3)"
    )
    parser.add_argument("--json", type=Path, help="also write the samples and medians to this file")
    args = parser.parse_args(argv)
    if shutil.which("uv") is None:
        raise SystemExit("uv is not on PATH; install it with 'pip install uv'.")
    with tempfile.TemporaryDirectory(prefix="bench-tracking-") as tmp:
        workdir = Path(tmp)
        project, python = prepare(args.project.resolve() if args.project else None, workdir)
        print(
            f"{platform.platform()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
        )
        samples = run(project, python, workdir, args.repeats)
        table = summarise(samples)
        report(table)
        print(
            f"load average at the end: {os.getloadavg()[0]:.1f}"
            " (a busy machine inflates wall times)"
        )
        if args.json:
            args.json.write_text(
                json.dumps({"samples": [asdict(s) for s in samples], "medians": table}, indent=2)
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
