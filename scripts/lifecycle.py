"""The main job: render a project and take it through its whole lifecycle to a served prediction.

    uv run python scripts/lifecycle.py my-penguins

1. render the template with the default answers (or `-d key=value` answers) into the folder;
2. `uv sync` the project's environment;
3. `uv run dvc repro`: collect -> clean -> featurize -> train -> evaluate -> report;
4. start the project's API on 127.0.0.1, ask it for a prediction of a real row, print it;
5. stop the server.

Each step prints its wall time. Any failure stops with the step's output and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml
from copier import run_copy

REPO = Path(__file__).resolve().parents[1]


def project_env() -> dict[str, str]:
    """This repository's virtualenv must not leak into the generated project's commands.

    PYTHONDONTWRITEBYTECODE (set in many containers and CI images) is dropped too: with it, every
    stage process compiles scikit-learn, pandas and MLflow again (about half of each stage's
    time, measured by bench/loop); without it the project's own .venv keeps the bytecode.
    """
    dropped = ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.setdefault("UV_NO_PROGRESS", "1")
    env.setdefault("MPLBACKEND", "Agg")
    return env


def step(title: str) -> float:
    print(f"\n==> {title}", flush=True)
    return time.perf_counter()


def done(started: float) -> None:
    print(f"    done in {time.perf_counter() - started:.1f}s", flush=True)


def sh(cmd: list[str], cwd: Path, timeout: float = 1800) -> None:
    """Run a command, streaming its output; exit with its code if it fails."""
    print("    $ " + " ".join(cmd), flush=True)
    result = subprocess.run(cmd, cwd=cwd, env=project_env(), timeout=timeout, check=False)
    if result.returncode != 0:
        sys.exit(
            f"error: '{' '.join(cmd)}' failed with exit code {result.returncode} "
            "(see its output above)"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_health(base: str, process: subprocess.Popen[bytes], timeout: float = 60) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            sys.exit(
                f"error: the server exited with code {process.returncode} before answering /health"
            )
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    sys.exit(f"error: the server did not answer {base}/health within {timeout:.0f}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server this script started (by its PID): politely, then for sure."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def predict(base: str, instance: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        f"{base}/predict",
        data=json.dumps({"instances": [instance]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def parse_answers(pairs: list[str]) -> dict[str, object]:
    answers: dict[str, object] = {}
    for pair in pairs:
        if "=" not in pair:
            sys.exit(f"error: answer '{pair}' must look like key=value, e.g. -d dataset=wine")
        key, value = pair.split("=", 1)
        answers[key] = yaml.safe_load(value) if value.lower() in ("true", "false") else value
    return answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "folder", type=Path, help="where to create the project (must not exist, or be empty)"
    )
    parser.add_argument(
        "-d", "--data", action="append", default=[], metavar="KEY=VALUE", help="a copier answer"
    )
    args = parser.parse_args(argv)
    folder: Path = args.folder.resolve()
    if folder.exists() and any(folder.iterdir()):
        sys.exit(f"error: {folder} exists and is not empty; choose a new folder name")
    if shutil.which("uv") is None:
        sys.exit("error: uv is not installed; install it with 'pip install uv' and run this again")
    total = time.perf_counter()

    started = step(f"1/4 render the template into {folder}")
    # vcs_ref="HEAD": this checkout as it is, not the newest release tag copier would pick.
    run_copy(
        str(REPO),
        folder,
        data=parse_answers(args.data),
        vcs_ref="HEAD",
        defaults=True,
        unsafe=True,
        quiet=True,
    )
    answers = yaml.safe_load((folder / ".copier-answers.yml").read_text())
    package = answers["package_name"]
    done(started)

    started = step("2/4 install the project's environment (uv sync)")
    sh(["uv", "sync"], folder)
    done(started)

    started = step("3/4 run the pipeline (uv run dvc repro)")
    sh(["uv", "run", "dvc", "repro"], folder)
    print((folder / "reports" / "metrics.json").read_text(), flush=True)
    done(started)

    started = step("4/4 serve the model and ask for a prediction")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = ["uv", "run", "--no-sync", package, "serve", "--host", "127.0.0.1", "--port", str(port)]
    print("    $ " + " ".join(cmd), flush=True)
    server = subprocess.Popen(
        cmd, cwd=folder, env=project_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        print(f"    server ready in {wait_for_health(base, server):.2f}s at {base}", flush=True)
        instance = json.loads((folder / "models" / "model.json").read_text())["example"]
        print(f"    POST /predict {json.dumps({'instances': [instance]})}", flush=True)
        result = predict(base, instance)
    finally:
        stop(server)
    print(f"    prediction: {json.dumps(result)}")
    done(started)
    print(f"\nThe project is in {folder} (total {time.perf_counter() - total:.0f}s).")
    print(f"Next: cd {folder} && make serve   # then open http://127.0.0.1:8000")
    return 0


if __name__ == "__main__":
    sys.exit(main())
