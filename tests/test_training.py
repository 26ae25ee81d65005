"""Training, tracking, the model registry, evaluation and the report, on real generated projects.

Read-only checks use the shared `piped_project`. Anything that changes params, commits or runs
experiments works on `lab`: a copy of that project with a fresh MLflow store, in which three DVC
experiments run (see the fixture). The diabetes project checks the regression side, tracked to
a store outside the project through MLFLOW_TRACKING_URI.
"""

from __future__ import annotations

import json
import math
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import DEFAULT_PACKAGE, Project, clean_env, render, synced

pytestmark = pytest.mark.slow

MODEL_NAME = DEFAULT_PACKAGE  # the registered model is named after the project
FIGURES = ("confusion_matrix", "roc", "precision_recall", "reliability", "permutation_importance")


def fast_env(**extra: str) -> dict[str, str]:
    """The project environment, allowed to write bytecode: later commands start seconds faster."""
    env = clean_env(**extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def read_json(project: Project, relative: str) -> Any:
    return json.loads((project.path / relative).read_text(encoding="utf-8"))


def in_project(project: Project, script: str) -> Any:
    """Run Python in the project's environment; the script prints one JSON line last."""
    output = project.uv("run", "python", "-c", script, env=fast_env()).stdout
    return json.loads(output.strip().splitlines()[-1])


MLFLOW_SUMMARY = """
import json, mlflow
from {package}.config import get_paths, tracking_uri
mlflow.set_tracking_uri(tracking_uri(get_paths()))
client = mlflow.MlflowClient()
runs = mlflow.search_runs(
    experiment_names=["{name}"], output_format="list", order_by=["start_time ASC"]
)
out = {{"runs": [], "versions": {{}}}}
for run in runs:
    figures = [a.path for a in client.list_artifacts(run.info.run_id, "figures")]
    card = [a.path for a in client.list_artifacts(run.info.run_id, "card")]
    out["runs"].append({{
        "id": run.info.run_id, "status": run.info.status, "params": run.data.params,
        "metrics": run.data.metrics, "tags": run.data.tags, "figures": figures, "card": card,
        "inputs": sorted(
            (i.dataset.name, [t.value for t in i.tags][0]) for i in run.inputs.dataset_inputs
        ),
        "models": [o.model_id for o in run.outputs.model_outputs] if run.outputs else [],
    }})
for version in client.search_model_versions("name='{name}'"):
    out["versions"][version.version] = {{"run_id": version.run_id, "tags": version.tags}}
out["champion"] = str(client.get_model_version_by_alias("{name}", "champion").version)
info = mlflow.models.get_model_info("models:/{name}@champion")
out["signature_inputs"] = [c["name"] for c in info.signature.inputs.to_dict()]
out["input_example"] = info.saved_input_example_info is not None
print(json.dumps(out))
"""


def mlflow_summary(project: Project) -> dict[str, Any]:
    return in_project(project, MLFLOW_SUMMARY.format(package=project.package, name=MODEL_NAME))


# -------------------------------------------------------------------------------------------------
# The default project after `dvc repro` (read only)
# -------------------------------------------------------------------------------------------------


def test_model_matches_or_beats_the_baseline_on_penguins(piped_project: Project):
    """On penguins both reach the test split's ceiling (f1 1.0), so "beats" cannot be strict."""
    metrics = read_json(piped_project, "reports/metrics.json")
    primary = metrics["primary_metric"]
    assert primary == "f1_macro"
    assert metrics[primary] >= metrics["baseline"][primary]
    assert metrics[primary] >= 0.97 and metrics["accuracy"] > 0.9
    assert metrics[primary] > metrics["guessing"][primary] + 0.5
    assert metrics["cv_folds"] == 5
    assert 0 < metrics[f"cv_{primary}_std"] < 0.1
    assert metrics[f"cv_{primary}_mean"] > 0.9


def test_penguins_serve_the_linear_model_that_cross_validation_prefers(piped_project: Project):
    """The linear model leads the random forest in CV f1_macro (0.988 vs 0.979): it is served."""
    metrics = read_json(piped_project, "reports/metrics.json")
    card = read_json(piped_project, "models/model.json")
    candidates = metrics["candidates"]
    linear, forest = candidates["linear"], candidates["random_forest"]
    assert linear["cv_f1_macro_mean"] > forest["cv_f1_macro_mean"]
    assert metrics["model"] == card["model_family"] == "linear"
    assert metrics["requested_model"] == card["requested_family"] == "random_forest"
    assert card["selection"]["winner"] == "linear"
    assert not card["calibration"]["applied"]  # held-out ECE 0.03, log loss 0.04 vs 1.05 guessing
    assert metrics["leakage"]["flags"] == []
    report = (piped_project.path / "reports" / "REPORT.md").read_text()
    assert card["selection"]["reason"] in report
    assert "set `train.selection.rule: model`" in report


def test_mlflow_run_records_params_tags_inputs_model_and_figures(piped_project: Project):
    summary = mlflow_summary(piped_project)
    run = summary["runs"][-1]
    card = read_json(piped_project, "models/model.json")
    assert run["id"] == card["mlflow"]["run_id"]
    assert run["status"] == "FINISHED"
    params, tags, metrics = run["params"], run["tags"], run["metrics"]
    assert params["train.random_forest.n_estimators"] == "100"  # flattened params.yaml
    assert params["evaluate.permutation_repeats"] == "5"
    assert metrics["f1_macro"] == card["metrics"]["f1_macro"]
    assert metrics["baseline_f1_macro"] == card["baseline_metrics"]["f1_macro"]
    assert metrics["cv_f1_macro_std"] == card["metrics"]["cv_f1_macro_std"]
    assert len(tags["git_commit"]) == 40 and tags["git_dirty"] in ("true", "false")
    assert tags["dvc_data_md5"].endswith(".dir")
    assert tags["dvc_data_md5"] == card["dvc_data_md5"]
    assert tags["training_data_sha256"] == card["training_data_sha256"]
    assert tags["dataset"] == "penguins"
    assert tags["template_version"] not in ("", "unknown")
    assert tags["champion.decision"] == "first"
    assert run["inputs"] == [["test", "evaluation"], ["train", "training"]]
    assert len(run["models"]) == 1
    assert sorted(run["figures"]) == [
        "figures/confusion_matrix.png",
        "figures/permutation_importance.png",
        "figures/precision_recall.png",
        "figures/reliability.png",
        "figures/roc.png",
    ]
    assert run["card"] == ["card/model.json"]
    assert summary["champion"] == card["version"] == "1"
    assert summary["versions"]["1"]["tags"]["f1_macro"] == str(card["metrics"]["f1_macro"])
    assert set(summary["signature_inputs"]) == {f["name"] for f in card["features"]}
    assert summary["input_example"]


def test_dvc_lock_hash_recorded_for_the_training_data(piped_project: Project):
    lock = (piped_project.path / "dvc.lock").read_text()
    card = read_json(piped_project, "models/model.json")
    assert f"md5: {card['dvc_data_md5']}" in lock


def test_model_json_describes_model_data_and_lineage(piped_project: Project):
    card = read_json(piped_project, "models/model.json")
    for key in (
        "name",
        "version",
        "task",
        "model_family",
        "created_at",
        "example",
        "metrics",
        "baseline_metrics",
        "primary_metric",
        "training_data_sha256",
    ):
        assert card[key] not in (None, "", {}), key
    assert card["target"]["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert [f["name"] for f in card["features"]] == list(card["example"])
    assert card["data"]["train_rows"] + card["data"]["test_rows"] == 344
    mlflow = card["mlflow"]
    assert mlflow["registered_model_uri"] == f"models:/{MODEL_NAME}/1"
    assert mlflow["model_uri"].startswith("models:/") and mlflow["champion_decision"] == "first"
    assert card["artifacts"] | {"parity_check": None} == {
        "skops": "pipeline.skops",
        "onnx": "model.onnx",
        "backend": "onnx",
        "parity": card["artifacts"]["parity"],
        "parity_check": None,
    }


PARITY = """
import json, numpy as np, onnxruntime as ort, pandas as pd
from {package}.config import get_paths
from {package}.data.schema import DatasetSchema
from {package}.features import model_frame
from {package}.model_io import load_skops
from {package}.training.export import onnx_inputs
paths = get_paths()
schema = DatasetSchema.model_validate(json.loads(paths.features.read_text()))
test = pd.read_parquet(paths.test)
pipeline = load_skops(paths.pipeline)
session = ort.InferenceSession(str(paths.onnx), providers=["CPUExecutionProvider"])
labels, proba = session.run(None, onnx_inputs(test, schema))
x = model_frame(test, schema)
print(json.dumps({{
    "labels_equal": bool((np.asarray(labels).ravel() == pipeline.predict(x)).all()),
    "max_proba_diff": float(np.abs(proba - pipeline.predict_proba(x)).max()),
    "rows": len(test),
}}))
"""


def test_onnx_artifact_matches_the_skops_pipeline(piped_project: Project):
    card = read_json(piped_project, "models/model.json")
    check = card["artifacts"]["parity_check"]
    assert check["passed"] and check["label_agreement"] == 1.0
    assert check["max_abs_diff"] < 1e-5  # trees see unscaled numbers: float32 changes no split
    result = in_project(piped_project, PARITY.format(package=piped_project.package))
    assert result == {
        "labels_equal": True,
        "max_proba_diff": result["max_proba_diff"],
        "rows": check["test_rows"],
    }
    assert result["max_proba_diff"] < 1e-5


def test_report_model_card_and_readme_quote_metrics_json(piped_project: Project):
    metrics = read_json(piped_project, "reports/metrics.json")
    quality = read_json(piped_project, "reports/data_quality.json")
    report = (piped_project.path / "reports" / "REPORT.md").read_text()
    forest, guessing = metrics["candidates"]["random_forest"], metrics["guessing"]
    for name in ("accuracy", "f1_macro", "log_loss", "brier", "ece"):
        row = f"| {metrics[name]:.4f} | {forest[name]:.4f} | {guessing[name]:.4f} |"
        assert row in report, name
    primary = metrics["primary_metric"]
    assert f"{metrics[f'cv_{primary}_mean']:.4f} ± {metrics[f'cv_{primary}_std']:.4f}" in report
    baseline = metrics["baseline"]
    assert f"{baseline[f'cv_{primary}_mean']:.4f} ± {baseline[f'cv_{primary}_std']:.4f}" in report
    assert f"Rows in: {quality['rows_in']}; clean: {quality['rows_clean']}" in report
    assert "| Adelie |" in report  # class balance of the split
    for figure in FIGURES:
        assert f"(figures/{figure}.png)" in report
        assert (piped_project.path / "reports" / "figures" / f"{figure}.png").stat().st_size > 5000
    questions = report.split("## What to try next")[1].strip().splitlines()
    assert len(questions) >= 3 and all(q.startswith("- ") and q.endswith("?") for q in questions)
    card = (piped_project.path / "reports" / "MODEL_CARD.md").read_text()
    assert f"| {metrics[primary]:.4f} |" in card and "## Limitations" in card
    readme = (piped_project.path / "README.md").read_text()
    block = readme.split("<!-- results:start")[1].split("<!-- results:end -->")[0]
    assert f"{metrics[primary]:.4f}" in block and "reports/figures/confusion_matrix.png" in block
    assert "- Calibration: not applied; its held-out log loss" in block
    assert "- Leakage screen: nothing flagged (7 features screened)." in block
    assert "- Calibration: not applied" in card and "- Leakage screen: nothing flagged" in card


# -------------------------------------------------------------------------------------------------
# Experiments on a copy: promotion both ways, reruns, dvc exp run, metrics and plots diff
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lab:
    """A copy of the piped project, its commits and what three experiments left behind.

    1. `dvc exp run -S train.model=hist_gradient_boosting -S train.selection.rule=model` (forced
       past the linear model that CV prefers; fresh MLflow store: version 1, the first champion;
       ONNX conversion fails, so the skops fallback serves). Committed as `hgb_commit`.
    2. `dvc exp run -S train.model=random_forest -S train.selection.rule=cv train`: the defaults
       again, so CV serves linear, better on f1_macro -> version 2 becomes champion. Its metrics
       must equal those of the original run.
    3. `dvc exp run --temp ... train` forcing a one-level, five-tree forest: worse -> version 3
       stays a challenger. It runs in a copy under .dvc/tmp, yet must log to the workspace's store.
    Experiments 2 and 3 stop after the train stage, where promotion happens (saves a minute).
    """

    project: Project
    base_commit: str
    hgb_commit: str
    hgb_card: dict[str, Any]
    hgb_metrics: dict[str, Any]
    rf_card: dict[str, Any]
    outputs: list[str]
    mlflow: dict[str, Any]


def _git(project: Project, *args: str) -> str:
    return project.run(
        ["git", "-c", "core.hooksPath=/dev/null", *args], env=fast_env()
    ).stdout.strip()


def _exp_run(project: Project, *args: str) -> str:
    result = project.uv("run", "dvc", "exp", "run", *args, env=fast_env(), timeout=900)
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def lab(piped_project: Project, tmp_path_factory: pytest.TempPathFactory) -> Lab:
    path = tmp_path_factory.mktemp("lab") / "project"
    shutil.copytree(
        piped_project.path,
        path,
        symlinks=True,
        ignore=shutil.ignore_patterns(".venv", "mlflow.db", "mlartifacts", "tmp"),
    )
    project = synced(path, piped_project.package)
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "Pipeline results")
    base_commit = _git(project, "rev-parse", "HEAD")
    forced = ("-S", "train.selection.rule=model")
    outputs = [_exp_run(project, "-S", "train.model=hist_gradient_boosting", *forced)]
    hgb_card = read_json(project, "models/model.json")
    hgb_metrics = read_json(project, "reports/metrics.json")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "Try HistGradientBoosting")
    hgb_commit = _git(project, "rev-parse", "HEAD")
    defaults = ("-S", "train.model=random_forest", "-S", "train.selection.rule=cv")
    outputs.append(_exp_run(project, *defaults, "train"))
    rf_card = read_json(project, "models/model.json")
    weak = ["-S", "train.random_forest.n_estimators=5", "-S", "train.random_forest.max_depth=1"]
    outputs.append(_exp_run(project, "--temp", *forced, *weak, "train"))
    summary = mlflow_summary(project)
    return Lab(project, base_commit, hgb_commit, hgb_card, hgb_metrics, rf_card, outputs, summary)


