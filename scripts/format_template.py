"""Format the template's Python files with the generated project's own ruff settings.

Renders the template with a sentinel package name, runs `ruff check --fix` and `ruff format` on
the render, and writes each formatted file back to its source in template/. Only files whose
Jinja is limited to `{{ package_name }}` are written back; anything else is reported.

    uv run python scripts/format_template.py
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from copier import run_copy

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template"
SENTINEL = "pkgsentinelxyz"
PACKAGE_EXPR = "{{ package_name }}"
ONLY_PACKAGE_JINJA = re.compile(r"\{\{\s*package_name\s*\}\}")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / "p"
        run_copy(
            str(ROOT),
            dst,
            data={"package_name": SENTINEL},
            vcs_ref="HEAD",
            defaults=True,
            unsafe=True,
            skip_tasks=True,
            quiet=True,
        )
        ruff = shutil.which("ruff") or "ruff"
        subprocess.run([ruff, "check", "--fix", "--quiet", "."], cwd=dst, check=False)
        subprocess.run([ruff, "format", "--quiet", "."], cwd=dst, check=True)
        skipped = []
        for rendered in dst.rglob("*.py"):
            relative = rendered.relative_to(dst).as_posix().replace(SENTINEL, "{{package_name}}")
            source = TEMPLATE / relative
            jinja_source = TEMPLATE / f"{relative}.jinja"
            text = rendered.read_text()
            if source.is_file():
                if source.read_text() != text:
                    source.write_text(text)
                    print(f"formatted {relative}")
            elif jinja_source.is_file():
                original = jinja_source.read_text()
                if ONLY_PACKAGE_JINJA.sub("", original).count("{{") or "{%" in original:
                    skipped.append(relative)
                    continue
                restored = text.replace(SENTINEL, PACKAGE_EXPR)
                if original != restored:
                    jinja_source.write_text(restored)
                    print(f"formatted {relative}.jinja")
        for relative in skipped:
            print(
                f"skipped {relative}.jinja (has Jinja beyond the package name): format it by hand",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
