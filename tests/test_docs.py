"""The documentation site: the generated questions page is current, and the site builds strictly."""

from __future__ import annotations

import re
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import makefile_targets

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs"
QUESTIONS_PAGE = DOCS / "questions.md"
MAKEFILE_TEMPLATE = REPO_ROOT / "template" / "Makefile.jinja"
REGENERATE = "run `uv run python docs/gen_questions.py` and commit docs/questions.md"


def generator() -> dict[str, Any]:
    """docs/gen_questions.py's namespace (run_path: no import, no __pycache__ in docs/)."""
    return runpy.run_path(str(DOCS / "gen_questions.py"), run_name="gen_questions")


def copier_questions() -> list[str]:
    config = yaml.safe_load((REPO_ROOT / "copier.yml").read_text(encoding="utf-8"))
    gen = generator()
    return [name for name, details in config.items() if gen["is_question"](name, details)]


def test_questions_page_is_current() -> None:
    gen = generator()
    expected = gen["render"]((REPO_ROOT / "copier.yml").read_text(encoding="utf-8"))
    actual = QUESTIONS_PAGE.read_text(encoding="utf-8") if QUESTIONS_PAGE.is_file() else ""
    assert actual == expected, f"docs/questions.md is stale: {REGENERATE}"


def test_every_question_is_documented_in_order() -> None:
    page = QUESTIONS_PAGE.read_text(encoding="utf-8")
    questions = copier_questions()
    assert "project_name" in questions and "reserved_module_names" not in questions
    headings = re.findall(r"^### `(\w+)`$", page, flags=re.MULTILINE)
    missing = [name for name in questions if name not in headings]
    assert not missing, f"undocumented questions {missing}: {REGENERATE}"
    assert headings == questions, f"questions page out of order or stale: {REGENERATE}"


def makefile_commands() -> dict[str, str]:
    """target -> its one-line command, with `{{ package_name }}` written as `<package_name>`."""
    if not MAKEFILE_TEMPLATE.is_file():
        pytest.skip("template/Makefile.jinja does not exist yet")
    targets = makefile_targets(MAKEFILE_TEMPLATE.read_text(encoding="utf-8"))
    assert targets, "no targets found in template/Makefile.jinja"
    return {
        target: re.sub(r"\{\{\s*package_name\s*\}\}", "<package_name>", command).strip()
        for target, command in targets.items()
    }


def test_faq_gives_the_command_of_every_make_target() -> None:
    faq = (DOCS / "faq.md").read_text(encoding="utf-8")
    for target, command in makefile_commands().items():
        row = f"| `make {target}` | `{command}` |"
        assert row in faq, f"docs/faq.md should have the row: {row}"


def test_docs_name_only_make_targets_that_exist() -> None:
    targets = makefile_commands()
    for page in sorted(DOCS.glob("*.md")):
        named = set(re.findall(r"\bmake ([a-z][\w-]*)", page.read_text(encoding="utf-8")))
        unknown = named - targets.keys()
        assert not unknown, f"{page.name} names make targets the Makefile lacks: {unknown}"


def nav_pages(nav: list[Any]) -> list[str]:
    """The pages of an mkdocs nav, sections (a title over a list of entries) flattened."""
    pages: list[str] = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_site_builds_strictly(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(REPO_ROOT / "mkdocs.yml"),
            "--site-dir",
            str(site),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}"
    nav = yaml.safe_load(
        # mkdocs.yml uses a !!python/name tag; strip tags to read the nav with safe_load.
        re.sub(r"!!python/\S+", "''", (REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    )["nav"]
    pages = [Path(page) for page in nav_pages(nav)]
    assert set(pages) == {page.relative_to(DOCS) for page in DOCS.rglob("*.md")}, (
        "every page in docs/ should be in the nav, and every nav entry should exist"
    )
    for page in pages:
        folder = page.parent if page.stem == "index" else page.with_suffix("")
        assert (site / folder / "index.html").is_file(), f"{page} was not built"
    architecture = (site / "architecture" / "index.html").read_text(encoding="utf-8")
    assert '<pre class="mermaid"><code>flowchart LR' in architecture, "the mermaid fence is off"
    assert not (site / "gen_questions.py").exists(), "the generator should not be published"


def _normalized(line: str) -> str:
    """A log line without what changes from run to run: times, numbers, run ids, ports, paths."""
    line = re.sub(r"^\d{2}:\d{2}:\d{2} ", "", line.strip())
    line = re.sub(r"/tmp/\S+?/penguins-demo|/\S+/project\b", "<folder>", line)  # noqa: S108  (a pattern)
    return re.sub(r"[0-9a-f]{32}|\d+(\.\d+)?(e-?\d+)?", "#", line)


@pytest.mark.slow
def test_walkthrough_quotes_what_the_main_job_prints(main_job) -> None:
    """Every stage header and log line docs/walkthrough.md quotes appears in a real run."""
    page = (DOCS / "walkthrough.md").read_text(encoding="utf-8")
    assert main_job.command in page
    quoted = [
        line
        for block in re.findall(r"```text\n(.*?)```", page, flags=re.DOTALL)
        for line in block.splitlines()
        if line.strip() and line.strip() != "..." and "done in" not in line
    ]
    assert len(quoted) >= 20, quoted
    printed = {_normalized(line) for line in main_job.output.splitlines()}
    missing = [line for line in quoted if _normalized(line) not in printed]
    assert not missing, f"the walkthrough quotes lines a real run no longer prints: {missing}"
