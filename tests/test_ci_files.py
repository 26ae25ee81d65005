"""The generated CI files, proved on real renders.

- The CI file of each `ci` answer passes a real linter: actionlint (which runs shellcheck on
  every `run:` script) for GitHub Actions; GitLab's CI schema (vendored by check-jsonschema) and
  shellcheck on every job script for GitLab. A broken file fails them: they are not silent.
- Each CI's steps run in order in a rendered project that holds the piped default project's
  outputs (the `polished` fixture), so nothing is trained again. Only what needs the hosted
  service is left out: checkout, setup-uv and its cache, setup-java, and artifact uploads (whose
  paths are checked instead).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import (
    METRIC_DROP,
    Project,
    clean_env,
    makefile_command,
    primary_metric,
    render,
    run,
)

BIN = Path(sys.executable).parent  # the template's virtualenv: actionlint, shellcheck, ...
# Answers that change the CI files: Spark needs Java; a local CSV cannot be read by CI.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "spark-csv-url": {
        "engine": "spark",
        "dataset": "csv_url",
        "csv_url": "https://example.com/data/houses.csv",
        "target_column": "price",
        "task": "regression",
    },
    "local-csv": {
        "dataset": "local_csv",
        "local_csv_path": "/home/me/data/houses.csv",
        "target_column": "label",
    },
}
HOSTED_ACTIONS = (
    "actions/checkout@",
    "astral-sh/setup-uv@",
    "actions/setup-java@",
    "actions/upload-artifact@",
)
GITLAB_KEYWORDS = {"workflow", "stages", "variables", "default", "include", "image", "cache"}


@pytest.fixture(scope="module")
def ci_render(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """Render (without tasks or installs) once per CI answer and variant, for this module."""
    renders: dict[tuple[str, str], Path] = {}

    def get(ci: str, variant: str = "default") -> Path:
        if (ci, variant) not in renders:
            folder = tmp_path_factory.mktemp(f"ci-{ci}-{variant}") / "project"
            renders[ci, variant] = render(folder, tasks=False, ci=ci, **VARIANTS[variant])
        return renders[ci, variant]

    return get


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: run 'uv sync' in the template repository (dev group).")
    return found


def _check(command: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    """actionlint, with shellcheck on every `run:` script (pyflakes is not installed: off)."""
    shellcheck = ["-shellcheck", _tool("shellcheck"), "-pyflakes", ""]
    return _check([_tool("actionlint"), "-no-color", *shellcheck, str(path)])


def jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return _check([_tool("check-jsonschema"), "--builtin-schema", schema, str(path)])


def shellcheck(script: str) -> subprocess.CompletedProcess[str]:
    return _check([_tool("shellcheck"), "--shell=bash", "-"], stdin=script)


def gitlab_jobs(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The jobs of a .gitlab-ci.yml, in the order GitLab runs them (by stage, then file order)."""
    jobs = {
        name: job
        for name, job in config.items()
        if name not in GITLAB_KEYWORDS and not name.startswith(".")
    }
    stages = config.get("stages", ["build", "test", "deploy"])
    return dict(sorted(jobs.items(), key=lambda item: stages.index(item[1].get("stage", "test"))))


def gitlab_job_scripts(config: dict[str, Any], job: dict[str, Any]) -> tuple[list[str], list[str]]:
    """A job's before_script (its own, its `extends` template's, or the default), and script."""
    before = job.get("before_script")
    if before is None and "extends" in job:
        before = config[job["extends"]].get("before_script")
    if before is None:
        before = config.get("default", {}).get("before_script", [])
    return list(before), list(job["script"])


def gitlab_job_runs(name: str, job: dict[str, Any], conditions: Mapping[str, bool]) -> bool:
    """Whether GitLab adds the job to a pipeline: the first rule that matches decides."""
    rules = job.get("rules")
    if not rules:
        return True
    for rule in rules:
        if "if" in rule:
            assert rule["if"] in conditions, f"{name}: no test value for the rule {rule['if']}"
            if not conditions[rule["if"]]:
                continue
        return rule.get("when", "on_success") != "never"
    return False


