"""Shared fixtures for the template's tests.

Rendering and running a project is expensive, so each combination of answers is rendered once per
test session (session-scoped fixtures) and shared by every test that needs it. All projects use
the same uv cache, so installs after the first are mostly links.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from copier import run_copy

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PACKAGE = "penguin_species_classifier"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for commands run inside a generated project.

    The template's own virtualenv must not leak in: the project has its own `.venv`.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    }
    env.update(
        {
            "UV_NO_PROGRESS": "1",
            "PYTHONUNBUFFERED": "1",
            "MPLBACKEND": "Agg",
            "GIT_AUTHOR_NAME": "mlfolio tests",
            "GIT_AUTHOR_EMAIL": "tests@example.com",
            "GIT_COMMITTER_NAME": "mlfolio tests",
            "GIT_COMMITTER_EMAIL": "tests@example.com",
        }
    )
    env.update(extra)
    return env


def run(
    cmd: Sequence[str] | str,
    cwd: Path,
    *,
    timeout: float = 600,
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command in a project; on failure, raise with its full output (readable in CI logs)."""
    result = subprocess.run(
        cmd,
        cwd=cwd,
        shell=isinstance(cmd, str),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(env or clean_env()),
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"command failed ({result.returncode}): {cmd}\n--- stdout ---\n{result.stdout[-6000:]}"
            f"\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


def render(
    dst: Path,
    src: Path | str = REPO,
    *,
    tasks: bool = True,
    vcs_ref: str = "HEAD",
    **answers: Any,
) -> Path:
    """Render the template with `answers` (defaults for the rest) into `dst`.

    `vcs_ref="HEAD"` renders the working tree, uncommitted changes included. Without it copier
    would render the newest tag, so a test run would check the last release, not the code.
    """
    run_copy(
        str(src),
        dst,
        data=answers,
        vcs_ref=vcs_ref,
        defaults=True,
        unsafe=True,
        skip_tasks=not tasks,
        quiet=True,
    )
    return dst


@dataclass(frozen=True)
class Project:
    """A rendered project, with helpers to run commands inside it."""

    path: Path
    package: str

    def run(self, cmd: Sequence[str] | str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run(cmd, self.path, **kwargs)

    def uv(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run([uv_bin(), *args], self.path, **kwargs)

    def stages(self, *calls: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run CLI commands, e.g. `stages("collect()", "train(no_tracking=True)")`, in one process.

        Each command is a plain function of the project's `cli` module, so the imports are paid
        once instead of once per stage. The CLI's own process per stage runs in other tests.
        """
        code = f"from {self.package} import cli; " + "; ".join(f"cli.{call}" for call in calls)
        python = str(self.path / ".venv" / "bin" / "python")
        return run([python, "-c", code], self.path, **{"timeout": 900, **kwargs})


def uv_bin() -> str:
    found = shutil.which("uv")
    if found is None:
        pytest.fail("uv is not on PATH; install it with 'pip install uv' (see README).")
    return found


def synced(path: Path, package: str) -> Project:
    project = Project(path, package)
    project.uv("sync", "--frozen" if (path / "uv.lock").exists() else "--quiet", timeout=900)
    return project


@pytest.fixture(scope="session")
def default_render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default answers, rendered with tasks (git init + first commit), not installed."""
    return render(tmp_path_factory.mktemp("default") / "project")


@pytest.fixture(scope="session")
def default_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The default answers in a render of its own, installed with `uv sync`.

    Separate from `default_render`, which must stay exactly as copier wrote it (no .venv, no
    uv.lock).
    """
    return synced(render(tmp_path_factory.mktemp("default-synced") / "project"), DEFAULT_PACKAGE)


def readme_commands() -> list[str]:
    """The shell commands of the README's ```bash blocks, in order."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    return [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip() and not line.startswith("#")
    ]


@dataclass(frozen=True)
class MainJob:
    """The README's main command, run once per session: its output and the project it made."""

    command: str
    output: str
    seconds: float
    project: Project


@pytest.fixture(scope="session")
def main_job(tmp_path_factory: pytest.TempPathFactory) -> MainJob:
    """Run the README's first command (render -> uv sync -> dvc repro -> served prediction)."""
    command = readme_commands()[0]
    folder = tmp_path_factory.mktemp("main-job") / "project"
    words = shlex.split(command)
    words[-1] = str(folder)  # the folder the README names
    started = time.perf_counter()
    result = run(words, REPO, timeout=1800)
    return MainJob(
        command,
        result.stdout + result.stderr,
        time.perf_counter() - started,
        Project(folder, DEFAULT_PACKAGE),
    )


@pytest.fixture(scope="session")
def piped_project(main_job: MainJob) -> Iterator[Project]:
    """The default project after the README's main command: every stage has run once."""
    yield main_job.project


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


# ---- servers started by tests: 127.0.0.1 only, stopped by their own PID ----


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_health(
    base: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited with {process.returncode}:\n{log.read_text()[-4000:]}"
            )
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"no 200 from {base}/health within {timeout}s:\n{log.read_text()[-4000:]}")


@contextmanager
def serving(argv: list[str], cwd: Path, env: dict[str, str], log: Path, port: int) -> Iterator[str]:
    """Start a server on 127.0.0.1:`port`, wait for /health, and stop it (by its PID) afterwards."""
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_for_health(base, process, log)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
