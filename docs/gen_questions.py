"""Write docs/questions.md from copier.yml: every question, in the order Copier asks it.

Run `uv run python docs/gen_questions.py` after changing copier.yml; tests/test_docs.py fails
while the page is stale. Jinja (computed defaults, conditions, validators) is shown exactly as
written in copier.yml, so the page never paraphrases what the template really does.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
COPIER_YML = ROOT / "copier.yml"
OUTPUT = ROOT / "docs" / "questions.md"

RULE = re.compile(r"^# -{10,}$")
TOP_LEVEL_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9_]*):")
UNSET = re.compile(r"^\{\{\s*UNSET\s*\}\}$")
WHOLE_EXPRESSION = re.compile(r"^\{\{\s*(.*?)\s*\}\}$", re.DOTALL)
DEFAULT_SECTION = "Questions"

INTRO = """\
# Questions

<!-- Generated from copier.yml by docs/gen_questions.py: edit copier.yml, then run
     `uv run python docs/gen_questions.py`. -->

Copier asks these questions in this order; some are asked only after a given earlier answer.
To skip a prompt, answer on the command line (`--data dataset=wine`) or from a YAML file
(`--data-file answers.yml`); `--defaults` takes the default of everything not answered. Copier
records the answers in the generated project's `.copier-answers.yml`, which `copier update` reads
back.

A default shown as Jinja is computed from earlier answers. Every free-text answer goes through a
validator: a refused answer is asked again, with a message that says what to type instead.
"""


def is_hidden_helper(name: str, details: Any) -> bool:
    """A `when: false` entry: a computed value that is never asked nor recorded."""
    return (
        not name.startswith("_")
        and isinstance(details, dict)
        and str(details.get("when", "")).strip().lower() == "false"
    )


def is_question(name: str, details: Any) -> bool:
    """Real questions: not Copier settings (`_...`) and not hidden helpers."""
    return (
        not name.startswith("_")
        and isinstance(details, dict)
        and not is_hidden_helper(name, details)
    )


def sections(text: str) -> dict[str, str]:
    """Section title (from the `# ----` / `# Title` / `# ----` banners) of each top-level key."""
    lines = text.splitlines()
    titles: dict[str, str] = {}
    current = DEFAULT_SECTION
    for index, line in enumerate(lines):
        banner = lines[index : index + 3]
        if (
            len(banner) == 3
            and RULE.match(banner[0])
            and RULE.match(banner[2])
            and banner[1].startswith("# ")
        ):
            current = banner[1][2:].strip()
        elif match := TOP_LEVEL_KEY.match(line):
            titles[match.group(1)] = current
    return titles


def block_sources(text: str) -> dict[tuple[str, str], str]:
    """The source text of each `>`/`|` block scalar under a question, as written (dedented)."""
    sources: dict[tuple[str, str], str] = {}
    root = yaml.compose(text)
    for key_node, value_node in root.value:
        if not isinstance(value_node, yaml.MappingNode):
            continue
        for field_node, field_value in value_node.value:
            if isinstance(field_value, yaml.ScalarNode) and field_value.style in (">", "|"):
                raw = text[field_value.start_mark.index : field_value.end_mark.index]
                body = raw.split("\n", 1)[1] if "\n" in raw else ""
                sources[(key_node.value, field_node.value)] = textwrap.dedent(body).strip("\n")
    return sources


def has_jinja(value: Any) -> bool:
    """A computed value (Copier's `{{ UNSET }}`, meaning no default, is not one)."""
    text = str(value)
    return isinstance(value, str) and ("{{" in text or "{%" in text) and not UNSET.match(text)


def literal(value: Any) -> str:
    """A plain YAML value as inline code."""
    if UNSET.match(str(value)):
        return "none: must be answered"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if value == "":
        return '`""` (empty)'
    return f"`{value}`"


def condition(details: dict[str, Any]) -> str:
    """When the question is asked, in words or as the Jinja expression."""
    when = details.get("when")
    if when is None or when is True:
        return "always"
    match = WHOLE_EXPRESSION.match(str(when))
    return f"only when `{match.group(1) if match else when}`"


def choices(details: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label shown in the prompt, value recorded) for each choice."""
    raw = details.get("choices") or []
    if isinstance(raw, dict):
        return list(raw.items())
    return [(str(value), value) for value in raw]


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def summary_row(name: str, details: dict[str, Any]) -> str:
    default = details.get("default")
    shown = "computed" if has_jinja(default) else literal(default)
    question_type = details.get("type", "str")
    return f"| [`{name}`](#{name}) | {question_type} | {cell(shown)} | {cell(condition(details))} |"


def code_block(source: str, language: str = "jinja", indent: str = "") -> list[str]:
    lines = [f"```{language}", *source.splitlines(), "```"]
    return [f"{indent}{line}" if line.strip() else "" for line in lines]


def question_section(
    name: str, details: dict[str, Any], sources: dict[tuple[str, str], str]
) -> list[str]:
    lines = [f"### `{name}`", ""]
    help_text = details.get("help", "")
    if has_jinja(help_text):
        lines += ["Help, computed from earlier answers:", ""]
        lines += code_block(sources.get((name, "help"), str(help_text)))
    else:
        lines.append(str(help_text).strip())
    lines.append("")

    default = details.get("default")
    question_type = details.get("type", "str")
    validated = "yes" if details.get("validator") else "no"
    lines += [
        "| | |",
        "|---|---|",
        f"| Type | `{question_type}` |",
        f"| Asked | {cell(condition(details))} |",
        f"| Default | {cell('computed, see below' if has_jinja(default) else literal(default))} |",
        f"| Validated | {validated} |",
        "",
    ]

    if options := choices(details):
        lines += ["| Value | Shown as |", "|---|---|"]
        lines += [f"| `{value}` | {cell(str(label))} |" for label, value in options]
        lines.append("")

    if has_jinja(default):
        lines += ["Default, computed from earlier answers:", ""]
        lines += code_block(sources.get((name, "default"), str(default)))
        lines.append("")

    if validator := details.get("validator"):
        lines += ['??? note "Validator"', ""]
        source = sources.get((name, "validator"), str(validator))
        lines += code_block(source, indent="    ")
        lines.append("")
    return lines


def render(text: str) -> str:
    """The Markdown page for the copier.yml `text`."""
    config = yaml.safe_load(text)
    questions = {name: d for name, d in config.items() if is_question(name, d)}
    section_of = sections(text)
    sources = block_sources(text)

    lines = [INTRO]
    if helpers := [name for name, d in config.items() if is_hidden_helper(name, d)]:
        names = ", ".join(f"`{name}`" for name in helpers)
        lines += [
            f"Defaults and validators also use hidden helpers that are never asked: {names} "
            "(see copier.yml).",
            "",
        ]
    lines += ["| Question | Type | Default | Asked |", "|---|---|---|---|"]
    lines += [summary_row(name, details) for name, details in questions.items()]
    lines.append("")

    current = None
    for name, details in questions.items():
        section = section_of.get(name, DEFAULT_SECTION)
        if section != current:
            lines += [f"## {section}", ""]
            current = section
        lines += question_section(name, details, sources)
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    OUTPUT.write_text(render(COPIER_YML.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
