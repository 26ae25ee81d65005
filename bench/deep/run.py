"""Benchmark the deep-learning project: the MLP's training time per epoch, and what torch would
cost the serving runtime.

    uv run python bench/deep/run.py                      # render deep_learning=true, sync, pipeline
    uv run python bench/deep/run.py --project /path/p    # reuse a deep-learning project that ran

In one run (see README.md), side by side:
- the MLP's training time per epoch on the project's training split (the featurized rows, the
  fitted ColumnTransformer, the params.yaml hyperparameters, early stopping off so every repeat
  runs the same epochs), against one fit of the linear baseline on the same rows;
- the installed size of the serving runtime (`uv sync --no-default-groups`, what the Dockerfile
  installs) in a scratch virtualenv, and of that runtime with torch and the packages torch needs
  added (their files as the training environment holds them), and of the training environment.

Where PyTorch's CPU index is unreachable, point its name at a local one before running, e.g.
UV_INDEX=pytorch-cpu=file:///tmp/mlfolio-torch-index-0 (tests/conftest.py's torch_index()).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "penguin_species_classifier"

# In the project's virtualenv: seconds per MLP epoch and per linear fit, on the training split.
EPOCH_SNIPPET = """
import json, time
from pathlib import Path
import numpy as np, pandas as pd, torch
from {package}.config import get_paths, load_params
from {package}.data.io import read_json
from {package}.data.schema import DatasetSchema
from {package}.features import model_frame
from {package}.training.train import make_pipeline

paths = get_paths()
params = load_params(paths.params)
schema = DatasetSchema.model_validate(read_json(paths.features))
train = pd.read_parquet(paths.train)
task = schema.target.task
x, y = model_frame(train, schema), train[schema.target.name]
epochs = {epochs}
out = {{"rows": len(train), "epochs": epochs, "torch": torch.__version__, "mlp": [], "linear": []}}
hyper = params.train.hyperparameters(task, "mlp") | {{"max_epochs": epochs, "patience": epochs + 1}}
# Untimed: the first fit imports what torch's optimiser and scikit-learn load on first use.
make_pipeline(schema, "mlp", params, hyper | {{"max_epochs": 1}}).fit(x, y)
make_pipeline(schema, "linear", params).fit(x, y)
for _ in range({repeats}):
    pipeline = make_pipeline(schema, "mlp", params, hyper)
    features = pipeline.named_steps["preprocess"].fit_transform(x)
    network = pipeline.named_steps["model"]
    network.fit(features, y)  # fit_seconds_: the training loop alone
    out["mlp"].append(network.fit_seconds_ / network.n_epochs_)
    linear = make_pipeline(schema, "linear", params)
    started = time.perf_counter()
    linear.fit(x, y)
    out["linear"].append(time.perf_counter() - started)
print(json.dumps(out))
"""

# In a virtualenv: bytes installed per distribution (its RECORD), by normalised name.
SIZES_SNIPPET = """
import json, re
from importlib import metadata
sizes, requires = {}, {}
for dist in metadata.distributions():
    name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
    total = 0
    for file in dist.files or []:
        path = file.locate()
        if path.is_file():
            total += path.stat().st_size
    sizes[name] = total
    requires[name] = [
        re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", r).group(0)).lower()
        for r in dist.requires or []
        if "extra ==" not in r
    ]
