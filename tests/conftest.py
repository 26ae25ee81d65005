"""Shared fixtures and helpers for the template's tests.

Test modules never import one another: what two of them share (constants, helpers, fixtures)
lives here, and pytest hands the fixtures to every module.

Rendering and running a project is expensive, so each combination of answers is rendered once per
test session (session-scoped fixtures) and shared by every test that needs it. All projects use
the same uv cache, so installs after the first are mostly links.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from copier import run_copy
from filelock import FileLock

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PACKAGE = "penguin_species_classifier"
IMAGE_PACKAGE = "image_classifier"  # the default answers with modality=image
# One penguins row (a Gentoo), as the API, batch scoring and the demo page take it.
GENTOO = {
    "island": "Biscoe",
    "bill_length_mm": 47.3,
    "bill_depth_mm": 13.8,
    "flipper_length_mm": 216,
    "body_mass_g": 4725,
    "sex": "female",
    "year": 2008,
}
# What Copier reads of the repository: a copy of these is a template.
TEMPLATE_PARTS = ("copier.yml", "template", "hooks", "partials")
# Jinja that survived rendering: an expression or a block tag.
JINJA_LEFTOVER = re.compile(
    r"\{\{-?\s*[A-Za-z_][\w.]*\s*(\||\}\}|\()|\{%-?\s*(if|elif|else|endif|for|endfor|set|raw|endraw)\b"
)


# The slowest test files, slowest first (their summed durations in a CI run, 2026-12-01 22:44:
# test_training 165 s down to test_questions 18 s). The suite runs with `--dist=loadfile`: each
# worker holds the file it runs and one more, so a long file picked up late leaves the other
# worker idle until it ends (a run spent 270 s of 970 that way). Long files first, short ones
# last, fills the end of the run with small pieces. pytest-xdist would reorder the files by their
# number of tests instead, so addopts turns that off (--no-loadscope-reorder). The rest keep
# pytest's order after these; the list is a speed hint only, and a file missing from it is fine.
SLOWEST_FILES = (
    "test_training.py", "test_matrix.py", "test_team.py", "test_image.py", "test_ci_files.py",
    "test_spark.py", "test_stage_deps.py", "test_clone.py", "test_serving.py",
    "test_deep_learning.py", "test_data.py", "test_update.py", "test_extend_source.py",
    "test_extend_family.py", "test_quality.py", "test_e2e.py", "test_extend_route.py",
    "test_questions.py",
)  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put SLOWEST_FILES first (a stable sort: each file keeps its tests' order)."""
    rank = {name: index for index, name in enumerate(SLOWEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


# A CPU build of PyTorch that lies on this machine's disk. A deep-learning project's pyproject.toml
# takes torch from the index named "pytorch-cpu" (PyTorch's CPU wheels); the tests cannot reach
# it, so they point that name at a one-package index holding this file (and never download a
# CUDA build).
TORCH_WHEEL_DIR = Path(os.environ.get("MLFOLIO_TORCH_WHEELS", "/opt/wheels"))


def torch_index() -> Path | None:
    """A local index (PEP 503) with the CPU torch wheels on disk, or None when there are none."""
    wheels = sorted(TORCH_WHEEL_DIR.glob("torch-*+cpu-*.whl")) if TORCH_WHEEL_DIR.is_dir() else []
    if not wheels:
        return None
    root = Path(tempfile.gettempdir()) / f"mlfolio-torch-index-{os.getuid()}"
    page = root / "torch" / "index.html"
    links = "".join(f'<a href="{w.as_uri()}">{w.name}</a>\n' for w in wheels)
    html = f"<!DOCTYPE html><html><body>\n{links}</body></html>\n"
    if not page.is_file() or page.read_text() != html:
        page.parent.mkdir(parents=True, exist_ok=True)
        tmp = page.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(html)
        tmp.replace(page)  # atomic: two test workers may write it at once
    return root


def makefile_targets(text: str) -> dict[str, str]:
    """A Makefile's targets and their commands (each is one line, which docs/faq.md shows as it is,
    the way a Windows user types it)."""
    return dict(re.findall(r"^([A-Za-z][\w-]*):[^\n]*\n\t([^\n]+)$", text, flags=re.MULTILINE))


def makefile_command(project: Path, target: str) -> str:
    """The command of a rendered Makefile's target."""
    return makefile_targets((project / "Makefile").read_text())[target].strip()


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
    index = torch_index()
    if index is not None:
        env["UV_INDEX"] = f"pytorch-cpu={index.as_uri()}"
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


def copier_config() -> dict[str, Any]:
    return yaml.safe_load((REPO / "copier.yml").read_text(encoding="utf-8"))


def copier_datasets() -> dict[str, dict[str, str]]:
    """copier.yml's hidden `datasets` table: dataset -> source (and target, task if built in)."""
    table = copier_config()["datasets"]["default"]
    return yaml.safe_load(table) if isinstance(table, str) else table


def builtin_tasks() -> dict[str, str]:
    """Built-in dataset -> the task it fixes (the user's own CSV leaves the task to the answer)."""
    return {name: entry["task"] for name, entry in copier_datasets().items() if "task" in entry}


def check_params_args(dataset: str, engine: str) -> list[str]:
    """The update task's arguments for these answers, rendered from copier.yml's `_tasks` entry.

    Rendering the entry itself (not restating it) checks the wiring from the `datasets` table to
    hooks/check_params.py. Its Jinja is plain enough for jinja2 without Copier's extensions.
    """
    config = copier_config()
    command = next(
        task["command"] for task in config["_tasks"] if "check_params.py" in str(task["command"])
    )
    # Copier's own settings: the expression renders answers into an answer, not HTML.
    jinja = jinja2.Environment(undefined=jinja2.StrictUndefined)  # noqa: S701
    answers: dict[str, Any] = {
        "dataset": dataset,
        "engine": engine,
        "datasets": copier_datasets(),
        "modality": "tabular",  # the update task runs for tabular projects only
    }
    computed = config["dataset_source"]["default"]
    answers["dataset_source"] = jinja.from_string(computed).render(answers)
    script = next(i for i, word in enumerate(command) if word.endswith("check_params.py"))
    return [jinja.from_string(word).render(answers) for word in command[script + 1 :]]


def copy_template(folder: Path) -> Path:
    """Copy what Copier reads of this repository (the working tree, uncommitted edits too)."""
    folder.mkdir(parents=True, exist_ok=True)
    for part in TEMPLATE_PARTS:
        source = REPO / part
        if source.is_dir():
            caches = shutil.ignore_patterns("__pycache__", ".ruff_cache", ".pytest_cache")
            shutil.copytree(source, folder / part, ignore=caches)
        else:
            shutil.copy2(source, folder / part)
    return folder


def git(cwd: Path, *args: str) -> str:
    return run(["git", *args], cwd, env=clean_env()).stdout


def commit_all(cwd: Path, message: str) -> None:
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "--no-verify", "-m", message)


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


@pytest.fixture(scope="session")
def working_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template as it is checked out, in a folder that is not a git repository.

    Copier renders such a folder as it is, without cloning the repository first: half a second
    saved on each render of the option matrix and the dataset checks. (Renders that record the
    template version use REPO.)
    """
    return copy_template(tmp_path_factory.mktemp("working-tree"))


@pytest.fixture
def template_copy(tmp_path: Path) -> Path:
    """A git repository holding the template, tagged v1.0.0 (for `copier update` and provenance)."""
    tpl = copy_template(tmp_path / "tpl")
    git(tpl, "init", "-q")
    commit_all(tpl, "template v1")
    git(tpl, "tag", "v1.0.0")
    return tpl


CUSTOMIZING = REPO / "docs" / "customizing.md"


def customizing_section(heading: str) -> str:
    """One `## heading` section of docs/customizing.md: the extension walkthroughs tests perform."""
    text = CUSTOMIZING.read_text(encoding="utf-8")
    assert f"## {heading}\n" in text, f"docs/customizing.md has no '## {heading}' section"
    return text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def docs_module(heading: str, folder: str) -> tuple[str, str]:
    """The path a walkthrough says to save its one module at (under src/<package_name>/`folder`/),
    and the module: the section's one Python block."""
    section = customizing_section(heading)
    named = re.search(rf"save this as `src/<package_name>/({folder}/\w+\.py)`", section)
    assert named, f"the '{heading}' section no longer says where to save the module"
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, f"the '{heading}' section should show exactly one Python file"
    return named.group(1), blocks[0]


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
    """The README's main command, run once per test run: its output, where it ran, and this
    worker's copy of the project it made."""

    command: str
    output: str
    seconds: float
    ran_in: Path  # the project folder the command made; no test changes it
    project: Project  # a copy of it, this worker's own


@pytest.fixture(scope="session")
def main_job(tmp_path_factory: pytest.TempPathFactory) -> MainJob:
    """Run the README's first command (render -> uv sync -> dvc repro -> served prediction).

    It runs once per test run: the first worker to ask runs it while holding a lock, and every
    worker (that one too) takes a copy of the project, its own `.venv` synced from the lock file,
    so that one worker's tests never see another's changes. Saves a 45 to 75 s job per worker.
    """
    command = readme_commands()[0]
    # Each xdist worker has its own basetemp (.../pytest-N/popen-gwK); their parent is the run's.
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "main-job"
    folder.mkdir(exist_ok=True)
    record = folder / "main-job.json"
    with FileLock(folder / "lock"):
        if not record.is_file():
            words = shlex.split(command)
            words[-1] = str(folder / "project")  # the folder the README names
            started = time.perf_counter()
            result = run(words, REPO, timeout=1800)
            seconds = time.perf_counter() - started
            output = result.stdout + result.stderr
            record.write_text(json.dumps({"output": output, "seconds": seconds}))
    done = json.loads(record.read_text())
    copy = tmp_path_factory.mktemp("piped") / "project"
    shutil.copytree(folder / "project", copy, symlinks=True, ignore=shutil.ignore_patterns(".venv"))
    return MainJob(
        command, done["output"], done["seconds"], folder / "project", synced(copy, DEFAULT_PACKAGE)
    )


@pytest.fixture(scope="session")
def piped_project(main_job: MainJob) -> Project:
    """The default project after the README's main command (every stage has run once): this
    worker's copy, which its tests may change (and put back) as they need."""
    return main_job.project


@pytest.fixture(scope="session")
def deep_learning_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """deep_learning=True (defaults otherwise), synced (torch from the local CPU index), piped.

    `train.selection.rule: model` serves the MLP: on penguins cross-validation ties it with the
    linear baseline, and the tie goes to the simpler model. The baseline is still trained and
    reported, and the champion gate decides as for any model.
    """
    path = render(tmp_path_factory.mktemp("deep-learning") / "project", deep_learning=True)
    params_file = path / "params.yaml"
    text = params_file.read_text()
    assert "  model: mlp  #" in text and "    rule: cv  #" in text
    params_file.write_text(text.replace("    rule: cv  #", "    rule: model  #", 1))
    project = synced(path, DEFAULT_PACKAGE)
    project.uv("run", "dvc", "repro", timeout=1200)
    return project


# ---- the Spark engine: built only when a test asks (it needs Java 17+ and a large install) ----

# Short-job settings for a 2-core CI machine: small shuffles, a JIT that starts fast.
TEST_SPARK = {
    "shuffle_partitions": 4,
    "ui": False,
    "conf": {"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"},
}


@pytest.fixture(scope="session")
def spark_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The default answers with engine=spark, installed, tuned for tests."""
    path = render(tmp_path_factory.mktemp("spark") / "project", engine="spark")
    params = yaml.safe_load((path / "params.yaml").read_text())
    params["spark"].update(TEST_SPARK)
    (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return synced(path, DEFAULT_PACKAGE)


@pytest.fixture(scope="session")
def spark_pipeline(spark_project: Project) -> Project:
    """The Spark render after `uv run dvc repro`, the way a user runs it (no SPARK_* set)."""
    env = {k: v for k, v in clean_env().items() if not k.startswith(("SPARK_", "PYSPARK_"))}
    spark_project.uv("run", "dvc", "repro", timeout=1200, env=env)
    return spark_project


# ---- an image project (modality: image), piped once; every image check runs on it ----

# Few epochs: the checks are about the path from upload to answer, not about accuracy.
TEST_IMAGE_TRAIN = {"epochs": 3, "patience": 2}


@pytest.fixture(scope="session")
def image_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """modality=image (digits), installed, after `uv run dvc repro` with a short training."""
    path = render(tmp_path_factory.mktemp("image") / "project", modality="image")
    params = yaml.safe_load((path / "params.yaml").read_text())
    params["train"].update(TEST_IMAGE_TRAIN)
    (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    project = synced(path, IMAGE_PACKAGE)
    project.uv("run", "dvc", "repro", timeout=900)
    return project


# ---- every polish answer on (notebook, docs site, GitHub CI), with the piped outputs ----

PIPELINE_OUTPUTS = ("data", "models", "reports", "mlartifacts")
METRIC_DROP = 0.25  # how much lower the base branch's model scored on the primary metric


def primary_metric(project: Project) -> str:
    return yaml.safe_load((project.path / "params.yaml").read_text())["train"]["primary_metric"]


@pytest.fixture(scope="session")
def polished(piped_project: Project, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The default answers plus notebook, docs and GitHub CI, with the piped outputs copied in.

    It is a git repository on `main` with an `origin` whose `main` holds the same project with a
    model that scored METRIC_DROP lower: a pull request from here improves on it. The CI, notebook
    and docs-site tests share it (session scope: one render and one install for the three).
    """
    root = tmp_path_factory.mktemp("polished")
    answers = {"include_notebooks": True, "include_docs": True, "ci": "github"}
    path = render(root / "project", tasks=False, **answers)
    for name in PIPELINE_OUTPUTS:
        if (piped_project.path / name).exists():
            shutil.copytree(piped_project.path / name, path / name)
    shutil.copytree(piped_project.path / ".dvc" / "cache", path / ".dvc" / "cache")
    for name in ("dvc.lock", "mlflow.db"):
        shutil.copy2(piped_project.path / name, path / name)
    project = synced(path, DEFAULT_PACKAGE)
    project.run(["git", "init", "--quiet", "--initial-branch=main"])
    project.run(["git", "add", "--all"])
    project.run(["git", "commit", "--quiet", "--no-verify", "-m", "Project and pipeline outputs"])

    origin, base = root / "origin.git", root / "base"
    run(["git", "clone", "--quiet", "--bare", str(path), str(origin)], root)
    run(["git", "clone", "--quiet", origin.as_uri(), str(base)], root)
    metrics = json.loads((base / "reports" / "metrics.json").read_text())
    metrics[primary_metric(project)] -= METRIC_DROP
    (base / "reports" / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    run(["git", "commit", "--quiet", "--all", "-m", "An older, worse model"], base)
    run(["git", "push", "--quiet", "origin", "main"], base)
    project.run(["git", "remote", "add", "origin", origin.as_uri()])
    return project


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


def predict(base: str, instance: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
    """POST one instance to a served model's /predict and return the decoded answer."""
    request = urllib.request.Request(
        f"{base}/predict",
        data=json.dumps({"instances": [instance]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@contextmanager
def serving(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    log: Path,
    port: int,
    timeout: float = 60,
) -> Iterator[str]:
    """Start a server on 127.0.0.1:`port`, wait for /health, and stop it (by its PID) afterwards."""
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_for_health(base, process, log, timeout)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
