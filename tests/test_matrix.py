"""The option matrix: pairwise combinations of answers, each rendered and checked fast.

Every choice of every question appears at least once, and every pair of choices of the
questions below appears together in some render (greedy all-pairs, deterministic). Each render
is checked for: files present or absent as the answers say, lint, Jinja leftovers, parseable
YAML/TOML, and versions consistent across files.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import runpy
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import (
    JINJA_LEFTOVER,
    REPO,
    builtin_tasks,
    check_params_args,
    clean_env,
    copier_datasets,
    render,
    run,
    uv_bin,
)

FACTORS: dict[str, list[Any]] = {
    "dataset": list(copier_datasets()),
    "dvc_remote": ["local", "s3", "gcs", "azure", "none"],
    "license": ["MIT", "Apache-2.0", "BSD-3-Clause", "proprietary"],
    "python_version": ["3.11", "3.12", "3.13"],
    "ci": ["github", "gitlab", "none"],
    "engine": ["pandas", "spark"],
    "task": ["classification", "regression"],
    "tuning": [False, True],
    "deep_learning": [False, True],
    "api_auth": [False, True],
    "include_docker": [True, False],
    "include_notebooks": [False, True],
    "include_docs": [False, True],
}
CHECK_PARAMS = runpy.run_path(str(REPO / "hooks" / "check_params.py"))
BUILTIN_TASK = builtin_tasks()


Pair = tuple[tuple[str, Any], tuple[str, Any]]


def _pairs(row: dict[str, Any]) -> set[Pair]:
    items = sorted(row.items(), key=lambda kv: kv[0])
    return set(itertools.combinations(items, 2))


def _possible(row: dict[str, Any]) -> bool:
    """Built-in datasets fix the task; only combinations that can really occur count."""
    dataset, task = row.get("dataset"), row.get("task")
    return not (dataset in BUILTIN_TASK and task is not None and BUILTIN_TASK[dataset] != task)


def pairwise_rows() -> list[dict[str, Any]]:
    """Greedy all-pairs: seed each row with an uncovered pair, fill the rest to cover the most."""
    names = sorted(FACTORS)
    wanted: set[Pair] = set()
    for a, b in itertools.combinations(names, 2):
        for va, vb in itertools.product(FACTORS[a], FACTORS[b]):
            if _possible({a: va, b: vb}):
                wanted.add(((a, va), (b, vb)))
    rows: list[dict[str, Any]] = []
    while wanted:
        (a, va), (b, vb) = min(wanted, key=lambda p: (str(p[0]), str(p[1])))
        row: dict[str, Any] = {a: va, b: vb}
        if row.get("dataset") in BUILTIN_TASK:
            row["task"] = BUILTIN_TASK[row["dataset"]]
        for name in names:
            if name in row:
                continue

            def gain(
                value: Any, name: str = name, row: dict[str, Any] = row, wanted: set[Pair] = wanted
            ) -> tuple[int, int]:
                trial = {**row, name: value}
                if trial.get("dataset") in BUILTIN_TASK:
                    trial["task"] = BUILTIN_TASK[trial["dataset"]]
                if not _possible(trial):
                    return (-1, 0)
                return (len(_pairs(trial) & wanted), -FACTORS[name].index(value))

            row[name] = max(FACTORS[name], key=gain)
            if row.get("dataset") in BUILTIN_TASK:
                row["task"] = BUILTIN_TASK[row["dataset"]]
        wanted -= _pairs(row)
        rows.append(row)
    return rows


ROWS = pairwise_rows()


def _answers(row: dict[str, Any], tmp: Path) -> dict[str, Any]:
    answers = {k: v for k, v in row.items() if k != "task" or row["dataset"] not in BUILTIN_TASK}
    if row["dataset"] == "csv_url":
        answers |= {"csv_url": "https://example.com/data/houses.csv", "target_column": "price"}
    if row["dataset"] == "local_csv":
        csv = tmp / "my data.csv"
        csv.write_text("x,y,label\n1,2,a\n")
        answers |= {"local_csv_path": str(csv), "target_column": "label"}
    if row["dvc_remote"] in ("s3", "gcs", "azure"):
        answers["dvc_remote_url"] = {"s3": "s3://b/p", "gcs": "gs://b/p", "azure": "azure://c/p"}[
            row["dvc_remote"]
        ]
    return answers


def test_matrix_covers_every_choice_and_every_pair():
    for name, values in FACTORS.items():
        assert {row[name] for row in ROWS} >= set(values), name
    covered = set().union(*(_pairs(row) for row in ROWS))
    for a, b in itertools.combinations(sorted(FACTORS), 2):
        for va, vb in itertools.product(FACTORS[a], FACTORS[b]):
            if _possible({a: va, b: vb}):
                assert ((a, va), (b, vb)) in covered, (a, va, b, vb)
    assert len(ROWS) < 45, f"{len(ROWS)} rows: the greedy pairwise selection got worse"


@pytest.fixture(scope="module")
def shared_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One environment for every render's `make typecheck` and `make lint`, instead of one each.

    A render with every answer that adds code or tools (Spark, Optuna, notebooks, PyTorch) is synced
    once (torch from the local CPU index that clean_env names);
    `uv run` in each render uses its venv as is (UV_NO_SYNC), and mypy keeps one cache, so the
    third-party packages are analysed once and each render checks only its own src/.
    """
    root = tmp_path_factory.mktemp("shared-env")
    union = render(
        root / "p",
        tasks=False,
        engine="spark",
        tuning=True,
        include_notebooks=True,
        deep_learning=True,
    )
    run([uv_bin(), "sync", "--quiet", "--no-install-project"], union, timeout=900)
    return clean_env(
        UV_PROJECT_ENVIRONMENT=str(union / ".venv"),
        UV_NO_SYNC="1",
        MYPY_CACHE_DIR=str(root / "mypy-cache"),
    )