# ------------------------------------------------------------------------------------------------
# Linters, on every CI answer (fast: renders without installing)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_github_workflow_passes_actionlint(variant: str, ci_render: Callable[..., Path]):
    workflow_file = ci_render("github", variant) / ".github" / "workflows" / "ci.yml"
    lint = actionlint(workflow_file)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    workflow = yaml.safe_load(workflow_file.read_text())
    jobs = workflow["jobs"]
    has_pipeline = variant != "local-csv"
    assert set(jobs) == ({"lint", "test", "pipeline"} if has_pipeline else {"lint", "test"})
    assert {"push", "pull_request"} <= set(workflow[True])  # PyYAML reads the key `on` as True
    for name, job in jobs.items():
        actions = {s["uses"].split("@")[0]: s for s in job["steps"] if "uses" in s}
        assert actions["astral-sh/setup-uv"]["with"]["enable-cache"] is True
        java = "actions/setup-java" in actions
        assert java == (variant == "spark-csv-url" and name != "lint"), name
    runs = {name: "\n".join(s.get("run", "") for s in job["steps"]) for name, job in jobs.items()}
    assert "uv run pre-commit run --all-files" in runs["lint"]
    assert "uv run mypy" in runs["lint"]
    assert "uv run coverage run -m pytest" in runs["test"]
    assert "uv run coverage report" in runs["test"]
    if has_pipeline:
        assert "uv run dvc repro" in runs["pipeline"]
        steps = jobs["pipeline"]["steps"]
        on_pull_requests = [s for s in steps if "pull_request" in str(s.get("if"))]
        assert len(on_pull_requests) == 1
        assert "dvc metrics diff" in on_pull_requests[0]["run"]
        assert "$GITHUB_STEP_SUMMARY" in on_pull_requests[0]["run"]
        upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
        assert {"reports/figures/", "reports/*.json"} <= set(upload["with"]["path"].split())


