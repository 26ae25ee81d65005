"""The data half of generated projects, for real: bring-your-own CSVs, downloads, built-in sets,
corrupted inputs, quarantine accounting and DVC-versioned data.

One `local_csv` project is rendered and installed once; each CSV shape then only rewrites the
`data:` section of its params.yaml and runs the project's own CLI. The DVC tests work on a copy
of the session's piped default project, so that project stays exactly as other tests expect it.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import http.server
import io
import json
import math
import os
import random
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import DEFAULT_PACKAGE, Project, clean_env, render, run, synced

BYO_PACKAGE = "byo_data"


def _write_params(project: Project, data: dict[str, Any], **sections: dict[str, Any]) -> None:
    """Point params.yaml at a new data file; keep the task's metric and linear params consistent."""
    path = project.path / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["data"] = {"name": "data", "source": "local", "sha256": None, "encoding": None, **data}
    classification = params["data"]["task"] == "classification"
    params["train"].update(
        model="linear",  # the fastest family: these tests are about the data, not the model
        cv_folds=2,
        primary_metric="f1_macro" if classification else "r2",
        linear={"C": 1.0, "max_iter": 1000} if classification else {"alpha": 1.0},
    )
    params["clean"] = {}
    for name, values in sections.items():
        params[name] = {**params.get(name, {}), **values}
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def _env(**extra: str) -> dict[str, str]:
    """clean_env, but Python may cache bytecode.

    Every stage is a new process that imports scikit-learn; without .pyc files each one compiles
    it again, which costs seconds of CPU per command.
    """
    env = clean_env(**extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _cli(project: Project, *args: str, check: bool = True):
    return project.run(
        [str(project.path / ".venv" / "bin" / project.package), *args],
        env=_env(),
        check=check,
        timeout=300,
    )


def _files(root: Path) -> dict[str, bytes]:
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _reset(project: Project) -> None:
    for name in ("data", "models"):
        shutil.rmtree(project.path / name, ignore_errors=True)
    (project.path / "reports" / "data_quality.json").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def byo(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A local_csv project (no git task: the CLI stages need no git), installed once."""
    root = tmp_path_factory.mktemp("byo")
    first = root / "first.csv"
    first.write_text("x,label\n1,a\n2,b\n")
    path = render(
        root / "project",
        tasks=False,
        project_name="BYO Data",
        dataset="local_csv",
        local_csv_path=str(first),
        target_column="label",
        task="classification",
    )
    return synced(path, BYO_PACKAGE)


# ------------------------------------------------------------------------------------------------
# Bring your own CSV: five shapes, each through collect -> clean -> featurize -> train
# ------------------------------------------------------------------------------------------------
Rows = list[dict[str, Any]]  # None is an empty field


def write_csv(
    rows: Rows, path: Path, *, delimiter: str = ",", newline: str = "\n", bom: bool = False
) -> None:
    """Write rows with the csv module (fields quoted when they need it), as other tools would."""
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=list(rows[0]), delimiter=delimiter, lineterminator=newline
    )
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8"))


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@dataclass
class Shape:
    """A generated CSV, what to predict, and what inference must make of it."""

    name: str
    build: Callable[[random.Random], Rows]
    target: str
    task: str
    kinds: dict[str, str]
    dropped: list[str] = field(default_factory=list)
    quarantined: dict[str, int] = field(default_factory=dict)
    excel: bool = False  # written with a BOM, semicolons and Windows line endings
    clean: dict[str, Any] = field(default_factory=dict)  # params.yaml `clean:` settings


def _categoricals_with_gaps(rng: random.Random) -> Rows:
    rows = []
    for _ in range(400):
        colour = rng.choice(["red", "green", "blue"]) if rng.random() > 0.1 else None
        shape = (
            rng.choice(["round", "square"]) if rng.random() > 0.1 else "NA"
        )  # 'NA' means missing
        size = round(rng.gauss(10, 2), 4)
        label = "warm" if colour == "red" else "big" if size > 10 else "small"
        rows.append({"size": size, "colour": colour, "shape": shape, "label": label})
    return rows


def _with_dates(rng: random.Random) -> Rows:
    rows = []
    for i in range(365):
        day = date(2023, 1, 1) + timedelta(days=i)
        temperature = round(10 + 8 * math.sin(i / 58) + rng.gauss(0, 1), 1)
        busy = "weekend" if day.weekday() >= 5 else "weekday"
        rows.append({"day": day.isoformat(), "temperature": temperature, "busy": busy})
    return rows


def _with_ids(rng: random.Random) -> Rows:
    rows = []
    for i in range(300):
        x = round(rng.gauss(0, 1), 4)
        rows.append(
            {
                "customer_id": 5000 + i,
                "account": f"ACC-{rng.randrange(10**8):08d}-{i}",
                "zip": rng.choice(["02139", "02142", "10001", "94103"]),
                "x": x,
                "label": "pos" if x > 0 else "neg",
            }
        )
    return rows


def _regression(rng: random.Random) -> Rows:
    rows = []
    for _ in range(500):
        rooms = rng.randint(1, 6)
        income = round(math.exp(rng.gauss(10, 1.5)))  # very skewed
        rows.append(
            {
                "rooms": rooms,
                "income": f"{income:,}",  # thousands separators
                "country": "NL",  # a single value: dropped
                "note": rng.choice(['quiet; "nice" street', "busy, noisy"]),  # needs quoting
                "price": round(50_000 * rooms + 0.5 * income + rng.gauss(0, 10_000), 2),
            }
        )
    return rows


def _yes_no(rng: random.Random) -> Rows:
    rows = []
    for _ in range(400):
        age, smoker = rng.randint(18, 89), rng.choice(["Y", "N"])
        churn = "yes" if age > 60 or smoker == "Y" else "no"
        rows.append(
            {"age": str(age), "smoker": smoker, "score": round(rng.gauss(0, 1), 5), "churn": churn}
        )
    for index, typo in zip((3, 50, 200), ("forty", "n/a?", "??"), strict=True):
        rows[index]["age"] = typo  # typos: quarantined
    rows[10]["churn"] = rows[11]["churn"] = None  # missing target: quarantined
    rows[20]["age"] = "NA"  # missing: imputed
    return [*rows, dict(rows[100]), dict(rows[101])]  # two exact duplicates


SHAPES = [
    Shape(
        "categoricals_with_gaps",
        _categoricals_with_gaps,
        "label",
        "classification",
        {"size": "numeric", "colour": "categorical", "shape": "categorical"},
    ),
    Shape(
        "dates",
        _with_dates,
        "busy",
        "classification",
        {
            "day_year": "numeric",
            "day_month": "numeric",
            "day_day": "numeric",
            "day_dayofweek": "numeric",
            "temperature": "numeric",
        },
    ),
    Shape(
        "ids",
        _with_ids,
        "label",
        "classification",
        {"zip": "categorical", "x": "numeric"},
        dropped=["customer_id", "account"],
    ),
    Shape(
        "regression",
        _regression,
        "price",
        "regression",
        {"rooms": "numeric", "income": "numeric", "note": "categorical"},
        dropped=["country"],
        excel=True,
    ),
    Shape(
        "yes_no_target",
        _yes_no,
        "churn",
        "classification",
        {"age": "numeric", "smoker": "boolean", "score": "numeric"},
        quarantined={
            "age: not a number": 3,
            "churn: target value missing": 2,
            "duplicate of an earlier row": 2,
            "age: missing value (clean.missing: drop)": 1,
        },
        clean={"missing": {"age": "drop"}},
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_your_own_csv_trains_without_code_edits(byo: Project, tmp_path: Path, shape: Shape):
    rows = shape.build(random.Random(0))
    path = tmp_path / f"{shape.name}.csv"
    if shape.excel:
        write_csv(rows, path, delimiter=";", newline="\r\n", bom=True)
    else:
        write_csv(rows, path)
    _reset(byo)
    data = {"path": str(path), "target": shape.target, "task": shape.task}
    _write_params(byo, data, clean=shape.clean)

    byo.stages("collect()", "clean()", "featurize()", "train(no_tracking=True)", env=_env())

    metadata = json.loads((byo.path / "data" / "raw" / "metadata.json").read_text())
    assert metadata["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (metadata["rows"], metadata["columns"]) == (len(rows), len(rows[0]))
    assert {"source", "location", "path", "collected_at"} <= set(metadata)

    schema = json.loads((byo.path / "data" / "interim" / "schema.json").read_text())
    kinds = {f["name"]: f["kind"] for f in schema["features"]}
    assert kinds == shape.kinds, schema["inference"]
    assert sorted(schema["dropped"]) == sorted(shape.dropped)
    assert schema["target"]["task"] == shape.task

    quality = json.loads((byo.path / "reports" / "data_quality.json").read_text())
    quarantine = read_csv_rows(byo.path / "data" / "interim" / "quarantine.csv")
    assert quality["rows_in"] == len(rows) == quality["rows_clean"] + quality["rows_quarantined"]
    assert len(quarantine) == quality["rows_quarantined"]
    assert quality["quarantine_reasons"] == shape.quarantined

    card = json.loads((byo.path / "models" / "model.json").read_text())
    assert card["task"] == shape.task
    assert [f["name"] for f in card["features"]] == [f["name"] for f in schema["features"]]
    assert (byo.path / "models" / "pipeline.skops").is_file()
    if shape.task == "classification":
        labels = {row[shape.target] for row in rows} - {None}
        assert sorted(card["target"]["classes"]) == sorted(labels)
    if shape.name == "yes_no_target":
        _check_quarantine_rows(byo, rows)


def _check_quarantine_rows(project: Project, rows: Rows) -> None:
    """The accounting row by row: each rejected row is in quarantine.csv with its row number."""
    quarantine = {
        int(row["source_row"]): row
        for row in read_csv_rows(project.path / "data" / "interim" / "quarantine.csv")
    }
    reasons = {number: row["quarantine_reason"] for number, row in quarantine.items()}
    assert reasons[5] == "age: not a number (got 'forty')"  # list index 3 is row 5: header, 1-based
    assert quarantine[5]["age"] == "forty"  # the raw row, as it was in the file
    assert reasons[12] == reasons[13] == "churn: target value missing"
    assert reasons[22] == "age: missing value (clean.missing: drop)"
    assert reasons[len(rows)] == "duplicate of an earlier row (got 'row 102')"
    assert reasons[len(rows) + 1] == "duplicate of an earlier row (got 'row 103')"
    quality = json.loads((project.path / "reports" / "data_quality.json").read_text())
    assert quality["rows_quarantined"] == len(quarantine) == 8
    assert quality["missing_values"]["age"] == 1
    assert quality["missing_policy"] == {"age": "drop", "smoker": "impute", "score": "impute"}


@pytest.mark.slow
def test_the_users_file_is_a_pipeline_dependency(byo: Project):
    """Editing the local CSV re-runs collect: dvc.yaml names data.path as a dependency."""
    stages = yaml.safe_load((byo.path / "dvc.yaml").read_text())["stages"]
    assert "${data.path}" in stages["collect"]["deps"]
    assert {"data.path", "data.sha256", "data.encoding"} <= set(stages["collect"]["params"])
    assert {"data.encoding", "clean", "split.test_size"} <= set(stages["clean"]["params"])
    assert stages["featurize"]["params"] == ["engine", "split"]


# ------------------------------------------------------------------------------------------------
# Corrupted inputs: a clear error, no traceback, and no partial output
# ------------------------------------------------------------------------------------------------
def _good_rows(x_as: Callable[[int, float], object] = lambda i, x: x) -> Rows:
    rng = random.Random(3)
    xs = [round(rng.gauss(0, 1), 3) for _ in range(60)]
    return [{"x": x_as(i, x), "label": "a" if x > 0 else "b"} for i, x in enumerate(xs)]


CORRUPTED = {
    "wrong_types_in_a_numeric_column": (
        lambda path: write_csv(_good_rows(lambda i, x: x if i % 2 else "oops"), path),
        {"clean": {"column_types": {"x": "numeric"}}},
        "clean",
        "column 'x' is numeric by params.yaml, but 50 percent of its values are not",
    ),
    "empty_file": (lambda path: path.write_bytes(b""), {}, "collect", "is empty"),
    "header_only": (
        lambda path: path.write_text("x,label\r\n"),
        {},
        "collect",
        "has a header but no data rows",
    ),
    "not_utf8": (
        lambda path: path.write_bytes("x,label\n1,a\n2,café\n".encode("cp1252")),
        {},
        "collect",
        "is not UTF-8 text: byte 0xe9 on line 3",
    ),
    "one_class_target": (
        lambda path: write_csv([{**row, "label": "a"} for row in _good_rows()], path),
        {},
        "clean",
        "target column 'label' has 1 distinct value(s) ('a'); a model needs at least two",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CORRUPTED))
def test_corrupted_input_fails_clearly_and_leaves_no_partial_output(
    byo: Project, tmp_path: Path, case: str
):
    make, sections, failing_stage, message = CORRUPTED[case]
    path = tmp_path / "bad.csv"
    make(path)
    _reset(byo)
    _write_params(byo, {"path": str(path), "target": "label", "task": "classification"}, **sections)
    stages = ["collect", "clean"][: ["collect", "clean"].index(failing_stage) + 1]
    before = {}
    for stage in stages:
        before = _files(byo.path / "data")
        result = _cli(byo, stage, check=stage != failing_stage)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "error: " in result.stderr
    # The failed stage wrote nothing, not even a temporary file.
    assert _files(byo.path / "data") == before
    assert not list((byo.path / "data").rglob(".*"))  # no staging folder left behind
    if failing_stage == "collect":
        assert before == {}
    else:
        assert not (byo.path / "data" / "interim").exists()
        assert not (byo.path / "reports" / "data_quality.json").exists()


# ------------------------------------------------------------------------------------------------
# Built-in datasets and downloads
# ------------------------------------------------------------------------------------------------
BUILTIN = {
    "breast_cancer": ("diagnosis", "classification", 569, ["benign", "malignant"]),
    "wine": ("cultivar", "classification", 178, ["class_0", "class_1", "class_2"]),
    "diabetes": ("progression", "regression", 442, None),
}


@pytest.mark.slow
def test_builtin_datasets_collect_and_clean(byo: Project):
    """scikit-learn's sets, through the real stage functions and params.yaml, in one process."""
    script = """
import json, sys, yaml
from byo_data.config import get_paths, load_params
from byo_data.data.clean import run_clean
from byo_data.data.collect import collect
out = {}
for name, (target, task) in json.loads(sys.argv[1]).items():
    params = yaml.safe_load(open("params.yaml"))
    params["data"] = {"name": name, "source": "sklearn", "target": target, "task": task}
    yaml.safe_dump(params, open("params.yaml", "w"), sort_keys=False)
    loaded, paths = load_params(), get_paths()
    metadata = collect(loaded.data, paths)
    quality = run_clean(loaded.data, loaded.clean, loaded.split, paths)
    schema = json.loads(paths.schema.read_text())
    out[name] = {"metadata": metadata, "quality": quality, "target": schema["target"],
                 "features": len(schema["features"])}
print(json.dumps(out))
"""
    _reset(byo)
    _write_params(byo, {"path": "unused.csv", "target": "label", "task": "classification"})
    wanted = {name: [target, task] for name, (target, task, _, _) in BUILTIN.items()}
    result = byo.run(
        [str(byo.path / ".venv" / "bin" / "python"), "-c", script, json.dumps(wanted)],
        env=_env(),
        timeout=300,
    )
    out = json.loads(result.stdout.strip().splitlines()[-1])
    for name, (target, task, rows, classes) in BUILTIN.items():
        assert out[name]["metadata"]["source"] == "sklearn"
        assert out[name]["metadata"]["rows"] == rows
        assert out[name]["quality"]["rows_in"] == out[name]["quality"]["rows_clean"] == rows
        assert out[name]["target"] == {"name": target, "task": task, "classes": classes}
        assert out[name]["features"] >= 10


@pytest.mark.parametrize(
    ("dataset", "task", "metric", "remote"),
    [
        ("breast_cancer", "classification", "f1_macro", "none"),
        ("diabetes", "regression", "r2", "local"),
    ],
)
def test_builtin_dataset_renders_consistent_params(
    tmp_path: Path, dataset: str, task: str, metric: str, remote: str
):
    """Params that fit the set's task; also the `none` and absolute-path `local` remote answers."""
    answers = {"dvc_remote_url": "/srv/dvc/proj"} if remote == "local" else {}
    project = render(tmp_path / "p", tasks=False, dataset=dataset, dvc_remote=remote, **answers)
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["data"] == {
        "name": dataset,
        "source": "sklearn",
        "target": "target",
        "task": task,
    }
    assert params["train"]["primary_metric"] == metric
    linear = {"C", "max_iter"} if task == "classification" else {"alpha"}
    assert set(params["train"]["linear"]) == linear
    config = (project / ".dvc" / "config").read_text()
    if remote == "none":
        assert "remote" not in config
    else:
        assert "remote = storage" in config and "url = /srv/dvc/proj\n" in config


class _CsvHandler(http.server.BaseHTTPRequestHandler):
    body = b""
    failures_left = 0
    requests = 0

    def do_GET(self) -> None:
        type(self).requests += 1
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            self.send_error(500)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def csv_server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CsvHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.slow
def test_csv_url_render_collects_from_a_server(byo: Project, tmp_path: Path, csv_server: str):
    """A csv_url render downloads (through an HTTP 500), checks the given sha256, unpacks gzip."""
    plain = tmp_path / "plain.csv"
    write_csv(_good_rows(), plain)
    body = gzip.compress(plain.read_bytes())
    _CsvHandler.body, _CsvHandler.failures_left, _CsvHandler.requests = body, 1, 0
    url = f"{csv_server}/exports/data.csv.gz"
    path = render(
        tmp_path / "url_project",
        tasks=False,
        project_name="BYO Data",
        dataset="csv_url",
        csv_url=url,
        csv_sha256=hashlib.sha256(body).hexdigest(),
        target_column="label",
        task="classification",
    )
    params = yaml.safe_load((path / "params.yaml").read_text())
    assert (
        params["data"]["url"] == url
        and params["data"]["sha256"] == hashlib.sha256(body).hexdigest()
    )
    # The render's own code and params, run with the BYO project's identical environment.
    env = _env(PYTHONPATH=str(path / "src"))
    result = run(
        [str(byo.path / ".venv" / "bin" / "python"), "-m", BYO_PACKAGE, "collect"], path, env=env
    )
    assert "retrying" in result.stderr and _CsvHandler.requests == 2
    metadata = json.loads((path / "data" / "raw" / "metadata.json").read_text())
    assert (metadata["source"], metadata["url"], metadata["rows"]) == ("url", url, 60)
    assert metadata["compression"] == "gzip"
    assert (path / "data" / "raw" / "data.csv").read_bytes() == gzip.decompress(body)

    _CsvHandler.body = body + b"tampered"
    failed = run(
        [str(byo.path / ".venv" / "bin" / "python"), "-m", BYO_PACKAGE, "collect"],
        path,
        env=env,
        check=False,
    )
    assert failed.returncode == 1 and "sha256 mismatch" in failed.stderr
    assert (
        json.loads((path / "data" / "raw" / "metadata.json").read_text()) == metadata
    )  # untouched


# ------------------------------------------------------------------------------------------------
# DVC remotes and versioned data
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("remote", "url", "extra"),
    [
        ("s3", "s3://bucket/proj", "dvc[s3]"),
        ("gcs", "gs://bucket/proj", "dvc[gs]"),
        ("azure", "azure://container/proj", "dvc[azure]"),
    ],
)
def test_cloud_remote_answers_render_config_extra_and_docs(
    tmp_path: Path, remote: str, url: str, extra: str
):
    project = render(tmp_path / "p", tasks=False, dvc_remote=remote, dvc_remote_url=url)
    config = (project / ".dvc" / "config").read_text()
    assert "remote = storage" in config and f"url = {url}\n" in config
    assert f'"{extra}>=' in (project / "pyproject.toml").read_text()
    assert "credentials" in (project / "README.md").read_text().lower()


def test_relative_local_remote_is_relative_to_the_project(default_render: Path):
    """DVC reads relative paths from .dvc/, so the answer '../dvc-storage/x' needs another '../'."""
    config = (default_render / ".dvc" / "config").read_text()
    assert f"url = ../../dvc-storage/{DEFAULT_PACKAGE}\n" in config


@pytest.fixture(scope="module")
def versioned(piped_project: Project, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A copy of the piped default project that runs the original's tools (no second install)."""
    path = tmp_path_factory.mktemp("versioned") / "project"
    # MLflow's store is left out: its experiment records the original's artifact folder.
    ignore = shutil.ignore_patterns(".venv", "mlflow.db", "mlartifacts")
    shutil.copytree(piped_project.path, path, symlinks=True, ignore=ignore)
    return Project(path, piped_project.package)


def _dvc(project: Project, original: Project, *args: str, check: bool = True):
    venv_bin = original.path / ".venv" / "bin"
    env = _env(PATH=f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}")
    return project.run([str(venv_bin / "dvc"), *args], env=env, check=check, timeout=900)


TRACKED = ("data/raw", "data/interim", "data/processed", "models")


@pytest.mark.slow
def test_push_then_pull_restores_byte_identical_data(versioned: Project, piped_project: Project):
    before = {folder: _files(versioned.path / folder) for folder in TRACKED}
    assert all(before.values())
    _dvc(versioned, piped_project, "push")
    storage = (
        versioned.path.parent / "dvc-storage" / DEFAULT_PACKAGE
    )  # beside the project, not in it
    assert (storage / "files" / "md5").is_dir()
    assert not (versioned.path / "dvc-storage").exists()

    shutil.rmtree(versioned.path / ".dvc" / "cache")
    for folder in TRACKED:
        shutil.rmtree(versioned.path / folder)
    _dvc(versioned, piped_project, "pull")
    assert {folder: _files(versioned.path / folder) for folder in TRACKED} == before
    assert "up to date" in _dvc(versioned, piped_project, "status").stdout


@pytest.mark.slow
def test_one_param_reruns_only_the_stages_that_use_it(versioned: Project, piped_project: Project):
    """An evaluation setting: DVC re-runs evaluate and report, and skips the four stages before.

    (A `split` change would re-run featurize and everything after it: the same mechanism, with
    training in the way.)
    """
    params_file = versioned.path / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    params["evaluate"]["permutation_repeats"] += 1
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))

    status = _dvc(versioned, piped_project, "status").stdout
    changed = (
        r"evaluate:\s+changed deps:\s+params.yaml:\s+"
        r"modified:\s+evaluate(\.permutation_repeats)?\n"
    )
    assert re.search(changed, status), status
    for untouched in ("collect:", "clean:", "featurize:", "train:", "report:"):
        assert untouched not in status, status  # only evaluate reads evaluate.*

    before = {folder: _files(versioned.path / folder) for folder in TRACKED}
    output = _dvc(versioned, piped_project, "repro").stdout
    for stage in ("collect", "clean", "featurize", "train"):
        assert f"Stage '{stage}' didn't change, skipping" in output, output
    for stage in ("evaluate", "report"):
        assert f"Running stage '{stage}'" in output, output
    assert {folder: _files(versioned.path / folder) for folder in TRACKED} == before
    assert "up to date" in _dvc(versioned, piped_project, "status").stdout
