"""Benchmark the inner loop of the generated project: how long the commands a user repeats take.

    uv run python bench/loop/run.py                         # render the default project, measure
    uv run python bench/loop/run.py --keep /tmp/loop        # keep the project there afterwards
    uv run python bench/loop/run.py --project /tmp/loop     # reuse a project whose pipeline ran
    uv run python bench/loop/run.py --json results.json

Side by side, in one run, on one project:
1. answers -> served: scripts/lifecycle.py (render, `uv sync`, `uv run dvc repro`, serve and one
   prediction), with its own step times;
2. floor: one Python process that runs every stage in order (so it imports every module the
   pipeline uses, once) and then runs each stage again, timed in-process: the floor is the process's
   wall time less that second pass, that is its start, its imports and each stage's work once;
3. full `uv run dvc repro --force`: the same six stages, each in its own process, as DVC runs them;
4. no-op `uv run dvc repro`: nothing changed, nothing runs (median of three);
5. one-param experiment: `uv run dvc exp run -S train.random_forest.n_estimators=...` with the data
   stages cached (train, evaluate and report run).
The project's outputs and its MLflow store get the runs these make; use a project made for this.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "penguin_species_classifier"
GOALS = {  # issue 14
    "full_repro_vs_floor": 1.5,
    "answers_to_served_s": 40.0,
    "one_param_experiment_s": 15.0,
    "noop_repro_s": 1.0,
}

# Runs in the project's virtualenv. The first pass pays every import once; the second is the work.
FLOOR_SNIPPET = """
import json, sys, time
from pathlib import Path
from {package} import stages
from {package}.config import get_paths, load_params

paths = get_paths(Path.cwd())
passes = []
for _ in range(2):
    times = {{}}
    for name in stages.STAGES:
        started = time.perf_counter()
        stages.run(name, load_params(paths.params), paths)
        times[name] = time.perf_counter() - started
    passes.append(times)