def test_hist_gradient_boosting_falls_back_to_skops_cleanly(lab: Lab):
    artifacts = lab.hgb_card["artifacts"]
    assert artifacts["onnx"] is None and artifacts["backend"] == "skops"
    assert artifacts["parity"].startswith("conversion failed")
    assert lab.hgb_metrics["model"] == "hist_gradient_boosting"
    assert lab.hgb_metrics["f1_macro"] > 0.9


def test_rerun_reproduces_the_metrics_exactly(lab: Lab, piped_project: Project):
    original = read_json(piped_project, "models/model.json")
    for key in ("metrics", "baseline_metrics"):
        rerun = {k: v for k, v in lab.rf_card[key].items() if k != "fit_seconds"}
        assert rerun == {k: v for k, v in original[key].items() if k != "fit_seconds"}, key
    assert lab.rf_card["artifacts"]["parity_check"] == original["artifacts"]["parity_check"]


def test_better_model_moves_the_champion_and_worse_leaves_it(lab: Lab):
    summary = lab.mlflow
    decisions = {v: info["tags"]["champion_decision"] for v, info in summary["versions"].items()}
    assert decisions == {"1": "first", "2": "promoted", "3": "kept"}
    assert summary["champion"] == "2"
    first, second, third = summary["runs"]
    assert second["metrics"]["champion_previous_f1_macro"] == first["metrics"]["f1_macro"]
    assert second["metrics"]["f1_macro"] > first["metrics"]["f1_macro"]
    assert third["metrics"]["f1_macro"] < second["metrics"]["f1_macro"]
    assert third["tags"]["champion.decision"] == "kept"
    # Both scores and the decision are printed by the stage.
    promoted = f"version 2 promoted to champion: f1_macro={second['metrics']['f1_macro']:.4f}"
    assert (
        f"{promoted} vs champion v1 f1_macro={first['metrics']['f1_macro']:.4f}" in lab.outputs[1]
    )
    assert "version 3 kept as challenger" in lab.outputs[2]


