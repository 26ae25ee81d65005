"""Stage deps: every dvc.yaml stage lists what it imports and reads, and a test proves it.

The generated project's tests/stages/test_deps.py runs each stage in a fresh process and checks
dvc.yaml against what it imported and read. Here it runs on the default render and on a Spark render
(with tuning, so every dep line of the template is exercised); deleting any one module or params
line from that render's dvc.yaml must make it fail, which is checked against one recording (the
copies go in STAGE_DEPS_DVC_YAML). `dvc status` must see an edit of the Spark cleaning code, and
the docs' "Adding a pipeline stage" walkthrough must give a stage that the CLI lists and the test
accepts. Data deps (data/raw, models, ...) are the DAG's edges and are not what this proves.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import DEFAULT_PACKAGE, Project, clean_env, customizing_section, render, synced

pytestmark = pytest.mark.slow

TEST = ["run", "pytest", "-q", "-p", "no:cacheprovider", "tests/stages"]


def stage_tests(project: Project, tmp: Path, **env: str) -> dict[str, bool]:
    """Run the project's tests/stages; each test case's name and whether it passed."""
    report = tmp / "junit.xml"
    result = project.uv(
        *TEST, f"--junitxml={report}", check=False, timeout=1200, env=clean_env(**env)
    )
    cases = {
        case.get("name", ""): case.find("failure") is None and case.find("error") is None
        for case in ET.parse(report).iter("testcase")  # noqa: S314  (the JUnit file pytest just wrote)
    }
    assert cases, result.stdout[-4000:] + result.stderr[-4000:]
    return cases


def without_each_line(dvc_yaml: Path, folder: Path) -> dict[str, str]:
    """Copies of dvc.yaml, each without one module dep or one params line; file stem -> the line."""
    text = dvc_yaml.read_text()
    removed = {}
    for stage, entry in yaml.safe_load(text)["stages"].items():
        for kind in ("deps", "params"):
            for index, item in enumerate(entry.get(kind, [])):
                if kind == "deps" and not str(item).startswith("src/"):
                    continue
                copy = yaml.safe_load(text)
                del copy["stages"][stage][kind][index]
                name = f"without{len(removed):03d}"
                (folder / f"{name}.yaml").write_text(yaml.safe_dump(copy, sort_keys=False))
                removed[name] = f"{stage} {kind}: {item}"
    return removed


@pytest.fixture(scope="module")
def spark_tuning_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A Spark render with tuning: its dvc.yaml has every kind of line the template writes."""
    path = render(tmp_path_factory.mktemp("stage-deps") / "project", engine="spark", tuning=True)
    return synced(path, DEFAULT_PACKAGE)


@pytest.fixture(scope="module")
def spark_recording(
    spark_tuning_project: Project, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The Spark render's tests/stages, run once; they pass, and leave their recording here."""
    tmp = tmp_path_factory.mktemp("spark-recording")
    recording = tmp / "recording.json"
    cases = stage_tests(spark_tuning_project, tmp, STAGE_DEPS_RECORDING=str(recording))
    assert all(cases.values()), [name for name, passed in cases.items() if not passed]
    return recording


def test_stage_deps_hold_in_the_default_render(default_project: Project, tmp_path: Path):
    cases = stage_tests(default_project, tmp_path)
    assert all(cases.values()), [name for name, passed in cases.items() if not passed]
    assert len(cases) == 13  # the order check, then a deps check and an imports check per stage


def test_deleting_any_dep_line_fails_the_stage_deps_test(
    spark_tuning_project: Project, spark_recording: Path, tmp_path: Path
):
    copies = tmp_path / "copies"
    copies.mkdir()
    removed = without_each_line(spark_tuning_project.path / "dvc.yaml", copies)
    assert len(removed) > 60  # modules and params of six stages, Spark's included
    cases = stage_tests(
        spark_tuning_project,
        tmp_path,
        STAGE_DEPS_RECORDING=str(spark_recording),
        STAGE_DEPS_DVC_YAML=os.pathsep.join(str(copies / f"{name}.yaml") for name in removed),
    )
    failed = {name for name, passed in cases.items() if not passed}
    unnoticed = [
        line for name, line in removed.items() if not any(f"[{name}-" in f for f in failed)
    ]
    assert not unnoticed, f"the stage deps test passes without: {unnoticed}"


def placeholder_outputs(root: Path, stages: dict[str, Any]) -> None:
    """Stand-ins for every output and data dep, so `dvc commit` can lock the pipeline unrun."""
    for entry in stages.values():
        for item in [*entry.get("outs", []), *entry.get("metrics", []), *entry.get("deps", [])]:
            path = root / (item if isinstance(item, str) else next(iter(item)))
            if path.exists() or str(path.relative_to(root)).startswith("src"):
                continue
            target = path / "placeholder" if not path.suffix else path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("placeholder\n")


def test_dvc_status_sees_spark_code_and_engine_changes(
    spark_tuning_project: Project, spark_recording: Path
):
    root = spark_tuning_project.path
    clean = root / "src" / DEFAULT_PACKAGE / "spark" / "clean.py"
    params = root / "params.yaml"
    code, settings = clean.read_text(), params.read_text()
    placeholder_outputs(root, yaml.safe_load((root / "dvc.yaml").read_text())["stages"])
    try:
        spark_tuning_project.uv("run", "dvc", "commit", "--force")
        assert json.loads(spark_tuning_project.uv("run", "dvc", "status", "--json").stdout) == {}

        clean.write_text(code + "# an edit of the Spark cleaning code\n")
        status = json.loads(spark_tuning_project.uv("run", "dvc", "status", "--json").stdout)
        assert list(status) == ["clean"], status
        changed = status["clean"][0]["changed deps"]
        assert changed == {f"src/{DEFAULT_PACKAGE}/spark/clean.py": "modified"}

        clean.write_text(code)
        params.write_text(settings.replace("engine: spark", "engine: pandas", 1))
        status = json.loads(spark_tuning_project.uv("run", "dvc", "status", "--json").stdout)
        assert sorted(status) == ["clean", "collect", "featurize"], status
    finally:
        clean.write_text(code)
        params.write_text(settings)


def _walkthrough() -> tuple[str, str]:
    """The stage module and the dvc.yaml entry from the docs' "Adding a pipeline stage"."""
    section = customizing_section("Adding a pipeline stage")
    module = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    entry = re.search(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    assert module and entry, "docs/customizing.md lost its stage walkthrough"
    return module.group(1), entry.group(1).replace("<package_name>", DEFAULT_PACKAGE)


def test_a_new_stage_is_one_module_a_name_and_its_dvc_entry(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
):
    project = synced(render(tmp_path_factory.mktemp("new-stage") / "project"), DEFAULT_PACKAGE)
    module, entry = _walkthrough()
    package = project.path / "src" / DEFAULT_PACKAGE
    (package / "stages" / "profile.py").write_text(module)
    registry = package / "stages" / "__init__.py"
    registry.write_text(registry.read_text().replace('"report")', '"report", "profile")', 1))
    dvc_yaml = project.path / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace("\nplots:", f"\n{entry}\nplots:", 1))

    assert "profile" in project.uv("run", DEFAULT_PACKAGE, "--help").stdout
    cases = stage_tests(project, tmp_path)
    assert all(cases.values()), [name for name, passed in cases.items() if not passed]
    assert any(name.endswith("[dvc-profile]") for name in cases)  # recorded: the stage ran
