"""The generated project's docs site: `make docs` (mkdocs --strict) builds it from the pipeline's
outputs, in the `polished` project (conftest), and fails clearly without them.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from .conftest import DEFAULT_PACKAGE, Project, run


@pytest.mark.slow
def test_docs_site_builds_strict_from_the_pipeline_outputs(polished: Project):
    assert shutil.which("make"), "make is needed for 'make docs'"
    polished.run(["make", "docs"], timeout=600)
    site = polished.path / "site"

    def page(name: str, tags: bool = True) -> str:
        """A built page's HTML, or its text only (code blocks are split into highlighted spans)."""
        source = (site / name / "index.html").read_text()
        return html.unescape(source if tags else re.sub(r"<[^>]+>", "", source))

    diagram = re.search(r'<pre class="mermaid"><code>(.*?)</code></pre>', page("pipeline"), re.S)
    assert diagram, "no Mermaid diagram on the pipeline page"
    stages = yaml.safe_load((polished.path / "dvc.yaml").read_text())["stages"]
    for stage in stages:
        assert f'(["{stage}"])' in diagram.group(1), stage
    assert diagram.group(1).count("-->") >= len(stages) - 1
    assert '-->|"data/raw"|' in diagram.group(1)

    schema = json.loads((polished.path / "data" / "interim" / "schema.json").read_text())
    data = page("data")
    assert all(column["name"] in data for column in schema["features"])
    card = (polished.path / "reports" / "MODEL_CARD.md").read_text().splitlines()[0]
    assert card.lstrip("# ") in page("reports/MODEL_CARD")
    figures = sorted(p.name for p in (polished.path / "reports" / "figures").glob("*.png"))
    assert figures
    assert figures == sorted(p.name for p in (site / "reports" / "figures").glob("*.png"))

    openapi = json.loads((site / "api" / "openapi.json").read_text())
    assert {"/health", "/model", "/predict"} <= set(openapi["paths"])
    api = page("api")
    example = json.loads((polished.path / "models" / "model.json").read_text())["example"]
    request = re.search(r"-d @- <<'JSON'\n(.*?)\nJSON", page("api", tags=False), re.S)
    assert request and json.loads(request.group(1)) == {"instances": [example]}
    assert all(f"<code>{path}</code>" in api for path in openapi["paths"])

    source = polished.path / "src" / DEFAULT_PACKAGE
    reference = "".join(p.read_text() for p in (site / "reference").rglob("index.html"))
    for module in source.rglob("*.py"):
        if module.stem not in ("__init__", "__main__"):
            parts = module.relative_to(source).with_suffix("").parts
            assert f'id="{".".join((DEFAULT_PACKAGE, *parts))}"' in reference, module
    assert (site / "updating" / "index.html").is_file()


@pytest.mark.slow
def test_docs_build_fails_clearly_without_pipeline_outputs(polished: Project, tmp_path: Path):
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("mkdocs.yml", "pyproject.toml", "dvc.yaml", "params.yaml"):
        shutil.copy2(polished.path / name, copy / name)
    for name in ("docs", "src"):
        shutil.copytree(polished.path / name, copy / name)
    mkdocs = str(polished.path / ".venv" / "bin" / "mkdocs")
    result = run([mkdocs, "build", "--strict", "-d", str(tmp_path / "site")], copy, check=False)
    assert result.returncode != 0
    assert "run `make pipeline`" in result.stdout + result.stderr, result.stderr[-3000:]
