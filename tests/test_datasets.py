"""The one dataset list, and every copy of it that Copier cannot import.

copier.yml's hidden `datasets` table says where each dataset comes from (params.yaml's
data.source) and, for the built-in ones, what it predicts. The `target_column` and `task`
defaults, params.yaml's data section and the update task's arguments read it through Jinja. What
cannot read it is checked here against it: the `dataset` question's choices, README.md's options
table, docs/questions.md, the generated code's data sources and scikit-learn list, and each
dataset's rendered params.yaml and dvc.yaml.
"""

from __future__ import annotations

import ast
import re
import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import REPO, check_params_args, copier_config, copier_datasets, render

DATASETS = copier_datasets()
PACKAGE_SOURCE = REPO / "template" / "src" / "{{package_name}}"
CHECK_PARAMS = runpy.run_path(str(REPO / "hooks" / "check_params.py"))
# The answers a dataset of the user's own opens (its follow-up questions have no default).
OWN_CSV_ANSWERS: dict[str, dict[str, str]] = {
    "csv_url": {"csv_url": "https://example.com/data/houses.csv", "target_column": "price"},
    "local_csv": {"local_csv_path": "/home/me/data/houses.csv", "target_column": "label"},
}


def builtin(entry: dict[str, str]) -> bool:
    """A built-in dataset fixes its target and task; the user's own CSV leaves them to answers."""
    return "target" in entry


def sklearn_datasets() -> list[str]:
    """The generated code's SKLEARN_DATASETS, read with ast (the template cannot be imported)."""
    candidates = [
        PACKAGE_SOURCE / "data" / "sources" / "sklearn.py",
        PACKAGE_SOURCE / "data" / "collect.py",
    ]
    for path in candidates:
        if not path.is_file():
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Assign | ast.AnnAssign):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "SKLEARN_DATASETS" for t in targets):
                if isinstance(node.value, ast.Dict):  # name -> loader: the names are the keys
                    return [ast.literal_eval(key) for key in node.value.keys if key is not None]
                return list(ast.literal_eval(node.value))
    pytest.fail(f"no SKLEARN_DATASETS assignment in {[str(p) for p in candidates]}")


def test_the_table_gives_each_built_in_dataset_a_target_and_a_task():
    assert DATASETS, "copier.yml's datasets table is empty"
    for name, entry in DATASETS.items():
        assert entry.get("source"), f"datasets.{name} has no source"
        assert builtin(entry) == ("task" in entry), f"datasets.{name}: give both target and task"
        assert entry.get("task", "classification") in ("classification", "regression"), name


def test_the_dataset_question_offers_each_dataset_in_order():
    question = copier_config()["dataset"]
    assert list(question["choices"].values()) == list(DATASETS)
    for label, value in question["choices"].items():
        assert label.startswith(f"{value}: "), label
    assert question["default"] in DATASETS


def test_the_readme_options_table_lists_each_dataset():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    row = re.search(r"^\| `dataset` \| (.+) \|$", readme, flags=re.MULTILINE)
    assert row, "README.md's options table has no `dataset` row"
    assert row.group(1).split(", ") == list(DATASETS)


def test_the_questions_page_lists_each_dataset():
    page = (REPO / "docs" / "questions.md").read_text(encoding="utf-8")
    section = page.split("### `dataset`\n", 1)[1].split("\n### ", 1)[0]
    assert re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE) == list(DATASETS)


def test_the_generated_code_has_each_source_and_scikit_learn_dataset():
    """Each source in the table is a module of data/sources/ (its KIND is the module's name)."""
    modules = {
        path.stem
        for path in (PACKAGE_SOURCE / "data" / "sources").glob("*.py")
        if not path.stem.startswith("_")
    }
    sources = {entry["source"] for entry in DATASETS.values()}
    assert sources <= modules, f"no data/sources/ module for {sorted(sources - modules)}"
    expected = [name for name, entry in DATASETS.items() if entry["source"] == "sklearn"]
    assert sorted(sklearn_datasets()) == sorted(expected)


def _outputs(stage: dict[str, Any]) -> set[str]:
    """The paths a dvc.yaml stage writes (outs, metrics, plots: plain or with options)."""
    paths = set()
    for kind in ("outs", "metrics", "plots"):
        for item in stage.get(kind, []):
            paths |= set(item) if isinstance(item, dict) else {item}
    return paths


def _inside(path: str, folders: set[str]) -> bool:
    return any(path == folder or path.startswith(folder.rstrip("/") + "/") for folder in folders)


def _has_key(params: dict[str, Any], dotted: str) -> bool:
    node: Any = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_each_dataset_renders_its_source_and_a_pipeline_that_resolves(
    dataset: str, tmp_path: Path, working_tree: Path
):
    answers = {"dataset": dataset, **OWN_CSV_ANSWERS.get(dataset, {})}
    project = render(tmp_path / "p", working_tree, tasks=False, **answers)
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
    entry, data = DATASETS[dataset], params["data"]
    assert data["source"] == entry["source"]
    if builtin(entry):
        assert (data["name"], data["target"], data["task"]) == (
            dataset,
            entry["target"],
            entry["task"],
        )
    assert CHECK_PARAMS["problems"](params, *check_params_args(dataset, params["engine"])) == []

    stages = yaml.safe_load((project / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    written = set().union(*(_outputs(stage) for stage in stages.values()))
    for name, stage in stages.items():
        keys = [key for key in stage.get("params", []) if isinstance(key, str)]
        missing = [key for key in keys if not _has_key(params, key)]
        assert not missing, f"{dataset}: {name} lists params that params.yaml lacks: {missing}"
        deps = stage.get("deps", [])
        files = [dep for dep in deps if "${" not in dep and not _inside(dep, written)]
        absent = [dep for dep in files if not (project / dep).exists()]
        assert not absent, f"{dataset}: {name} depends on files the render lacks: {absent}"