@pytest.mark.parametrize("variant", ["default", "spark-csv-url"])
def test_the_scheduled_monitor_workflow_passes_actionlint(
    variant: str, ci_render: Callable[..., Path]
):
    workflow_file = ci_render("github", variant) / ".github" / "workflows" / "monitor.yml"
    lint = actionlint(workflow_file)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    workflow = yaml.safe_load(workflow_file.read_text())
    assert set(workflow[True]) == {"schedule", "workflow_dispatch"}
    steps = workflow["jobs"]["monitor"]["steps"]
    retrain = next(s for s in steps if "dvc repro --force" in s.get("run", ""))
    assert retrain["if"] == "steps.monitor.outputs.drift == 'true'"
    java = any(s.get("uses", "").startswith("actions/setup-java") for s in steps)
    assert java == (variant == "spark-csv-url")
    local = ci_render("github", "local-csv") / ".github" / "workflows"
    assert not (local / "monitor.yml").exists()  # CI cannot read a CSV on your machine


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_gitlab_job_scripts_pass_shellcheck(variant: str, ci_render: Callable[..., Path]):
    config = yaml.safe_load((ci_render("gitlab", variant) / ".gitlab-ci.yml").read_text())
    jobs = gitlab_jobs(config)
    has_pipeline = variant != "local-csv"
    with_pipeline = ["lint", "test", "pipeline", "monitor", "metrics-diff"]
    expected = with_pipeline if has_pipeline else ["lint", "test"]
    assert list(jobs) == expected
    for name, job in jobs.items():
        before, script = gitlab_job_scripts(config, job)
        checked = shellcheck("\n".join(before + script) + "\n")
        assert checked.returncode == 0, f"{name}:\n{checked.stdout}"
        java = any("default-jre-headless" in line for line in before)
        with_java = ("test", "pipeline", "monitor")
        assert java == (variant == "spark-csv-url" and name in with_java), name
    assert config["default"]["image"].endswith("python3.11-bookworm")
    assert config["default"]["cache"]["paths"] == [".uv-cache/"]
    assert "uv run mypy" in jobs["lint"]["script"]
    assert "uv run coverage report" in jobs["test"]["script"]
    assert jobs["test"]["artifacts"]["reports"]["coverage_report"]["path"] == "coverage.xml"
    if has_pipeline:
        assert "uv run dvc repro" in jobs["pipeline"]["script"]
        merge_requests_only = [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
        assert jobs["metrics-diff"]["rules"] == merge_requests_only


def test_ci_files_match_their_published_schemas(ci_render: Callable[..., Path]):
    """GitLab's CI schema and GitHub's workflow and Dependabot schemas, as vendored by
    check-jsonschema (one run per schema: it takes seconds to start)."""
    checks = {
        "vendor.gitlab-ci": [ci_render("gitlab", v) / ".gitlab-ci.yml" for v in VARIANTS],
        "vendor.github-workflows": [
            path
            for v in VARIANTS
            for path in sorted((ci_render("github", v) / ".github" / "workflows").glob("*.yml"))
        ],
        "vendor.dependabot": [ci_render("github") / ".github" / "dependabot.yml"],
    }
    for schema, files in checks.items():
        checked = _check([_tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files)])
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_linters_reject_a_broken_ci_file(ci_render: Callable[..., Path], tmp_path: Path):
    """The checks above would pass anything if the linters were not really running."""
    workflow = ci_render("github") / ".github" / "workflows" / "ci.yml"
    broken = workflow.read_text().replace("run: uv sync", "run: uv sync $EXTRA_ARGS", 1)
    broken = broken.replace("ci-${{ github.ref }}", "ci-${{ github.no_such_property }}")
    (tmp_path / "ci.yml").write_text(broken)
    lint = actionlint(tmp_path / "ci.yml")
    assert lint.returncode != 0
    assert "SC2086" in lint.stdout and "no_such_property" in lint.stdout, lint.stdout

    gitlab = (ci_render("gitlab") / ".gitlab-ci.yml").read_text()
    (tmp_path / ".gitlab-ci.yml").write_text(gitlab.replace("  script:", "  scripts:", 1))
    checked = jsonschema("vendor.gitlab-ci", tmp_path / ".gitlab-ci.yml")
    assert checked.returncode != 0 and "scripts" in checked.stdout, checked.stdout
    assert shellcheck("cd $HOME/project\n").returncode != 0


def test_readme_badge_points_at_the_generated_ci(ci_render: Callable[..., Path]):
    github = ci_render("github")
    assert "actions/workflows/ci.yml/badge.svg" in (github / "README.md").read_text()
    assert (github / ".github" / "workflows" / "ci.yml").is_file()
    assert not (github / ".gitlab-ci.yml").exists()
    gitlab = ci_render("gitlab")
    assert "pipeline.svg" in (gitlab / "README.md").read_text()
    assert "actions/workflows" not in (gitlab / "README.md").read_text()
    assert not (gitlab / ".github").exists()


# ------------------------------------------------------------------------------------------------
# The CI steps, run in the `polished` project (conftest): every polish answer on, piped outputs in
# ------------------------------------------------------------------------------------------------
# A command that the other CI file already ran, identically (no variables) in the same project,
# is not run twice: its first result stands. The project's tests take most of a minute.
_already_ran: dict[tuple[Path, str], str] = {}


def run_step(project: Project, script: str, env: Mapping[str, str], shell: list[str]) -> str:
    key = (project.path, script)
    if "$" not in script and key in _already_ran:
        return _already_ran[key]
    result = run([*shell, "-c", script], project.path, env=env, timeout=900)
    _already_ran[key] = output = result.stdout + result.stderr
    return output


