"""Adding a model family is one new file: the docs' extra_trees module, trained and tuned by DVC.

The module is read from docs/customizing.md, so the walkthrough is what is tested. One render
(with tuning) and one experiment: `dvc exp run -S train.model=extra_trees` must train the new
family, take a `train.extra_trees` setting, search its own hyperparameters and name it in the
reports, with no other file edited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from .conftest import DEFAULT_PACKAGE, Project, clean_env, docs_module, render, synced

pytestmark = pytest.mark.slow

FAMILY = "extra_trees"
SETTING = ("max_depth", 12)  # set with -S +train.extra_trees.max_depth=12; not in the search space

# Run inside the project: what the registry says about the new family, and the MLflow runs.
INSPECT = """
import json, mlflow
from {package} import families
from {package}.config import get_paths, tracking_uri


class Recorder:
    def __init__(self):
        self.names = []

    def suggest_int(self, name, low, high, **kwargs):
        self.names.append(name)
        return low

    suggest_float = suggest_int

    def suggest_categorical(self, name, choices):
        self.names.append(name)
        return choices[0]


def space(name):
    recorder = Recorder()
    families.get(name).search_space(recorder, "classification")
    return recorder.names


family = families.get("{family}")
mlflow.set_tracking_uri(tracking_uri(get_paths()))
runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
parents = [r.info.run_id for r in runs if r.data.tags.get("model_family") == "{family}"]
trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") in parents]
print(json.dumps({{
    "display_name": family.display_name,
    "defaults": sorted(family.defaults_for("classification")),
    "space": space("{family}"),
    "other_spaces": {{f: space(f) for f in families.names() if f != "{family}"}},
    "parents": len(parents),
    "trial_params": [r.data.params for r in trials],
}}))
"""


@dataclass(frozen=True)
class Extended:
    """The project after adding the family file and running one experiment with it."""

    project: Project
    family_file: str
    committed: list[str]
    status_after: list[str]
    inspected: dict[str, Any]


def docs_family_module() -> tuple[str, str]:
    """The path the docs tell the user to save, and the one Python block of that section."""
    return docs_module("Adding a model family", "families")


def _git(project: Project, *args: str) -> str:
    return project.run(["git", "-c", "core.hooksPath=/dev/null", *args]).stdout


@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory) -> Extended:
    project = synced(
        render(tmp_path_factory.mktemp("extend-family") / "project", tuning=True), DEFAULT_PACKAGE
    )
    relative, code = docs_family_module()
    family_file = f"src/{DEFAULT_PACKAGE}/{relative}"
    assert relative == f"families/{FAMILY}.py"
    assert not (project.path / family_file).exists()
    (project.path / family_file).write_text(code, encoding="utf-8")
    _git(project, "add", family_file)
    _git(project, "commit", "-q", "-m", "Add the extra trees family")
    committed = _git(project, "show", "--name-only", "--format=", "HEAD").split()

    env = clean_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # later commands start seconds faster
    setting = f"+train.{FAMILY}.{SETTING[0]}={SETTING[1]}"
    # rule=model: serve the new family even where cross-validation would prefer linear.
    experiment = [
        *("-S", f"train.model={FAMILY}", "-S", setting, "-S", "train.tuning.n_trials=2"),
        *("-S", "train.selection.rule=model"),
    ]
    project.uv("run", "dvc", "exp", "run", *experiment, env=env, timeout=900)

    status = _git(project, "status", "--porcelain", "--untracked-files=no").splitlines()
    script = INSPECT.format(package=DEFAULT_PACKAGE, family=FAMILY)
    output = project.uv("run", "python", "-c", script, env=env).stdout
    inspected = json.loads(output.strip().splitlines()[-1])
    return Extended(project, family_file, committed, [line[3:] for line in status], inspected)


def read(extended: Extended, relative: str) -> str:
    return (extended.project.path / relative).read_text(encoding="utf-8")


def test_the_family_is_one_new_file(extended: Extended):
    assert extended.committed == [extended.family_file]
    # What changed since is the pipeline's doing: the experiment's params (-S), the lock file and
    # the README's results block (refreshed by the report stage).
    assert set(extended.status_after) <= {"params.yaml", "dvc.lock", "README.md"}


def test_the_experiment_trained_the_new_family(extended: Extended):
    card = json.loads(read(extended, "models/model.json"))
    metrics = json.loads(read(extended, "reports/metrics.json"))
    assert card["model_family"] == FAMILY and metrics["model"] == FAMILY
    assert metrics[metrics["primary_metric"]] > 0.9  # penguins are easy for any forest
    assert extended.inspected["parents"] == 1  # one MLflow run, tagged with the family


def test_the_search_tried_the_family_own_hyperparameters(extended: Extended):
    space = extended.inspected["space"]
    assert all(space != other for other in extended.inspected["other_spaces"].values())
    card = json.loads(read(extended, "models/model.json"))
    assert card["tuning"]["n_trials"] == 2
    trials = extended.inspected["trial_params"]
    assert len(trials) == 2
    assert SETTING[0] not in space
    expected = set(extended.inspected["defaults"]) | set(space) | {SETTING[0]}
    assert all(set(params) == expected for params in trials), trials
    assert set(card["hyperparameters"]) == expected
    assert card["hyperparameters"][SETTING[0]] == SETTING[1]  # params.yaml's section, kept


def test_the_reports_name_it_by_its_display_name(extended: Extended):
    name = extended.inspected["display_name"]
    assert name != FAMILY
    for report in ("reports/REPORT.md", "reports/MODEL_CARD.md", "README.md"):
        assert name in read(extended, report), report