def test_every_dvc_experiment_lands_in_the_workspace_store(lab: Lab):
    summary = lab.mlflow
    assert [run["params"]["train.model"] for run in summary["runs"]] == [
        "hist_gradient_boosting",
        "random_forest",
        "random_forest",
    ]
    assert summary["runs"][2]["params"]["train.random_forest.max_depth"] == "1"  # the --temp one
    data_versions = {run["tags"]["dvc_data_md5"] for run in summary["runs"]}
    assert data_versions == {lab.hgb_card["dvc_data_md5"]} and lab.hgb_card["dvc_data_md5"]
    listed = lab.project.uv(
        "run", "dvc", "exp", "list", "--all-commits", "--name-only", env=fast_env()
    ).stdout
    assert {run["tags"]["dvc_experiment"] for run in summary["runs"]} == set(listed.split())
    assert [
        p.relative_to(lab.project.path).as_posix() for p in lab.project.path.rglob("mlflow.db")
    ] == ["mlflow.db"]


def test_dvc_metrics_diff_between_two_commits(lab: Lab):
    diff = json.loads(
        lab.project.uv(
            "run",
            "dvc",
            "metrics",
            "diff",
            lab.base_commit,
            lab.hgb_commit,
            "--json",
            env=fast_env(),
        ).stdout
    )
    changes = diff["reports/metrics.json"]
    assert changes["f1_macro"]["old"] == pytest.approx(1.0)
    assert changes["f1_macro"]["new"] == pytest.approx(lab.hgb_metrics["f1_macro"])
    assert math.isclose(
        changes["f1_macro"]["diff"], lab.hgb_metrics["f1_macro"] - 1.0, abs_tol=1e-9
    )