print("FLOOR " + json.dumps({{"first": passes[0], "work": passes[1]}}))
import gc
gc.freeze()  # as the CLI does at exit (cli.py): the floor pays no avoidable final collections
"""


def project_env(keep_bytecode_setting: bool) -> dict[str, str]:
    """The template's virtualenv must not leak into the project's commands.

    PYTHONDONTWRITEBYTECODE (set in some containers and CI images) makes every process compile
    every module it imports again: 2.5 s of the featurize stage's 3.5 s here. A user's machine
    writes the bytecode on the first run, so it is dropped unless --keep-bytecode-setting.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH")
    }
    if not keep_bytecode_setting:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update({"UV_NO_PROGRESS": "1", "MPLBACKEND": "Agg"})
    return env


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Run `cmd`; its wall time and its output. Exit with the output if it fails."""
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(
            f"failed: {' '.join(cmd)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return wall, result.stdout + result.stderr


def answers_to_served(folder: Path, env: dict[str, str]) -> dict[str, float]:
    """scripts/lifecycle.py into `folder`, with its own step times (render, sync, repro, serve)."""
    wall, output = timed(
        [sys.executable, str(REPO / "scripts" / "lifecycle.py"), str(folder)], REPO, env
    )
    steps = [float(s) for s in re.findall(r"done in ([\d.]+)s", output)]
    if len(steps) != 4:
        raise SystemExit(f"scripts/lifecycle.py printed {len(steps)} step times, not 4:\n{output}")
    names = ("render", "uv_sync", "dvc_repro", "serve_and_predict")
    return {**dict(zip(names, steps, strict=True)), "total": sum(steps), "wall": wall}


def floor(project: Path, package: str, env: dict[str, str]) -> dict[str, Any]:
    """One process: every stage once (imports paid once), then every stage again (the work)."""
    cmd = ["uv", "run", "--no-sync", "python", "-c", FLOOR_SNIPPET.format(package=package)]
    wall, output = timed(cmd, project, env)
    found = re.search(r"^FLOOR (.*)$", output, re.MULTILINE)
    if found is None:
        raise SystemExit(f"the floor process printed no timings:\n{output[-3000:]}")
    passes = json.loads(found.group(1))
    second = sum(passes["work"].values())
    return {"floor_s": wall - second, "process_s": wall, **passes}


def median_of(runs: int, cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    return statistics.median(timed(cmd, cwd, env)[0] for _ in range(runs))


def measure(project: Path, package: str, env: dict[str, str]) -> dict[str, Any]:
    """Floor, full repro, no-op repro and a one-param experiment, in that order, on `project`."""
    results: dict[str, Any] = {"floor": floor(project, package, env)}
    results["full_repro_s"] = timed(["uv", "run", "dvc", "repro", "--force"], project, env)[0]
    results["noop_repro_s"] = median_of(3, ["uv", "run", "dvc", "repro"], project, env)
    trees = 60 + int(time.time()) % 40  # a value not in the run cache, so the stages really run
    results["one_param_experiment_s"] = timed(
        ["uv", "run", "dvc", "exp", "run", "-S", f"train.random_forest.n_estimators={trees}"],
        project,
        env,
    )[0]
    results["full_repro_vs_floor"] = results["full_repro_s"] / results["floor"]["floor_s"]
    return results


def show(results: dict[str, Any]) -> None:
    floor_ = results["floor"]
    print("\nper stage, in-process (s)   first pass (imports + work)   work alone")
    for name, first in floor_["first"].items():
        print(f"  {name:<26}{first:>10.2f}{floor_['work'][name]:>26.2f}")
    print(f"\n  floor (one process, imports once + each stage's work): {floor_['floor_s']:.1f}s")
    rows = [
        ("full dvc repro / floor", results["full_repro_vs_floor"], "full_repro_vs_floor", "x"),
        (
            "answers -> served",
            results.get("lifecycle", {}).get("total"),
            "answers_to_served_s",
            "s",
        ),
        ("one-param dvc exp run", results["one_param_experiment_s"], "one_param_experiment_s", "s"),
        ("no-op dvc repro (median of 3)", results["noop_repro_s"], "noop_repro_s", "s"),
    ]
    print(f"\n  {'measure':<32}{'value':>9}{'goal':>9}")
    for label, value, goal, unit in rows:
        if value is None:
            print(f"  {label:<32}{'-':>9}{GOALS[goal]:>8.1f}{unit}  (not run: --project)")
            continue
        verdict = "ok" if value <= GOALS[goal] else "over"
        print(f"  {label:<32}{value:>8.2f}{unit}{GOALS[goal]:>8.1f}{unit}  {verdict}")
    print(f"  (full dvc repro took {results['full_repro_s']:.1f}s)")
    if "lifecycle" in results:
        steps = ", ".join(f"{k} {v:.1f}s" for k, v in results["lifecycle"].items() if k != "wall")
        print(f"  lifecycle steps: {steps}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--project", type=Path, help="a generated project whose pipeline has run")
    parser.add_argument("--package", default=PACKAGE, help="its package (default: %(default)s)")
    parser.add_argument("--keep", type=Path, help="render into this new folder and keep it")
    parser.add_argument(
        "--keep-bytecode-setting",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE from the environment (every process compiles again)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    env = project_env(args.keep_bytecode_setting)
    results: dict[str, Any] = {
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f}",
        "python_dont_write_bytecode": "PYTHONDONTWRITEBYTECODE" in env,
    }
    kept = "kept" if results["python_dont_write_bytecode"] else "unset"
    print(f"{results['machine']}; PYTHONDONTWRITEBYTECODE {kept}")
    with tempfile.TemporaryDirectory(prefix="bench-loop-") as scratch:
        project = (
            args.project.resolve() if args.project else (args.keep or Path(scratch) / "project")
        )
        if args.project is None:
            print(f"answers -> served: scripts/lifecycle.py {project} ...", flush=True)
            results["lifecycle"] = answers_to_served(project.resolve(), env)
        print("floor, full repro, no-op repro, one-param experiment ...", flush=True)
        results.update(measure(project, args.package, env))
    show(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
