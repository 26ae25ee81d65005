"""`copier update` never loses a project's own work.

Each test builds a throwaway git copy of the template, tags it, renders a project and commits;
then changes the template, tags again, and updates the project through copier's Python API.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from copier import run_update

from .conftest import DEFAULT_PACKAGE, REPO, check_params_args, commit_all, git, render, run


@pytest.fixture
def project(template_copy: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "project"
    render(dst, template_copy, vcs_ref="v1.0.0")
    assert "Initial commit" in git(dst, "log", "--oneline")
    return dst


def _release(tpl: Path, tag: str, change: Callable[[Path], None]) -> None:
    change(tpl / "template")
    commit_all(tpl, f"template {tag}")
    git(tpl, "tag", tag)


def _update(project: Path, tag: str, *, tasks: bool = False, **answers: object) -> None:
    run_update(
        project,
        data=answers,
        defaults=True,
        overwrite=True,
        unsafe=True,
        skip_tasks=not tasks,
        vcs_ref=tag,
        quiet=True,
    )


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def _leftovers(project: Path) -> list[str]:
    found = [str(p.relative_to(project)) for p in project.rglob("*.rej")]
    for path in project.rglob("*"):
        if (
            path.is_file()
            and ".git" not in path.parts
            and path.suffix in (".py", ".md", ".yaml", ".toml", "")
        ):
            text = path.read_text(errors="ignore")
            if "<<<<<<< " in text or ">>>>>>> " in text:
                found.append(str(path.relative_to(project)))
    return found


def test_template_change_arrives_and_user_edits_survive(template_copy: Path, project: Path):
    features = project / "src" / DEFAULT_PACKAGE / "features.py"
    _append(features, "\n\n# author: my own helper lives below\n")
    _append(project / "Makefile", "\nmine:  ## my own target\n\techo mine\n")
    (project / "NOTES.md").write_text("my notes\n")
    lock = "version = 1\n# resolved by `uv lock` in the project\n"
    (project / "uv.lock").write_text(lock)
    readme = project / "README.md"
    readme.write_text(
        readme.read_text().replace("## Problem\n", "## Problem\n\nMy own framing of the problem.\n")
    )
    commit_all(project, "my work")

    def change(template: Path) -> None:
        makefile = template / "Makefile.jinja"
        makefile.write_text("# Updated by template v2.\n" + makefile.read_text())
        (template / "CONTRIBUTING.md").write_text(
            "# Contributing\n\nRun `make test` before you push.\n"
        )
        readme_template = template / "README.md.jinja"
        readme_template.write_text(readme_template.read_text() + "\nTemplate v2 footer.\n")

    _release(template_copy, "v2.0.0", change)
    _update(project, "v2.0.0")

    makefile = (project / "Makefile").read_text()
    assert makefile.startswith("# Updated by template v2.")  # 1. the change arrived
    assert (project / "CONTRIBUTING.md").is_file()
    assert "mine:  ## my own target" in makefile  # 2. edits in a file the template changed
    assert features.read_text().endswith(
        "# author: my own helper lives below\n"
    )  # ... and elsewhere
    assert (project / "NOTES.md").read_text() == "my notes\n"
    assert (project / "uv.lock").read_text() == lock  # the template ships no uv.lock to merge
    assert not list((REPO / "template").glob("uv.lock*"))
    assert "My own framing of the problem." in readme.read_text()  # the author's README text
    assert readme.read_text().endswith("\nTemplate v2 footer.\n")  # beside the template's change
    assert _leftovers(project) == []  # 3. no markers, no .rej
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v2.0.0"


def test_real_conflict_is_reported_not_resolved(template_copy: Path, project: Path):
    makefile = project / "Makefile"
    makefile.write_text(makefile.read_text().replace("uv run pytest", "uv run pytest -x --mine"))
    commit_all(project, "my test flags")
    _release(
        template_copy,
        "v2.0.0",
        lambda t: (t / "Makefile.jinja").write_text(
            (t / "Makefile.jinja")
            .read_text()
            .replace("uv run pytest", "uv run pytest --template-v2")
        ),
    )
    _update(project, "v2.0.0")
    text = makefile.read_text()
    assert "<<<<<<< " in text and ">>>>>>> " in text  # 4. both sides kept, for the author to choose
    assert "--mine" in text and "--template-v2" in text


def test_update_without_template_change_leaves_git_clean(template_copy: Path, project: Path):
    _release(
        template_copy,
        "v1.0.1",
        lambda t: (t.parent / "CHANGELOG.md").write_text("outside template/\n"),
    )
    _update(project, "v1.0.1")
    # 5. nothing changes but the recorded template version
    assert git(project, "status", "--porcelain").splitlines() == [" M .copier-answers.yml"]
    changed = [
        line
        for line in git(project, "diff", "--unified=0", ".copier-answers.yml").splitlines()
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]
    assert changed == ["-_commit: v1.0.0", "+_commit: v1.0.1"], changed


def test_user_data_models_tracking_and_params_are_never_overwritten(
    template_copy: Path, project: Path
):
    params = project / "params.yaml"
    params.write_text(re.sub(r"n_estimators: \d+", "n_estimators: 321", params.read_text()))
    commit_all(project, "tuned")
    owned = {
        "data/raw/penguins.csv": "species\nmine\n",
        "models/model.json": '{"mine": true}\n',
        "mlflow.db": "not really sqlite",
        "mlartifacts/1/x.txt": "artifact",
    }
    for name, content in owned.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(content)

    def change(template: Path) -> None:
        source = template / "params.yaml.jinja"
        source.write_text(re.sub(r"n_estimators: \d+", "n_estimators: 500", source.read_text()))
        (template / "models").mkdir(exist_ok=True)
        (template / "models" / "model.json").write_text("{}\n")

    _release(template_copy, "v2.0.0", change)
    _update(project, "v2.0.0")
    assert "n_estimators: 321" in params.read_text()
    for name, content in owned.items():
        assert (project / name).read_text() == content, name


def test_changing_an_answer_adds_and_removes_exactly_the_conditional_files(
    template_copy: Path, project: Path, capfd: pytest.CaptureFixture[str]
):
    snapshot = project / "src" / DEFAULT_PACKAGE / "data" / "snapshots" / "penguins.csv"
    before = set(git(project, "ls-files").splitlines())
    assert snapshot.is_file()
    capfd.readouterr()
    _update(project, "v1.0.0", tasks=True, dataset="wine")  # tasks: the update-only params check
    told = capfd.readouterr().out
    commit_all(project, "switch to wine")
    after = set(git(project, "ls-files").splitlines())
    removed = before - after
    assert removed == {
        f"src/{DEFAULT_PACKAGE}/data/snapshots/penguins.csv",
        f"src/{DEFAULT_PACKAGE}/data/snapshots/penguins.md",
    }
    assert after - before == set()
    # params.yaml is the user's (kept as it was); the update task says what no longer matches.
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["data"]["source"] == "snapshot" and params["data"]["name"] == "penguins"
    assert "no longer matches your answers" in told
    assert "set data.source to 'sklearn' and data.name to 'wine'" in told


def test_params_check_is_silent_when_params_match_and_names_each_mismatch(tmp_path: Path):
    def check(dataset: str, engine: str) -> list[str]:
        """The update task's command line for these answers, as copier.yml computes it."""
        script = str(REPO / "hooks" / "check_params.py")
        return [sys.executable, script, *check_params_args(dataset, engine)]

    matching = "engine: pandas\ndata:\n  name: wine\n  source: sklearn\n"
    (tmp_path / "params.yaml").write_text(matching)
    assert run(check("wine", "pandas"), tmp_path).stdout == ""
    told = run(check("wine", "spark"), tmp_path).stdout
    assert "engine is 'pandas': set it to 'spark'" in told
    assert "there is no spark: section" in told
    told = run(check("local_csv", "pandas"), tmp_path).stdout
    assert "set data.source to 'local'" in told
    assert "data.name" not in told  # the user's own CSV may be named anything
    (tmp_path / "params.yaml").write_text(matching.replace("name: wine", "name: penguins"))
    told = run(check("wine", "pandas"), tmp_path).stdout
    assert "data.name is 'penguins': set it to 'wine'" in told
    (tmp_path / "params.yaml").write_text("data: [unclosed\n")
    broken = run(check("wine", "pandas"), tmp_path)
    assert broken.returncode == 0 and "not valid YAML" in broken.stdout


def test_docker_answer_toggles_its_files(template_copy: Path, project: Path):
    docker_files = {"Dockerfile", ".dockerignore", "compose.yaml"}
    tracked = set(git(project, "ls-files").splitlines())
    if not docker_files & tracked:
        pytest.fail(
            "the default render should include the Docker files (include_docker defaults to true)"
        )
    _update(project, "v1.0.0", include_docker=False)
    commit_all(project, "no docker")
    assert not docker_files & set(git(project, "ls-files").splitlines())
    _update(project, "v1.0.0", include_docker=True)
    commit_all(project, "docker again")
    assert docker_files <= set(git(project, "ls-files").splitlines())