def test_dvc_plots_diff_between_two_commits(lab: Lab, tmp_path: Path):
    revisions = [lab.base_commit, lab.hgb_commit]
    shown = lab.project.uv(
        "run",
        "dvc",
        "plots",
        "diff",
        *revisions,
        "--json",
        "--split",
        "-o",
        str(tmp_path / "json"),
        env=fast_env(),
    ).stdout
    plots = json.loads(shown)["data"]
    for name in ("confusion.csv", "roc.csv", "precision_recall.csv", "importance.csv"):
        (entry,) = plots[f"reports/plots/{name}"]
        assert entry["revisions"] == revisions, name
        rows = entry["anchor_definitions"]["<DVC_METRIC_DATA>"]
        assert {row["rev"] for row in rows} == set(revisions), name
    for figure in FIGURES:
        assert [e["revisions"] for e in plots[f"reports/figures/{figure}.png"]] == [
            [r] for r in revisions
        ]
    html = tmp_path / "html"
    lab.project.uv("run", "dvc", "plots", "diff", *revisions, "-o", str(html), env=fast_env())
    assert (html / "index.html").stat().st_size > 1000


# -------------------------------------------------------------------------------------------------
# Regression: the diabetes set
# -------------------------------------------------------------------------------------------------


DIABETES_TRIALS = 4  # the `tuning` answer is on for the diabetes render; a short search


