"""Adding an API route is one new module and one registered name: the docs' /classes route, tested.

The module, the registration line and the route's test are read from docs/customizing.md, so the
walkthrough is what is tested. One render: the files are added as the docs say, and the project's
own test of the route passes against a model trained on its tiny test table, with and without the
API key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from .conftest import DEFAULT_PACKAGE, Project, clean_env, customizing_section, render, synced

pytestmark = pytest.mark.slow

ROUTES = f"src/{DEFAULT_PACKAGE}/serving/routes"


@dataclass(frozen=True)
class Walkthrough:
    """What the docs' section says to write, and where."""

    module_path: str
    module: str
    registration: str
    test_path: str
    test: str


def docs_walkthrough() -> Walkthrough:
    section = customizing_section("Adding an API route")
    module_path = re.search(r"save this as\s+`src/<package_name>/(serving/\S+\.py)`", section)
    test_path = re.search(r"save its test as\s+`(tests/serving/\S+\.py)`", section)
    assert module_path and test_path, "the section no longer says where to save the files"
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 3, "the section should show the module, the registration and the test"
    module, registration, test = blocks
    assert registration.count("\n") == 1, "registering a route should be one line"
    return Walkthrough(module_path.group(1), module, registration.strip(), test_path.group(1), test)


@dataclass(frozen=True)
class Extended:
    project: Project
    walkthrough: Walkthrough
    changed: list[str]


def _git(project: Project, *args: str) -> str:
    return project.run(["git", "-c", "core.hooksPath=/dev/null", *args]).stdout


@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory) -> Extended:
    project = synced(render(tmp_path_factory.mktemp("extend-route") / "project"), DEFAULT_PACKAGE)
    walkthrough = docs_walkthrough()
    before = set(_git(project, "status", "--porcelain", "--untracked-files=all").splitlines())
    module = project.path / "src" / DEFAULT_PACKAGE / walkthrough.module_path
    assert not module.exists()
    module.write_text(walkthrough.module, encoding="utf-8")
    registry = project.path / ROUTES / "__init__.py"
    name = walkthrough.registration.split("=", 1)[0].strip()
    lines = registry.read_text(encoding="utf-8").splitlines(keepends=True)
    matching = [i for i, line in enumerate(lines) if line.startswith(f"{name} = ")]
    assert len(matching) == 1, f"{registry} should assign {name} on one line"
    lines[matching[0]] = walkthrough.registration + "\n"
    registry.write_text("".join(lines), encoding="utf-8")
    (project.path / walkthrough.test_path).write_text(walkthrough.test, encoding="utf-8")
    status = set(_git(project, "status", "--porcelain", "--untracked-files=all").splitlines())
    return Extended(project, walkthrough, sorted(line[3:] for line in status - before))


def test_the_route_is_one_module_and_one_registered_name(extended: Extended):
    walkthrough = extended.walkthrough
    module = f"src/{DEFAULT_PACKAGE}/{walkthrough.module_path}"
    registry = f"{ROUTES}/__init__.py"
    assert extended.changed == sorted([module, registry, walkthrough.test_path])
    diff = _git(extended.project, "diff", "--unified=0", registry).splitlines()
    changed = [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert len(changed) == 2, diff  # one line replaced


def test_the_docs_code_passes_the_project_linters(extended: Extended):
    walkthrough = extended.walkthrough
    files = [f"src/{DEFAULT_PACKAGE}/{walkthrough.module_path}", walkthrough.test_path]
    extended.project.uv("run", "ruff", "check", *files, env=clean_env())
    extended.project.uv("run", "ruff", "format", "--check", *files, env=clean_env())


def test_the_route_serves_and_is_guarded_by_the_key(extended: Extended):
    test = extended.walkthrough.test_path
    command = ["run", "pytest", "-q", "-p", "no:cacheprovider", test]
    result = extended.project.uv(*command, env=clean_env())
    assert re.search(r"\b2 passed\b", result.stdout), result.stdout
