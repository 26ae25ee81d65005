"""What the template wrote and what the author wrote: `make provenance` writes PROVENANCE.md.

It re-renders the same template version with the same answers (from `.copier-answers.yml`) into a
temporary folder and compares that render with the working tree, file by file:

- template-generated, untouched: identical to the render;
- template-generated, modified: differs from the render (added and removed lines are counted);
- written by the author: not in the render at all;
- removed by the author: in the render, not in the project.

Files git ignores (data, models, the MLflow store) are not part of the comparison. The README's
results block is written by the pipeline, so it is left out of the comparison too.
"""

from __future__ import annotations

import difflib
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .reporting.markers import RESULTS_BLOCK

ANSWERS_FILE = ".copier-answers.yml"
OUTPUT = "PROVENANCE.md"
ALWAYS_SKIPPED = {OUTPUT, "uv.lock", "dvc.lock"}
SKIPPED_PARTS = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints"}


class ProvenanceError(RuntimeError):
    """The template could not be re-rendered; the message says what to do."""


@dataclass
class FileProvenance:
    path: str
    origin: str  # "untouched" | "modified" | "author" | "removed"
    added: int = 0
    removed: int = 0
    lines: int = 0  # lines in the project's copy (0 for removed or binary files)


@dataclass
class Provenance:
    template: str
    version: str
    files: list[FileProvenance] = field(default_factory=list)

    def count(self, origin: str) -> int:
        return sum(1 for f in self.files if f.origin == origin)

    @property
    def author_share(self) -> float:
        """Share of the project's lines written by the author (whole files + lines added)."""
        written = sum(f.added for f in self.files if f.origin in ("author", "modified"))
        return written / max(sum(f.lines for f in self.files), 1)

    def summary(self) -> str:
        from_template = self.count("untouched") + self.count("modified")
        added = sum(f.added for f in self.files if f.origin == "modified")
        removed = sum(f.removed for f in self.files if f.origin == "modified")
        author_added = sum(f.added for f in self.files if f.origin == "author")
        return (
            f"{from_template} files from the mlfolio template ({self.count('untouched')} untouched, "
            f"{self.count('modified')} modified: +{added}/-{removed} lines); "
            f"{self.count('author')} files written by the author (+{author_added} lines)"
        )


def _text(path: Path) -> list[str] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None
    return RESULTS_BLOCK.sub("<!-- results block -->", text).splitlines()


def _project_files(root: Path) -> set[str]:
    """Files git tracks or would track (ignored ones excluded); every file outside git."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],  # noqa: S607 (the user's git)
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        files = {name for name in listed if (root / name).is_file()}
    except (OSError, subprocess.CalledProcessError):
        files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    return {f for f in files if f not in ALWAYS_SKIPPED and not SKIPPED_PARTS & set(Path(f).parts)}


def _rendered_files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not SKIPPED_PARTS & set(p.relative_to(root).parts) and p.name not in ALWAYS_SKIPPED
    }


def read_answers(root: Path) -> dict[str, Any]:
    path = root / ANSWERS_FILE
    if not path.is_file():
        raise ProvenanceError(
            f"{path} not found: provenance needs the answers copier recorded at generation."
        )
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def render_template(answers: dict[str, Any], destination: Path, template: str | None = None) -> None:
    """Render the recorded template version with the recorded answers into `destination`."""
    try:
        from copier import run_copy
    except ImportError as exc:
        raise ProvenanceError("copier is not installed; run 'uv sync' (it is in the dev group).") from exc
    source = template or answers.get("_src_path")
    if not source:
        raise ProvenanceError(
            f"{ANSWERS_FILE} has no _src_path; pass --template with the template's location."
        )
    data = {k: v for k, v in answers.items() if not k.startswith("_")}
    try:
        run_copy(
            str(source),
            destination,
            data=data,
            vcs_ref=answers.get("_commit"),
            defaults=True,
            unsafe=True,
            skip_tasks=True,
            quiet=True,
        )
    except Exception as exc:  # copier raises many types (git, network, validation)
        raise ProvenanceError(
            f"could not re-render the template from {source} at {answers.get('_commit')}: {exc}. "
            "If the template moved, pass --template with its new location."
        ) from exc


def compare(project: Path, rendered: Path, template: str, version: str) -> Provenance:
    """Classify every file of the project against the pristine render."""
    result = Provenance(template=template, version=version)
    ours, theirs = _project_files(project), _rendered_files(rendered)
    for name in sorted(ours | theirs):
        if name not in theirs:
            lines = _text(project / name)
            count = len(lines or [])
            result.files.append(FileProvenance(name, "author", added=count, lines=count))
        elif name not in ours:
            result.files.append(FileProvenance(name, "removed", removed=len(_text(rendered / name) or [])))
        else:
            mine, original = _text(project / name), _text(rendered / name)
            if mine is None or original is None:
                same = (project / name).read_bytes() == (rendered / name).read_bytes()
                result.files.append(FileProvenance(name, "untouched" if same else "modified"))
                continue
            if mine == original:
                result.files.append(FileProvenance(name, "untouched", lines=len(mine)))
                continue
            diff = list(difflib.unified_diff(original, mine, lineterm="", n=0))
            added = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
            removed = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
            result.files.append(
                FileProvenance(name, "modified", added=added, removed=removed, lines=len(mine))
            )
    return result


def to_markdown(result: Provenance) -> str:
    percent = round(100 * result.author_share)
    badge = f"![written by the author](https://img.shields.io/badge/written%20by%20the%20author-{percent}%25-blue)"
    lines = [
        "# Provenance",
        "",
        f"Compared with a fresh render of `{result.template}` at `{result.version}`, with this project's answers.",
        "",
        f"**{result.summary()}.**",
        "",
        f"Badge for the README: `{badge}`",
        "",
        "| file | origin | lines added | lines removed |",
        "|---|---|---:|---:|",
    ]
    labels = {
        "untouched": "template, untouched",
        "modified": "template, modified",
        "author": "written by the author",
        "removed": "template, removed by the author",
    }
    order = {"author": 0, "modified": 1, "removed": 2, "untouched": 3}
    for item in sorted(result.files, key=lambda f: (order[f.origin], f.path)):
        added = item.added if item.origin in ("author", "modified") else ""
        removed = item.removed if item.origin in ("modified", "removed") else ""
        lines.append(f"| `{item.path}` | {labels[item.origin]} | {added} | {removed} |")
    return "\n".join(lines) + "\n"


def run_provenance(root: Path, template: str | None = None) -> Provenance:
    """Write PROVENANCE.md for the project at `root`; return the comparison."""
    answers = read_answers(root)
    with tempfile.TemporaryDirectory(prefix="provenance-") as tmp:
        rendered = Path(tmp) / "render"
        render_template(answers, rendered, template)
        result = compare(
            root, rendered, str(template or answers.get("_src_path")), str(answers.get("_commit"))
        )
    (root / OUTPUT).write_text(to_markdown(result), encoding="utf-8")
    return result