def _matches(project: Path, pattern: str) -> list[Path]:
    """Files an artifact path selects: a folder ending in '/' (all its files), or a glob."""
    if pattern.endswith("/"):
        folder = project / pattern
        return [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    return [p for p in project.glob(pattern) if p.is_file()]


def _change(table: str, metric: str) -> float:
    """The 'Change' column of a `dvc metrics diff --md` table, for a metric of metrics.json."""
    cells = r"\|\s*reports/metrics\.json\s*\|\s*" + re.escape(metric) + r"\s*\|[^|]*\|[^|]*\|"
    row = re.search(cells + r"\s*([-+\d.e]+)\s*\|", table)
    assert row, table
    return float(row.group(1))


# A pull request against main.
GITHUB_EXPRESSIONS = {"github.base_ref": "main", "github.ref": "refs/pull/1/merge"}
GITHUB_CONDITIONS = {"github.event_name == 'pull_request'": True}
GITHUB_SHELL = ["bash", "--noprofile", "--norc", "-e"]  # what `run:` uses when no shell is named
GITLAB_SHELL = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]


def _github_value(value: Any) -> str:
    def substitute(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        assert expression in GITHUB_EXPRESSIONS, f"no test value for ${{{{ {expression} }}}}"
        return GITHUB_EXPRESSIONS[expression]

    return re.sub(r"\$\{\{(.*?)\}\}", substitute, str(value))


@pytest.mark.slow
def test_github_workflow_steps_run_in_a_rendered_project(polished: Project, tmp_path: Path):
    workflow = yaml.safe_load((polished.path / ".github" / "workflows" / "ci.yml").read_text())
    summary = tmp_path / "step-summary.md"
    summary.touch()
    outputs: dict[str, str] = {}
    for job_name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if "uses" in step:
                assert step["uses"].startswith(HOSTED_ACTIONS), f"{job_name}: {step['uses']}"
                if step["uses"].startswith("actions/upload-artifact@"):
                    for pattern in step["with"]["path"].split():
                        assert _matches(polished.path, pattern), f"no file for {pattern}"
                continue
            if "if" in step:
                assert step["if"] in GITHUB_CONDITIONS, f"no test value for if: {step['if']}"
                if not GITHUB_CONDITIONS[step["if"]]:
                    continue
            env = clean_env(GITHUB_STEP_SUMMARY=str(summary), GITHUB_ACTIONS="true", CI="true")
            for scope in (workflow, job, step):
                env |= {key: _github_value(value) for key, value in scope.get("env", {}).items()}
            outputs[step["run"].strip()] = run_step(polished, step["run"], env, GITHUB_SHELL)

    tests = "uv run coverage run -m pytest"
    # Every hook on the piped outputs: pre-commit exits 1 if a hook edits a file.
    hooks = "uv run pre-commit run --all-files --show-diff-on-failure"
    expected = {"uv sync", "uv run mypy", hooks, tests, "uv run dvc repro"}
    assert expected <= set(outputs), list(outputs)
    assert "Failed" not in outputs[hooks]
    assert "Success: no issues found" in outputs["uv run mypy"]
    assert re.search(r"^TOTAL .* \d+%$", outputs["uv run coverage report"], flags=re.MULTILINE)
    # The project's own test suite, run by that step (and nowhere else in these tests).
    summary_line = [line for line in outputs[tests].splitlines() if " passed" in line][-1]
    assert int(re.search(r"(\d+) passed", summary_line).group(1)) >= 30, summary_line
    assert "failed" not in summary_line and "error" not in summary_line, summary_line
    text = summary.read_text()
    assert "\x1b[" not in text, "colour codes in the job summary"
    this_run, against_base = text.split("## Metrics: this pull request against main")
    assert "## Metrics: this run against the last commit" in this_run
    assert _change(this_run, primary_metric(polished)) == 0  # the committed metrics reproduce
    assert _change(against_base, primary_metric(polished)) == pytest.approx(METRIC_DROP, abs=1e-3)


@pytest.mark.slow
def test_gitlab_jobs_run_in_a_rendered_project(polished: Project, ci_render: Callable[..., Path]):
    """The GitLab jobs of the default answers (the same here), run as for a merge request."""
    config = yaml.safe_load((ci_render("gitlab") / ".gitlab-ci.yml").read_text())
    variables = {k: str(v) for k, v in config.get("variables", {}).items()}
    variables.pop("UV_CACHE_DIR")  # the hosted cache; here, the machine's uv cache
    env = clean_env(
        CI="true",
        GITLAB_CI="true",
        CI_PIPELINE_SOURCE="merge_request_event",
        CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main",
        CI_DEFAULT_BRANCH="main",
        **variables,
    )
    conditions = {
        '$CI_PIPELINE_SOURCE == "merge_request_event"': True,
        '$CI_PIPELINE_SOURCE == "schedule"': False,
    }
    report = polished.path / "metrics-diff.md"
    report.unlink(missing_ok=True)
    try:
        for name, job in gitlab_jobs(config).items():
            if not gitlab_job_runs(name, job, conditions):
                continue
            before, script = gitlab_job_scripts(config, job)  # after_script only prunes the cache
            for line in before + script:
                run_step(polished, line, env, GITLAB_SHELL)
            for pattern in job.get("artifacts", {}).get("paths", []):
                assert _matches(polished.path, pattern), f"{name}: no file for {pattern}"
        assert _change(report.read_text(), primary_metric(polished)) == pytest.approx(
            METRIC_DROP, abs=1e-3
        )
        # GitLab reads the total off the test job's log with the job's `coverage` pattern.
        log = _already_ran[(polished.path, "uv run coverage report")]
        assert re.search(config["test"]["coverage"].strip("/"), log, flags=re.MULTILINE), log
    finally:
        report.unlink(missing_ok=True)


# The scheduled drift check. Its windows: 100 rows drawn from the test split, as they are (clean)
# and with bill_length_mm 30% larger and every island Torgersen (drifted). Made in the project's
# virtualenv (the template's has no pandas).
MONITOR_WINDOWS = """
import sys
import pandas as pd
test = pd.read_parquet("data/processed/test.parquet")
test.sample(100, replace=True, random_state=0).to_parquet(sys.argv[1] + "/clean.parquet")
drifted = test.sample(100, replace=True, random_state=1)
drifted["bill_length_mm"] *= 1.3
drifted["island"] = "Torgersen"
drifted.to_parquet(sys.argv[1] + "/drifted.parquet")
"""


MONITOR_INPUT_VAR = r"\$\{\{ *vars\.MONITOR_INPUT *\}\}"  # the repository variable


def monitor_windows(project: Project, folder: Path) -> dict[str, Path]:
    python = str(project.path / ".venv" / "bin" / "python")
    run([python, "-c", MONITOR_WINDOWS, str(folder)], project.path)
    return {name: folder / f"{name}.parquet" for name in ("clean", "drifted")}


def _github_env_file(path: Path) -> dict[str, str]:
    """NAME=value lines that a step appended to $GITHUB_ENV or $GITHUB_OUTPUT."""
    lines = path.read_text().splitlines() if path.exists() else []
    return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.mark.slow
def test_the_scheduled_workflow_retrains_only_on_drift(polished: Project, tmp_path: Path):
    """The monitor workflow's steps, on a clean window (no retraining) then a drifted one."""
    workflow = yaml.safe_load((polished.path / ".github" / "workflows" / "monitor.yml").read_text())
    windows = monitor_windows(polished, tmp_path)
    for name in ("clean", "drifted"):
        files = {key: tmp_path / f"{name}-{key}" for key in ("env", "output", "summary")}
        ran: list[str] = []
        outputs: dict[str, dict[str, str]] = {}
        for step in workflow["jobs"]["monitor"]["steps"]:
            if "uses" in step:
                assert step["uses"].startswith(HOSTED_ACTIONS), step["uses"]
                continue
            condition = step.get("if")
            if condition == "steps.monitor.outputs.drift == 'true'":
                if outputs.get("monitor", {}).get("drift") != "true":
                    continue
            else:
                assert condition is None, f"no test value for if: {condition}"
            env = clean_env(
                GITHUB_ENV=str(files["env"]),
                GITHUB_OUTPUT=str(files["output"]),
                GITHUB_STEP_SUMMARY=str(files["summary"]),
                GITHUB_ACTIONS="true",
                CI="true",
            )
            for key, value in workflow.get("env", {}).items():
                env[key] = re.sub(MONITOR_INPUT_VAR, str(windows[name]), str(value))
            env |= _github_env_file(files["env"])
            files["output"].write_text("")
            run([*GITHUB_SHELL, "-c", step["run"]], polished.path, env=env, timeout=900)
            outputs[step.get("id", "")] = _github_env_file(files["output"])
            ran.append(step["name"])
        report = json.loads((polished.path / "reports" / "monitoring.json").read_text())
        retrained = any(step.startswith("On drift") for step in ran)
        if name == "clean":
            assert report["drift"] is False and not retrained, ran
        else:
            assert set(report["drifted_features"]) == {"bill_length_mm", "island"}
            assert retrained, ran
            assert "## Retrained on fresh data" in files["summary"].read_text()
        assert "# Monitoring" in files["summary"].read_text()


@pytest.mark.slow
def test_the_scheduled_gitlab_pipeline_runs_only_the_monitor_job(
    polished: Project, ci_render: Callable[..., Path], tmp_path: Path
):
    """A scheduled pipeline: lint, test and pipeline stay out; monitor checks a clean window."""
    config = yaml.safe_load((ci_render("gitlab") / ".gitlab-ci.yml").read_text())
    conditions = {
        '$CI_PIPELINE_SOURCE == "merge_request_event"': False,
        '$CI_PIPELINE_SOURCE == "schedule"': True,
    }
    scheduled = [
        name for name, job in gitlab_jobs(config).items() if gitlab_job_runs(name, job, conditions)
    ]
    assert scheduled == ["monitor"]
    window = monitor_windows(polished, tmp_path)["clean"]
    env = clean_env(
        CI="true", GITLAB_CI="true", CI_PIPELINE_SOURCE="schedule", MONITOR_INPUT=str(window)
    )
    before, script = gitlab_job_scripts(config, config["monitor"])
    for line in before + script:
        output = run([*GITLAB_SHELL, "-c", line], polished.path, env=env, timeout=900)
    assert "no drift in 7 features" in output.stdout
    assert "drift: fetching fresh data" not in output.stdout


@pytest.mark.slow
def test_make_coverage_meets_fail_under_and_draws_the_badge(polished: Project):
    """`make coverage` on the polished project: its `&&` chain, one command at a time and stopping
    at the first failure as make does. Its test run is the same command on the same project as the
    GitHub test step's above, so it runs once for both (run_step)."""
    badge = polished.path / "docs" / "coverage.svg"
    assert "coverage: not measured" in badge.read_text()
    assert "docs/coverage.svg" in (polished.path / "README.md").read_text()
    commands = makefile_command(polished.path, "coverage").split(" && ")
    assert commands[0] == "uv run coverage run -m pytest", commands
    assert commands[-1] == "uv run coverage report", commands
    try:
        outputs = [run_step(polished, command, clean_env(), GITHUB_SHELL) for command in commands]
        total = re.search(r"^TOTAL\s.*\s(\d+)%$", outputs[-1], flags=re.MULTILINE)
        assert total, outputs[-1][-4000:]
        config = tomllib.loads((polished.path / "pyproject.toml").read_text())["tool"]["coverage"]
        assert config["run"]["branch"] is True
        assert int(total.group(1)) >= config["report"]["fail_under"] >= 80
        assert (polished.path / "coverage.xml").is_file()
        drawn = badge.read_text()
        assert re.search(r'aria-label="coverage: \d+(\.\d+)?%"', drawn), drawn[:300]
        assert "http" not in drawn.replace("http://www.w3.org", ""), "the badge links out"
    finally:
        polished.run(["git", "checkout", "--", "docs/coverage.svg"])  # the committed placeholder
