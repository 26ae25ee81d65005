"""A teammate's fresh clone: git clone, `make setup` and `dvc pull` give an up-to-date project.

For the default render (a copy of the session's piped project) and a bring-your-own-CSV render:
run the pipeline, commit and `dvc push`; clone into another folder (the author's CSV moved away);
set up as the generated README says; then `dvc status` is clean, `dvc repro` runs nothing and the
served model answers. The BYO project also runs its own tests in the clone (once: the default
render's are run elsewhere), and shares a `dvc exp run` result the same way.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

import pytest
import yaml

from .conftest import (
    DEFAULT_PACKAGE,
    MainJob,
    Project,
    clean_env,
    commit_all,
    free_port,
    git,
    makefile_command,
    predict,
    render,
    run,
    serving,
    synced,
)

BYO_PACKAGE = "teammate_houses"
# Files the issue names: none of them may hold a path of the author's machine.
COMMITTED = ("dvc.yaml", "dvc.lock", "params.yaml", ".dvc/config", "README.md", "reports/REPORT.md")


def _write_houses(path: Path) -> None:
    rng = random.Random(7)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rooms", "area", "city", "label"])
        for _ in range(120):
            rooms, area = rng.randint(1, 6), round(rng.gauss(80, 20), 1)
            label = "big" if rooms * area > 250 else "small"
            writer.writerow([rooms, area, rng.choice("abc"), label])


def _share(project: Project, message: str) -> None:
    """What the author does after `make pipeline`: commit, then `dvc push`."""
    commit_all(project.path, message)
    project.uv("run", "dvc", "push", timeout=300)


def _teammate(origin: Project, folder: Path) -> Project:
    """Clone into another folder and follow the README: make setup, point the remote, dvc pull."""
    run(["git", "clone", "--quiet", str(origin.path), str(folder)], folder.parent)
    clone = Project(folder, origin.package)
    printed = clone.run(makefile_command(folder, "setup"), timeout=900).stdout
    storage = (origin.path / ".dvc").joinpath(_remote_url(origin)).resolve()
    assert "storage" in printed  # make setup says where DVC looks for the remote
    # The clone is not beside the author's project: point it at the remote, as the README says.
    clone.uv("run", "dvc", "remote", "modify", "--local", "storage", "url", str(storage))
    clone.uv("run", "dvc", "pull", timeout=300)
    return clone


def _remote_url(project: Project) -> str:
    config = (project.path / ".dvc" / "config").read_text()
    return next(line.split("=", 1)[1].strip() for line in config.splitlines() if "url =" in line)


def _assert_up_to_date(clone: Project) -> None:
    status = clone.uv("run", "dvc", "status").stdout
    assert "Data and pipelines are up to date" in status, status
    repro = clone.uv("run", "dvc", "repro", timeout=300)
    assert "Running stage" not in repro.stdout + repro.stderr, repro.stdout
    assert git(clone.path, "status", "--porcelain") == ""


def _assert_no_machine_path(project: Project, *paths: Path) -> None:
    for name in COMMITTED:
        text = (project.path / name).read_text()
        for path in paths:
            assert str(path) not in text, f"{name} names {path}, which a clone does not have"


def _assert_serves(clone: Project, tmp_path: Path) -> None:
    port = free_port()
    example = json.loads((clone.path / "models" / "model.json").read_text())["example"]
    argv = ["uv", "run", clone.package, "serve", "--port", str(port)]
    with serving(argv, clone.path, clean_env(), tmp_path / "serve.log", port) as base:
        assert len(predict(base, example)["predictions"]) == 1


@pytest.mark.slow
def test_a_clone_of_the_default_project_is_up_to_date_after_dvc_pull(
    main_job: MainJob, tmp_path: Path
):
    author = Project(tmp_path / "author" / "project", DEFAULT_PACKAGE)
    ignore = shutil.ignore_patterns(".venv", "mlflow.db", "mlartifacts")
    shutil.copytree(main_job.project.path, author.path, symlinks=True, ignore=ignore)
    synced(author.path, DEFAULT_PACKAGE)
    _share(author, "Pipeline outputs")
    # Where the pipeline ran, where this worker's copy is, and where the author's copy is.
    _assert_no_machine_path(author, main_job.ran_in, main_job.project.path, author.path)

    clone = _teammate(author, _folder(tmp_path / "elsewhere" / "copy"))
    _assert_up_to_date(clone)
    _assert_serves(clone, tmp_path)


@pytest.mark.slow
def test_a_bring_your_own_csv_project_needs_no_file_of_the_authors_machine(tmp_path: Path):
    original = tmp_path / "downloads" / "houses.csv"
    _write_houses(original)
    path = render(
        tmp_path / "author" / "project",
        project_name="Teammate Houses",
        dataset="local_csv",
        local_csv_path=str(original),
        target_column="label",
        task="classification",
    )
    params = yaml.safe_load((path / "params.yaml").read_text())
    assert params["data"]["path"] == "data/external/houses.csv"
    author = synced(path, BYO_PACKAGE)
    params["train"].update(model="linear", cv_folds=2)  # the data's journey is tested here
    (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    author.uv("run", "dvc", "repro", timeout=900)
    _share(author, "Pipeline outputs")
    _assert_no_machine_path(author, original, author.path)
    metadata = json.loads((path / "data" / "raw" / "metadata.json").read_text())
    assert (metadata["location"], metadata["path"]) == ("data/external/houses.csv", str(original))

    original.rename(tmp_path / "moved-away.csv")  # a teammate does not have it
    clone = _teammate(author, _folder(tmp_path / "elsewhere" / "copy"))
    _assert_up_to_date(clone)
    clone.run(makefile_command(clone.path, "test"), timeout=900)
    _assert_serves(clone, tmp_path)

    # An experiment promoted to the workspace and committed travels the same way.
    author.uv("run", "dvc", "exp", "run", "-S", "train.linear.C=0.5", timeout=900)
    _share(author, "Keep the C=0.5 experiment")
    later = _teammate(author, _folder(tmp_path / "elsewhere" / "later"))
    _assert_up_to_date(later)
    assert yaml.safe_load((later.path / "params.yaml").read_text())["train"]["linear"]["C"] == 0.5


def _folder(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
