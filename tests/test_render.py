"""Fast checks of the default render: files, leftovers, parseable configs, lint-clean code."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from .conftest import DEFAULT_PACKAGE, JINJA_LEFTOVER, REPO, render, run

TEXT_SUFFIXES = {".py", ".toml", ".yaml", ".yml", ".md", ".cfg", ".txt", ".html", ".json", ".ini"}


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts]


def test_default_render_has_the_layout(default_render: Path):
    pkg = default_render / "src" / DEFAULT_PACKAGE
    expected = [
        "README.md",
        "pyproject.toml",
        "params.yaml",
        "dvc.yaml",
        "Makefile",
        ".gitignore",
        ".dvcignore",
        ".pre-commit-config.yaml",
        ".copier-answers.yml",
        "LICENSE",
        ".env.example",
        ".dvc/config",
    ]
    for name in expected:
        assert (default_render / name).is_file(), name
    for module in (
        "config.py",
        "cli.py",
        "features.py",
        "data/collect.py",
        "data/schema.py",
        "data/clean.py",
        "training/train.py",
        "training/evaluate.py",
        "training/registry.py",
        "serving/app.py",
        "serving/schemas.py",
        "serving/static/index.html",
        "reporting/report.py",
        "data/snapshots/penguins.csv",
    ):
        assert (pkg / module).is_file(), module


def layout_table_paths(readme: str) -> set[str]:
    """The paths the README's layout table names: each row's path, and the src/ and tests/ paths
    its description quotes (the outputs it mentions, such as models/model.json, come later)."""
    table = readme.split("| path | what it holds |\n", 1)[1].split("\n\n", 1)[0]
    paths = set()
    for row in table.splitlines()[1:]:
        first, description = row.strip("|").split("|", 1)
        paths |= set(re.findall(r"`([^`]+)`", first))
        paths |= set(re.findall(r"`((?:src|tests)/[^`]+)`", description))
    return paths


def check_layout_table(project: Path) -> None:
    """Every path the table names exists, and every folder of the package and of tests/ is named."""
    named = layout_table_paths((project / "README.md").read_text(encoding="utf-8"))
    missing = sorted(path for path in named if not (project / path).exists())
    assert not missing, f"README.md's layout table names paths the render lacks: {missing}"
    package = project / "src" / DEFAULT_PACKAGE
    folders = [
        *(f"src/{DEFAULT_PACKAGE}/{path.name}/" for path in package.iterdir()),
        *(f"tests/{path.name}/" for path in (project / "tests").iterdir()),
    ]
    unnamed = [
        folder
        for folder in folders
        if (project / folder).is_dir()
        and folder not in named
        and not folder.rstrip("/").rsplit("/", 1)[1].startswith((".", "__"))  # tool caches
    ]
    assert not unnamed, f"README.md's layout table does not name {unnamed}"


def test_readme_layout_table_names_what_exists(
    default_render: Path, working_tree: Path, tmp_path: Path
):
    check_layout_table(default_render)
    spark = render(tmp_path / "spark", working_tree, tasks=False, engine="spark")
    assert f"src/{DEFAULT_PACKAGE}/spark/" in layout_table_paths((spark / "README.md").read_text())
    check_layout_table(spark)


def test_no_jinja_leftovers(default_render: Path):
    leftovers = []
    for path in _files(default_render):
        if path.suffix in TEXT_SUFFIXES or path.name in ("Makefile", "Dockerfile"):
            text = path.read_text(encoding="utf-8")
            if ".github" in path.parts:  # GitHub Actions' own ${{ }} expressions are legitimate
                text = re.sub(r"\$\{\{.*?\}\}", "", text)
            if JINJA_LEFTOVER.search(text):
                leftovers.append(str(path.relative_to(default_render)))
    assert not leftovers, leftovers
    assert not [p for p in _files(default_render) if p.name.endswith(".jinja")]


def test_every_yaml_and_toml_parses(default_render: Path):
    for path in _files(default_render):
        if path.suffix in (".yaml", ".yml"):
            yaml.safe_load(path.read_text())
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text())


def test_ruff_check_and_format_pass(default_render: Path):
    ruff = REPO / ".venv" / "bin" / "ruff"
    ruff_cmd = str(ruff) if ruff.exists() else "ruff"
    run([ruff_cmd, "check", "--no-cache", "."], default_render)
    run([ruff_cmd, "format", "--check", "--no-cache", "."], default_render)


def test_git_repository_with_a_first_commit(default_render: Path):
    log = run(["git", "log", "--oneline"], default_render).stdout
    assert "Initial commit from the mlfolio template" in log
    status = run(["git", "status", "--porcelain"], default_render).stdout
    assert status == "", status


def test_answers_are_recorded(default_render: Path):
    answers = yaml.safe_load((default_render / ".copier-answers.yml").read_text())
    assert answers["package_name"] == DEFAULT_PACKAGE
    assert answers["dataset"] == "penguins"
    assert "_src_path" in answers


def test_params_point_at_the_snapshot_with_its_checksum(default_render: Path):
    params = yaml.safe_load((default_render / "params.yaml").read_text())
    assert params["data"]["source"] == "snapshot"
    assert (
        params["data"]["sha256"]
        == "f204db2c753b0937caac3cb35258562c14f073e4bbc76be24b4c51ce22767a93"
    )
    snapshot = default_render / "src" / DEFAULT_PACKAGE / "data" / "snapshots" / "penguins.csv"
    assert subprocess.run(
        ["sha256sum", str(snapshot)], capture_output=True, text=True
    ).stdout.startswith(params["data"]["sha256"])


def test_dvc_stages_list_only_their_params(default_render: Path):
    stages = yaml.safe_load((default_render / "dvc.yaml").read_text())["stages"]
    assert list(stages) == ["collect", "clean", "featurize", "train", "evaluate", "report"]
    assert "train" not in str(stages["clean"]["params"])
    assert stages["evaluate"]["metrics"][0] == {"reports/metrics.json": {"cache": False}}


# The copy task (hooks/git_init.py), run directly: each way it can go, and a second run.
GIT_INIT = REPO / "hooks" / "git_init.py"


def _git_init(folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": str(folder.parent), "GIT_CONFIG_NOSYSTEM": "1"}
    return run([sys.executable, str(GIT_INIT)], folder, env=base | env)


def test_git_task_commits_without_a_git_identity_and_is_idempotent(tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("# p\n")
    first = _git_init(project)  # HOME has no .gitconfig: no user.name / user.email
    assert "initialised a git repository" in first.stdout
    author = run(["git", "log", "--format=%an <%ae>"], project).stdout.strip()
    assert author == "mlfolio <mlfolio@localhost>"
    second = _git_init(project)
    assert "already inside a git repository; leaving it as it is" in second.stdout
    assert run(["git", "rev-list", "--count", "HEAD"], project).stdout.strip() == "1"


def test_git_task_skips_with_a_message_when_git_is_missing(tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    no_git = tmp_path / "bin"
    no_git.mkdir()
    result = _git_init(project, PATH=str(no_git))
    assert result.returncode == 0
    assert "git is not installed; skipping 'git init'" in result.stdout
    assert not (project / ".git").exists()