# src/ holds plain Python, the same in every render of a dataset and an engine: a tree already
# type-checked (same files, same bytes) is not checked again.
_TYPECHECKED: set[str] = set()


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize(
    "row", ROWS, ids=[f"{i:02d}-{r['dataset']}-{r['engine']}-{r['ci']}" for i, r in enumerate(ROWS)]
)
def test_combination_renders_clean(
    row: dict[str, Any], tmp_path: Path, working_tree: Path, shared_env: dict[str, str]
):
    project = render(tmp_path / "p", working_tree, tasks=False, **_answers(row, tmp_path))
    files = {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}
    package = yaml.safe_load((project / ".copier-answers.yml").read_text())["package_name"]

    expected = {
        "Dockerfile": row["include_docker"],
        "compose.yaml": row["include_docker"],
        ".dockerignore": row["include_docker"],
        ".github/workflows/ci.yml": row["ci"] == "github",
        ".gitlab-ci.yml": row["ci"] == "gitlab",
        "notebooks/01-exploration.ipynb": row["include_notebooks"],
        "mkdocs.yml": row["include_docs"],
        f"src/{package}/data/snapshots/penguins.csv": row["dataset"] == "penguins",
        f"src/{package}/spark/session.py": row["engine"] == "spark",
        f"src/{package}/families/mlp.py": row["deep_learning"],
        f"src/{package}/training/network_export.py": row["deep_learning"],
    }
    wrong = {name: want for name, want in expected.items() if (name in files) != want}
    assert not wrong, f"present/absent mismatch (True = should exist): {wrong}"

    leftovers = [
        f
        for f in files
        if f.endswith((".py", ".toml", ".yaml", ".yml", ".md", ".cfg", ".ipynb", ".html"))
        and JINJA_LEFTOVER.search(re.sub(r"\$\{\{.*?\}\}", "", (project / f).read_text()))
    ]
    assert not leftovers, leftovers
    for name in files:
        if name.endswith((".yaml", ".yml")):
            yaml.safe_load((project / name).read_text())
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())

    version = row["python_version"]
    assert (project / ".python-version").read_text().strip() == version
    assert pyproject["project"]["requires-python"] == f">={version}"
    assert pyproject["tool"]["ruff"]["target-version"] == f"py{version.replace('.', '')}"
    if row["include_docker"]:
        assert f"ARG PYTHON_VERSION={version}\n" in (project / "Dockerfile").read_text()
    if row["ci"] == "gitlab":
        image = yaml.safe_load((project / ".gitlab-ci.yml").read_text())["default"]["image"]
        assert image.endswith(f":python{version}-bookworm"), image
    # GitHub's setup-uv and every local uv command read .python-version (checked above).

    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["data"]["task"] == row["task"]
    # The update task's idea of a matching params.yaml is the template's own.
    assert CHECK_PARAMS["problems"](params, *check_params_args(row["dataset"], row["engine"])) == []
    assert params["train"]["primary_metric"] == (
        "f1_macro" if row["task"] == "classification" else "r2"
    )
    dvc_config = (project / ".dvc" / "config").read_text()
    assert ("remote = storage" in dvc_config) == (row["dvc_remote"] != "none")
    groups = " ".join(pyproject["dependency-groups"]["pipeline"])
    extra = {"s3": "dvc[s3]", "gcs": "dvc[gs]", "azure": "dvc[azure]"}.get(row["dvc_remote"])
    assert extra is None or extra in groups
    assert ("torch>=" in groups) == row["deep_learning"]  # training only: never in the runtime
    assert not any(d.startswith("torch") for d in pyproject["project"]["dependencies"])
    if row["deep_learning"]:
        assert params["train"]["model"] == "mlp"
    license_text = (project / "LICENSE").read_text()
    assert {
        "MIT": "MIT License",
        "Apache-2.0": "Apache License",
        "BSD-3-Clause": "BSD 3-Clause",
        "proprietary": "All rights reserved",
    }[row["license"]] in license_text

    # `make lint` (every pre-commit hook; mypy's is `make typecheck`, below) and `make typecheck`.
    makefile = (project / "Makefile").read_text()
    assert "\ntypecheck:" in makefile and "\n\tuv run mypy\n" in makefile
    run(["git", "init", "--quiet"], project)
    run(["git", "add", "--all"], project)
    run(["make", "lint"], project, env=shared_env | {"SKIP": "mypy"})
    src = _tree_digest(project / "src")
    if src not in _TYPECHECKED:
        run(["make", "typecheck"], project, env=shared_env)
        _TYPECHECKED.add(src)


def test_example_answers_cover_every_question_and_render(tmp_path: Path):
    questions = {
        name
        for name, spec in yaml.safe_load((REPO / "copier.yml").read_text()).items()
        if not name.startswith("_") and not (isinstance(spec, dict) and spec.get("when") is False)
    }
    text = (REPO / "example-answers.yml").read_text()
    documented = set(re.findall(r"^#? ?([a-z0-9_]+):", text, flags=re.MULTILINE))
    assert questions <= documented, questions - documented
    answers = yaml.safe_load(text)
    csv = tmp_path / "houses.csv"
    csv.write_text("rooms,price\n3,100\n")
    answers["local_csv_path"] = str(csv)
    project = render(tmp_path / "p", tasks=False, **answers)
    assert yaml.safe_load((project / "params.yaml").read_text())["data"]["target"] == "price"