@dataclass(frozen=True)
class Diabetes:
    """The diabetes project (tuning on, train.model served), tracked in a store of its own."""

    project: Project
    store: Path  # the folder of the overriding SQLite database

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.store / 'mlflow.db'}"


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory: pytest.TempPathFactory) -> Diabetes:
    folder = tmp_path_factory.mktemp("diabetes")
    path = render(
        folder / "project",
        tasks=False,
        project_name="Diabetes Progression",
        dataset="diabetes",
        tuning=True,
    )
    params = yaml.safe_load((path / "params.yaml").read_text())
    params["train"]["tuning"]["n_trials"] = DIABETES_TRIALS
    # Serve the tuned forest whatever CV says: these tests are about the search and its runs.
    params["train"]["selection"]["rule"] = "model"
    (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    project = synced(path, "diabetes_progression")
    store = folder / "elsewhere"
    store.mkdir()
    diabetes = Diabetes(project, store)
    project.stages(
        "collect()", "clean()", "featurize()", "train()", "evaluate()", "report()",
        env=fast_env(MLFLOW_TRACKING_URI=diabetes.tracking_uri),
    )  # fmt: skip
    return diabetes


def test_model_beats_the_baseline_on_diabetes(diabetes: Diabetes):
    metrics = read_json(diabetes.project, "reports/metrics.json")
    assert metrics["primary_metric"] == "r2"
    assert metrics["r2"] > metrics["baseline"]["r2"]
    assert metrics["rmse"] < metrics["baseline"]["rmse"]
    assert metrics["r2"] > 0.4
    assert metrics["cv_folds"] == 5 and "cv_rmse_std" in metrics


def test_regression_plots_figures_and_onnx(diabetes: Diabetes):
    root = diabetes.project.path
    plots = root / "reports" / "plots"
    assert sorted(p.name for p in plots.glob("*.csv")) == [
        "importance.csv",
        "predictions.csv",
        "residuals.csv",
    ]
    header = (plots / "residuals.csv").read_text().splitlines()[0]
    assert header == "predicted,residual"
    figures = sorted(p.name for p in (root / "reports" / "figures").glob("*.png"))
    assert figures == ["permutation_importance.png", "predicted_vs_actual.png", "residuals.png"]
    card = read_json(diabetes.project, "models/model.json")
    assert card["artifacts"]["backend"] == "onnx", card["artifacts"]["parity"]
    assert card["artifacts"]["parity_check"]["max_abs_diff"] < 1e-3


def test_mlflow_tracking_uri_overrides_the_project_store(diabetes: Diabetes):
    root = diabetes.project.path
    card = read_json(diabetes.project, "models/model.json")
    assert not (root / "mlflow.db").exists() and not (root / "mlartifacts").exists()
    assert (diabetes.store / "mlflow.db").is_file()
    run_artifacts = diabetes.store / "mlartifacts" / card["mlflow"]["run_id"] / "artifacts"
    assert card["mlflow"]["artifact_uri"] == run_artifacts.as_uri()
    assert (run_artifacts / "figures" / "residuals.png").is_file()  # logged by the evaluate stage
    assert card["mlflow"]["registered_model_uri"] == "models:/diabetes_progression/1"
    assert card["mlflow"]["champion_decision"] == "first"


TRIAL_RUNS = """
import json, mlflow, sys
card = json.load(open("models/model.json"))
parent = card["mlflow"]["run_id"]
runs = mlflow.search_runs(
    experiment_ids=[card["mlflow"]["experiment_id"]],
    filter_string=f"tags.mlflow.parentRunId = '{parent}'",
    output_format="list",
)
best = {k: v for k, v in mlflow.get_run(parent).data.params.items() if k.startswith("tuning.")}
print(json.dumps({"trials": sorted(int(r.data.tags["trial"]) for r in runs), "best": best}))
"""


def test_tuning_logs_each_trial_as_a_nested_run_and_trains_the_best(diabetes: Diabetes):
    card = read_json(diabetes.project, "models/model.json")
    tuning = card["tuning"]
    assert tuning["n_trials"] == DIABETES_TRIALS
    assert card["hyperparameters"] == tuning["best_hyperparameters"]
    assert card["metrics"]["cv_r2_mean"] == tuning["best_score"]
    env = fast_env(MLFLOW_TRACKING_URI=diabetes.tracking_uri)
    out = diabetes.project.uv("run", "python", "-c", TRIAL_RUNS, env=env).stdout
    logged = json.loads(out.strip().splitlines()[-1])
    assert logged["trials"] == list(range(DIABETES_TRIALS))
    for name, value in tuning["best_hyperparameters"].items():
        assert logged["best"][f"tuning.best.{name}"] == str(value)


def test_generated_tuning_tests_pass(diabetes: Diabetes):
    """The render's own tests of the search (they exist only when the answer is on)."""
    result = diabetes.project.uv(
        "run", "pytest", "-q", "-p", "no:cacheprovider", "tests/training/test_tuning.py",
        env=fast_env(), timeout=600,
    )  # fmt: skip
    assert " passed" in result.stdout and "failed" not in result.stdout, result.stdout


def test_regression_report_quotes_the_numbers(diabetes: Diabetes):
    metrics = read_json(diabetes.project, "reports/metrics.json")
    report = (diabetes.project.path / "reports" / "REPORT.md").read_text()
    baseline, guessing = metrics["baseline"]["r2"], metrics["guessing"]["r2"]
    primary = f"| r2 **(primary)** | {metrics['r2']:.4f} | {baseline:.4f} | {guessing:.4f} | better"
    assert primary in report
    assert abs(guessing) < 0.05  # the training mean explains (almost) none of the test variance
    assert "## Possible leakage" in report and "## Calibration" not in report
    assert f"{metrics['cv_r2_mean']:.4f} ± {metrics['cv_r2_std']:.4f}" in report
    assert "Target on the training split: mean" in report
    assert "registered as `models:/diabetes_progression/1`" in report


# -------------------------------------------------------------------------------------------------
# The `tuning` answer
# -------------------------------------------------------------------------------------------------


def _tuning_switches(project: Path, tuning: bool) -> None:
    params = (project / "params.yaml").read_text()
    assert f"enabled: {str(tuning).lower()}" in params
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    pipeline = pyproject["dependency-groups"]["pipeline"]
    assert any(dep.startswith("optuna") for dep in pipeline) is tuning
    assert not any("optuna" in dep for dep in pyproject["project"]["dependencies"])
    assert (project / "tests" / "training" / "test_tuning.py").is_file() is tuning
    sources = (project / "src" / DEFAULT_PACKAGE / "training").glob("*.py")
    assert not any("{{" in path.read_text() or "{%" in path.read_text() for path in sources)


def test_tuning_answer_switches_the_search_and_its_dependency(default_render: Path, tmp_path: Path):
    _tuning_switches(default_render, tuning=False)
    _tuning_switches(render(tmp_path / "p", tasks=False, tuning=True), tuning=True)
