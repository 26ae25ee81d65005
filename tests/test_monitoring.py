"""After deployment, in the piped default project: the API's prediction log feeds `monitor`, and
batch scoring accounts for every row.

One server runs with PREDICTION_LOG=true in a scratch folder that holds copies of the project's
params.yaml, models/ and test split (PROJECT_ROOT points the commands there, so the piped project
stays read-only). Rows drawn from the test split go through it first: `monitor` must see no drift in
a window of 100 rows. Then 100 rows with `bill_length_mm` 30% larger and every `island` set to
Torgersen: `monitor` must flag exactly those two features and exit 3.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from .conftest import Project, clean_env, free_port, run, serving

EXIT_DRIFT = 3


def post(base: str, instances: list[dict]) -> None:
    request = urllib.request.Request(
        f"{base}/predict",
        data=json.dumps({"instances": instances}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def wait_for_log(folder: Path, instances: int, timeout: float = 20) -> None:
    """The log is written by a background thread: wait until it holds `instances` rows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for p in folder.glob("predictions-*.jsonl") for line in p.open()]
        written = sum(len(json.loads(line)["inputs"]) for line in lines)
        if written >= instances:
            return
        time.sleep(0.1)
    raise AssertionError(f"the prediction log holds {written} rows, expected {instances}")


# In the project's virtualenv (the template's has no pandas): the windows and the file to score.
WINDOWS = """
import json
import pandas as pd
features = list(json.load(open("models/reference.json"))["features"])
test = pd.read_parquet("test.parquet")
clean = test[features].sample(100, replace=True, random_state=0)
drifted = test[features].sample(100, replace=True, random_state=1)
drifted["bill_length_mm"] *= 1.3
drifted["island"] = "Torgersen"
clean.to_json("clean.json", orient="records")  # NaN -> null
drifted.to_json("drifted.json", orient="records")
drifted.to_csv("drifted.csv", index=False)
new = test.astype(object)
new.loc[new.index[0], "bill_length_mm"] = "long"
new.loc[new.index[1], "island"] = "Atlantis"
new.to_csv("new.csv", index=False)
print(len(new))
"""


@pytest.fixture(scope="module")
def scratch(piped_project: Project, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("after-deployment")
    shutil.copytree(piped_project.path / "models", root / "models")
    shutil.copy(piped_project.path / "data" / "processed" / "test.parquet", root / "test.parquet")
    params = yaml.safe_load((piped_project.path / "params.yaml").read_text())
    params["monitor"]["window_rows"] = 100  # the latest 100 logged rows
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run([str(piped_project.path / ".venv" / "bin" / "python"), "-c", WINDOWS], root)
    return root


@pytest.mark.slow
def test_the_prediction_log_feeds_monitor_clean_then_drifted(piped_project: Project, scratch: Path):
    binary = str(piped_project.path / ".venv" / "bin" / piped_project.package)
    logs = scratch / "logs"
    env = clean_env(
        PROJECT_ROOT=str(scratch),
        MODEL_PATH=str(scratch / "models"),
        PREDICTION_LOG="true",
        PREDICTION_LOG_DIR=str(logs),
    )
    clean = json.loads((scratch / "clean.json").read_text())
    drifted = json.loads((scratch / "drifted.json").read_text())
    port = free_port()
    argv = [binary, "serve", "--port", str(port)]
    with serving(argv, scratch, env, scratch / "server.log", port) as base:
        for start in range(0, 100, 20):
            post(base, clean[start : start + 20])
        wait_for_log(logs, 100)
        quiet = run([binary, "monitor"], scratch, env=env, check=False)
        assert quiet.returncode == 0, quiet.stdout + quiet.stderr
        assert quiet.stdout.startswith("no drift in 7 features and the predictions (100 rows")

        for start in range(0, 100, 20):
            post(base, drifted[start : start + 20])
        wait_for_log(logs, 200)
        alarm = run([binary, "monitor"], scratch, env=env, check=False)
    assert alarm.returncode == EXIT_DRIFT, alarm.stdout + alarm.stderr
    report = json.loads((scratch / "reports" / "monitoring.json").read_text())
    assert set(report["drifted_features"]) == {"bill_length_mm", "island"}
    assert report["rows"] == 100 and "prediction log" in report["source"]
    markdown = (scratch / "reports" / "MONITORING.md").read_text()
    assert "![bill_length_mm](monitoring/bill_length_mm.png)" in markdown
    assert (scratch / "reports" / "monitoring" / "island.png").is_file()


@pytest.mark.slow
def test_batch_scoring_accounts_for_every_row(piped_project: Project, scratch: Path):
    binary = str(piped_project.path / ".venv" / "bin" / piped_project.package)
    env = clean_env(PROJECT_ROOT=str(scratch), MODEL_PATH=str(scratch / "models"))
    rows = len((scratch / "new.csv").read_text().splitlines()) - 1
    result = run(
        [binary, "predict", "new.csv", "scores.parquet", "--chunk-size", "16"], scratch, env=env
    )
    assert f"{rows} rows in: {rows - 2} scored" in result.stdout, result.stdout
    with (scratch / "scores.rejects.csv").open() as handle:
        rejects = list(csv.DictReader(handle))
    assert [(r["row"], r["reason"].split(":")[0]) for r in rejects] == [
        ("0", "bill_length_mm"),
        ("1", "island"),
    ]
    assert (scratch / "scores.parquet").stat().st_size > 0
    missing = run([binary, "predict", "nope.csv", "out.csv"], scratch, env=env, check=False)
    assert missing.returncode == 2 and "not found" in missing.stderr


@pytest.mark.slow
def test_make_predict_and_make_monitor_run_as_the_docs_show(piped_project: Project, scratch: Path):
    """`make predict INPUT=... OUTPUT=...` and `make monitor INPUT=...`, as the docs show them."""
    env = clean_env(PROJECT_ROOT=str(scratch), MODEL_PATH=str(scratch / "models"))
    output = scratch / "make-scores.csv"
    scored = run(
        ["make", "predict", f"INPUT={scratch / 'new.csv'}", f"OUTPUT={output}"],
        piped_project.path,
        env=env,
    )
    assert "scored" in scored.stdout, scored.stdout
    assert output.is_file() and (scratch / "make-scores.rejects.csv").is_file()
    drift = run(
        ["make", "monitor", f"INPUT={scratch / 'drifted.csv'}"],
        piped_project.path,
        env=env,
        check=False,
    )
    assert drift.returncode != 0 and "Error 3" in drift.stderr, drift.stdout + drift.stderr
    assert json.loads((scratch / "reports" / "monitoring.json").read_text())["drift"] is True