print(json.dumps({"sizes": sizes, "requires": requires}))
"""


def clean_env(**extra: str) -> dict[str, str]:
    dropped = ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    return {**{k: v for k, v in os.environ.items() if k not in dropped}, **extra}


def sh(cmd: list[str], cwd: Path, timeout: float = 1800, **env: str) -> str:
    result = subprocess.run(
        cmd,
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def prepare_project(path: Path | None, workdir: Path) -> Path:
    """The project to benchmark: the given one, or a deep-learning render with its pipeline run."""
    if path is not None:
        project = path.resolve()
        if not (project / "src" / PACKAGE / "families" / "mlp.py").is_file():
            sys.exit(f"{project} has no MLP family: render it with deep_learning=true.")
        if not (project / "data" / "processed" / "train.parquet").is_file():
            sys.exit(f"{project}/data/processed not found: run 'uv run dvc repro' there first.")
        return project
    from copier import run_copy

    project = workdir / "project"
    print(f"rendering deep_learning=true into {project} ...", flush=True)
    run_copy(
        str(REPO),
        project,
        data={"deep_learning": True},
        vcs_ref="HEAD",
        defaults=True,
        unsafe=True,
        quiet=True,
    )
    print("uv sync, then dvc repro (trains the MLP: a few minutes) ...", flush=True)
    sh(["uv", "sync"], project)
    sh(["uv", "run", "dvc", "repro"], project)
    return project


def installed(python: Path, cwd: Path) -> dict[str, Any]:
    return json.loads(sh([str(python), "-c", SIZES_SNIPPET], cwd).strip().splitlines()[-1])


def closure(requires: dict[str, list[str]], root: str) -> set[str]:
    """`root` and every distribution it requires, transitively, among those installed."""
    found, frontier = {root}, [root]
    while frontier:
        for name in requires.get(frontier.pop(), []):
            if name in requires and name not in found:
                found.add(name)
                frontier.append(name)
    return found


def sizes(project: Path, workdir: Path) -> dict[str, Any]:
    """MB installed: the runtime alone, the runtime with torch's closure, the training env."""
    runtime = workdir / "runtime"
    sh(
        ["uv", "sync", "--no-default-groups", "--frozen", "--quiet"],
        project,
        UV_PROJECT_ENVIRONMENT=str(runtime),
    )
    served = installed(runtime / "bin" / "python", project)
    training = installed(project / ".venv" / "bin" / "python", project)
    runtime_bytes = sum(served["sizes"].values())
    torch_needs = closure(training["requires"], "torch") - set(served["sizes"])
    added = sum(training["sizes"][name] for name in torch_needs)
    probe = [str(runtime / "bin" / "python"), "-c", "import torch"]
    if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        sys.exit("torch imports in the runtime virtualenv: the runtime install is wrong")
    return {
        "runtime_mb": runtime_bytes / 1e6,
        "runtime_with_torch_mb": (runtime_bytes + added) / 1e6,
        "torch_closure": sorted(torch_needs),
        "training_mb": sum(training["sizes"].values()) / 1e6,
    }


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--project", type=Path, help="a deep-learning project whose pipeline ran")
    parser.add_argument("--epochs", type=int, default=30, help="epochs per timed fit (default 30)")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits of each (default 3)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-deep-") as scratch:
        workdir = Path(scratch)
        project = prepare_project(args.project, workdir)
        python = project / ".venv" / "bin" / "python"
        code = EPOCH_SNIPPET.format(package=PACKAGE, epochs=args.epochs, repeats=args.repeats)
        timing = json.loads(sh([str(python), "-c", code], project).strip().splitlines()[-1])
        size = sizes(project, workdir)
    epoch, linear = median(timing["mlp"]), median(timing["linear"])
    print(f"\ntorch {timing['torch']}, {timing['rows']} training rows, medians of {args.repeats}")
    print(f"{'':38}{'figure':>12}{'ratio':>10}")
    print(f"{'linear baseline, one whole fit':38}{1000 * linear:>9.1f} ms{1.0:>9.2f}x")
    print(f"{'MLP, one epoch':38}{1000 * epoch:>9.1f} ms{epoch / linear:>9.2f}x")
    whole = epoch * args.epochs
    print(f"{f'MLP, {args.epochs} epochs':38}{whole:>10.2f} s{whole / linear:>9.1f}x")
    runtime, with_torch = size["runtime_mb"], size["runtime_with_torch_mb"]
    print(f"{'runtime installed (no torch)':38}{runtime:>9.0f} MB{1.0:>9.2f}x")
    print(f"{'runtime with torch added':38}{with_torch:>9.0f} MB{with_torch / runtime:>9.2f}x")
    training = size["training_mb"]
    print(f"{'training environment':38}{training:>9.0f} MB{training / runtime:>9.2f}x")
    print(f"torch brings: {', '.join(size['torch_closure'])}")
    if args.json:
        args.json.write_text(json.dumps({"timing": timing, "sizes": size}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
