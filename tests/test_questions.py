"""Static tests of copier.yml: help and defaults, validators, computed package names.

Answers go through copier's real API (`copier.run_copy`), which validates every answer passed in
`data` and every default it computes before rendering anything; a refused answer raises
`ValueError("Validation error for question '<name>': <validator message>")`, and an answer outside
a question's choices raises `ValueError("Invalid choice for '<name>': ...")`. To stay fast and
independent of `template/` (which changes often), the copies render a template made of copier.yml
and the answers-file template only.
"""

from __future__ import annotations

import keyword
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml

from .conftest import copier_datasets

REPO_ROOT = Path(__file__).resolve().parents[1]
COPIER_YML = REPO_ROOT / "copier.yml"
ANSWERS_TEMPLATE = "{{_copier_conf.answers_file}}.jinja"
ANSWERS_TEMPLATE_FALLBACK = "{{ _copier_answers|to_nice_yaml -}}\n"
PACKAGE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
GOOD_URL = "https://example.com/data/houses.csv"
GOOD_SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

# Every free-text question, and only those, has a validator.
FREE_TEXT_QUESTIONS = {
    "image_archive_url",
    "image_archive_sha256",
    "local_image_dir",
    "project_name",
    "package_name",
    "description",
    "author_name",
    "author_email",
    "csv_url",
    "csv_sha256",
    "local_csv_path",
    "target_column",
    "dvc_remote_url",
}
# The answers DESIGN.md promises; tests elsewhere drive the template through these names.
DESIGN_QUESTIONS = FREE_TEXT_QUESTIONS - {"dvc_remote_url"} | {
    "license",
    "python_version",
    "dataset",
    "task",
    "engine",
    "dvc_remote",
    "include_docker",
    "ci",
    "include_notebooks",
    "include_docs",
    "api_auth",
}


def load_config() -> dict[str, Any]:
    return yaml.safe_load(COPIER_YML.read_text(encoding="utf-8"))


def is_hidden_helper(details: Any) -> bool:
    """A `when: false` entry is a computed helper that is never asked nor stored."""
    return isinstance(details, dict) and str(details.get("when", "")).strip().lower() == "false"


def reserved_module_names(config: dict[str, Any]) -> set[str]:
    """The hidden helper's list (written as a YAML list, or as YAML text that copier parses)."""
    names = config["reserved_module_names"]["default"]
    if isinstance(names, str):
        names = yaml.safe_load(names)
    assert isinstance(names, list) and all(isinstance(name, str) for name in names), names
    return set(names)


CONFIG = load_config()
RESERVED = reserved_module_names(CONFIG)
QUESTIONS: dict[str, dict[str, Any]] = {
    name: details
    for name, details in CONFIG.items()
    if not name.startswith("_") and not is_hidden_helper(details)
}


@pytest.fixture(scope="session")
def questions_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """copier.yml plus the answers-file template, in a folder that is not a git repository.

    Copier then uses the folder as it is (no `vcs_ref`), and a copy costs a few milliseconds
    whatever state `template/` is in.
    """
    root = tmp_path_factory.mktemp("questions-template")
    shutil.copy2(COPIER_YML, root / "copier.yml")
    (root / "template").mkdir()
    real_answers_template = REPO_ROOT / "template" / ANSWERS_TEMPLATE
    content = (
        real_answers_template.read_text(encoding="utf-8")
        if real_answers_template.is_file()
        else ANSWERS_TEMPLATE_FALLBACK
    )
    (root / "template" / ANSWERS_TEMPLATE).write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def copy_answers(questions_template: Path, tmp_path: Path):
    """Run `copier copy --defaults` with `data` and return the recorded answers."""
    counter = iter(range(1_000))

    def run(**data: Any) -> dict[str, Any]:
        dst = tmp_path / f"project-{next(counter)}"
        copier.run_copy(
            src_path=str(questions_template),
            dst_path=dst,
            data=data,
            defaults=True,
            unsafe=True,
            skip_tasks=True,
            quiet=True,
        )
        answers = yaml.safe_load((dst / ".copier-answers.yml").read_text(encoding="utf-8"))
        assert isinstance(answers, dict), "the answers file did not render to a mapping"
        return answers

    return run


def validation_error(question: str, fragment: str) -> str:
    """The `match=` pattern for copier's message when `question`'s validator refuses an answer."""
    return rf"(?s)Validation error for question '{question}': .*{re.escape(fragment)}"


# ------------------------------------------------------------------------------------------------
# The shape of copier.yml
# ------------------------------------------------------------------------------------------------
def test_copier_yml_renders_the_template_subdirectory() -> None:
    assert isinstance(CONFIG, dict)
    assert CONFIG["_subdirectory"] == "template"
    assert CONFIG["_answers_file"] == ".copier-answers.yml"


def test_design_questions_are_all_asked() -> None:
    missing = DESIGN_QUESTIONS - QUESTIONS.keys()
    assert not missing, f"questions promised by DESIGN.md are missing from copier.yml: {missing}"


@pytest.mark.parametrize("name", sorted(QUESTIONS))
def test_question_has_help_and_default(name: str) -> None:
    details = QUESTIONS[name]
    assert isinstance(details, dict), f"{name}: write the question as a mapping with help/default"
    assert str(details.get("help", "")).strip(), f"{name}: add help text"
    assert "default" in details, f"{name}: add a default"


def test_every_free_text_question_has_a_validator() -> None:
    free_text = {
        name
        for name, details in QUESTIONS.items()
        if details.get("type", "str") == "str" and "choices" not in details
    }
    assert free_text == FREE_TEXT_QUESTIONS
    without_validator = {name for name in free_text if not QUESTIONS[name].get("validator")}
    assert not without_validator, f"free-text questions without a validator: {without_validator}"


def test_reserved_module_names_cover_stdlib_and_keywords() -> None:
    public_stdlib = {name for name in sys.stdlib_module_names if not name.startswith("_")}
    assert not public_stdlib - RESERVED, f"add to reserved_module_names: {public_stdlib - RESERVED}"
    assert not set(keyword.kwlist) - RESERVED, f"add keywords: {set(keyword.kwlist) - RESERVED}"


# ------------------------------------------------------------------------------------------------
# Validators refuse bad answers, with their message
# ------------------------------------------------------------------------------------------------
LOCAL_REMOTE = {"dvc_remote": "local"}
CSV_URL = {"dataset": "csv_url"}
CSV_URL_GIVEN = {"dataset": "csv_url", "csv_url": GOOD_URL}
LOCAL_CSV = {"dataset": "local_csv"}
IMAGE_ARCHIVE = {"modality": "image", "image_dataset": "image_archive"}
IMAGE_ARCHIVE_GIVEN = {**IMAGE_ARCHIVE, "image_archive_url": "https://example.com/shapes.zip"}
LOCAL_IMAGES = {"modality": "image", "image_dataset": "local_images"}

# (question, other answers the question needs to be asked, bad value, fragment of the message)
BAD_ANSWERS: list[tuple[str, dict[str, Any], str, str]] = [
    ("project_name", {}, "", "Type a project name"),
    ("project_name", {}, "   ", "Type a project name"),
    ("project_name", {}, "\t\n", "Type a project name"),
    ("package_name", {}, "class", "is a Python keyword or the name of a standard-library"),
    ("package_name", {}, "1model", "'1model' is not a valid package name"),
    ("package_name", {}, "my-model", "hyphens and spaces are not allowed"),
    ("package_name", {}, "json", "'json' is a Python keyword or the name of a standard-library"),
    ("package_name", {}, "MyModel", "'MyModel' is not a valid package name"),
    ("package_name", {}, "pandas", "core dependency module"),
    ("package_name", {}, "my model", "'my model' is not a valid package name"),
    ("package_name", {}, "", "is not a valid package name"),
    ("package_name", {}, "_private", "starting with a letter"),
    ("package_name", {}, "a" * 61, "is longer than 60 characters"),
    ("description", {}, "", "Type one sentence describing the project"),
    ("description", {}, "  ", "Type one sentence describing the project"),
    ("description", {}, "\n", "Type one sentence describing the project"),
    ("author_name", {}, "", "Type your name"),
    ("author_name", {}, " ", "Type your name"),
    ("author_name", {}, "\t", "Type your name"),
    ("author_email", {}, "jane", "'jane' is not an email address"),
    ("author_email", {}, "jane@", "is not an email address"),
    ("author_email", {}, "@example.com", "is not an email address"),
    ("author_email", {}, "jane doe@example.com", "is not an email address"),
    ("author_email", {}, "jane@example", "type one like 'jane.doe@example.com'"),
    ("csv_url", CSV_URL, "", "is not an HTTP(S) URL"),
    ("csv_url", CSV_URL, "example.com/data.csv", "is not an HTTP(S) URL"),
    ("csv_url", CSV_URL, "ftp://example.com/data.csv", "is not an HTTP(S) URL"),
    ("csv_url", CSV_URL, "https://", "is not an HTTP(S) URL"),
    ("csv_url", CSV_URL, "https://example.com/my data.csv", "type one like 'https://"),
    ("csv_sha256", CSV_URL_GIVEN, "abc", "'abc' is not a sha256 digest"),
    ("csv_sha256", CSV_URL_GIVEN, GOOD_SHA256[:-1], "is not a sha256 digest"),
    ("csv_sha256", CSV_URL_GIVEN, GOOD_SHA256 + "0", "is not a sha256 digest"),
    ("csv_sha256", CSV_URL_GIVEN, "g" * 64, "or leave it empty"),
    ("csv_sha256", CSV_URL_GIVEN, f"{GOOD_SHA256}  data.csv", "sha256sum file.csv"),
    ("local_csv_path", LOCAL_CSV, "", "Type the path of your CSV file"),
    ("local_csv_path", LOCAL_CSV, "   ", "Type the path of your CSV file"),
    ("local_csv_path", LOCAL_CSV, "data.xlsx", "'data.xlsx' does not look like a CSV file"),
    ("local_csv_path", LOCAL_CSV, "/data/houses.parquet", "does not look like a CSV file"),
    ("local_csv_path", LOCAL_CSV, "houses.csv.bak", "point at a .csv"),
    ("target_column", CSV_URL_GIVEN, "", "Type the name of the column to predict"),
    ("target_column", CSV_URL_GIVEN, "   ", "Type the name of the column to predict"),
    ("target_column", CSV_URL_GIVEN, "\t", "exactly as it appears in the CSV header"),
    ("dvc_remote_url", LOCAL_REMOTE, "", "Type where DVC should push data"),
    ("dvc_remote_url", LOCAL_REMOTE, "  ", "Type where DVC should push data"),
    ("dvc_remote_url", LOCAL_REMOTE, "s3://bucket/path", "is a URL; a local remote is a folder"),
    ("dvc_remote_url", {"dvc_remote": "s3"}, "gs://bucket/path", "must start with 's3://'"),
    ("dvc_remote_url", {"dvc_remote": "s3"}, "my-bucket/path", "must start with 's3://'"),
    ("dvc_remote_url", {"dvc_remote": "gcs"}, "s3://bucket/path", "must start with 'gs://'"),
    ("dvc_remote_url", {"dvc_remote": "azure"}, "https://acct.blob", "must start with 'azure://'"),
    ("image_archive_url", IMAGE_ARCHIVE, "", "is not an HTTP(S) URL"),
    ("image_archive_url", IMAGE_ARCHIVE, "example.com/shapes.zip", "type one like 'https://"),
    ("image_archive_url", IMAGE_ARCHIVE, "https://example.com/shapes.html", "does not name a .zip"),
    ("image_archive_sha256", IMAGE_ARCHIVE_GIVEN, "abc", "'abc' is not a sha256 digest"),
    ("image_archive_sha256", IMAGE_ARCHIVE_GIVEN, "g" * 64, "or leave it empty"),
    ("image_archive_sha256", IMAGE_ARCHIVE_GIVEN, GOOD_SHA256[:-1], "sha256sum images.zip"),
    ("local_image_dir", LOCAL_IMAGES, "", "Type the path of your image folder"),
    ("local_image_dir", LOCAL_IMAGES, "  ", "one folder per class"),
    ("local_image_dir", LOCAL_IMAGES, "/home/me/flowers.zip", "is a file; point at the folder"),
]


@pytest.mark.parametrize(
    ("question", "context", "bad", "fragment"),
    BAD_ANSWERS,
    ids=[f"{question}={bad!r}" for question, _, bad, _ in BAD_ANSWERS],
)
def test_validator_refuses_bad_answer(
    copy_answers, question: str, context: dict[str, Any], bad: str, fragment: str
) -> None:
    with pytest.raises(ValueError, match=validation_error(question, fragment)):
        copy_answers(**context, **{question: bad})


def test_every_validated_question_has_three_bad_answers() -> None:
    counts = dict.fromkeys(FREE_TEXT_QUESTIONS, 0)
    for question, *_ in BAD_ANSWERS:
        counts[question] += 1
    assert all(count >= 3 for count in counts.values()), counts


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("class", "'class' is a Python keyword"),
        ("1model", "'1model' is not a valid package name"),
        ("my-model", "'my-model' is not a valid package name"),
        ("json", "'json' is a Python keyword or the name of a standard-library"),
        ("MyModel", "'MyModel' is not a valid package name"),
    ],
)
def test_invalid_package_name_is_refused_and_a_fix_suggested(
    copy_answers, bad: str, fragment: str
) -> None:
    with pytest.raises(ValueError, match=validation_error("package_name", fragment)) as caught:
        copy_answers(project_name="Fine Name", package_name=bad)
    message = str(caught.value)
    assert "e.g. '" in message, "the message should show a name that would be accepted"


def test_python_version_outside_choices_is_refused(copy_answers) -> None:
    with pytest.raises(ValueError, match=r"Invalid choice for 'python_version': '3\.9'"):
        copy_answers(python_version="3.9")


# ------------------------------------------------------------------------------------------------
# Odd but valid answers
# ------------------------------------------------------------------------------------------------
ODD_PROJECT_NAMES = {
    "Café Señor — Prédiction!": "cafe_senor_prediction",
    "  my-Project 2 ": "my_project_2",
    "数据 analysis": "analysis",
    "数据": "ml_project",
    "123 numbers first": "ml_123_numbers_first",
    "json": "json_project",
    "Class": "class_project",
    "Test": "test_project",
    "Straße & Œuvre": "strasse_oeuvre",
}


def assert_importable_package(name: str, tmp_path: Path) -> None:
    """`name` imports as our package when it sits after the stdlib on sys.path, like an install."""
    site = tmp_path / "site"
    (site / name).mkdir(parents=True)
    (site / name / "__init__.py").write_text('MARKER = "mlfolio"\n', encoding="utf-8")
    code = f"import sys; sys.path.append({str(site)!r}); import {name}; print({name}.MARKER)"
    result = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"import {name} failed:\n{result.stderr}"
    assert result.stdout.strip() == "mlfolio", f"import {name} found another module"


@pytest.mark.parametrize("project_name", sorted(ODD_PROJECT_NAMES))
def test_odd_project_name_computes_an_importable_package_name(
    copy_answers, tmp_path: Path, project_name: str
) -> None:
    answers = copy_answers(project_name=project_name)
    package = answers["package_name"]
    assert answers["project_name"] == project_name
    assert package == ODD_PROJECT_NAMES[project_name]
    assert package.isidentifier() and PACKAGE_NAME.match(package)
    assert not keyword.iskeyword(package)
    assert package not in sys.stdlib_module_names
    assert package not in RESERVED
    assert_importable_package(package, tmp_path)


@pytest.mark.parametrize("package_name", ["penguin_classifier", "ml2", "a", "x_" * 30])
def test_valid_package_name_is_kept(copy_answers, package_name: str) -> None:
    assert copy_answers(package_name=package_name)["package_name"] == package_name


@pytest.mark.parametrize("version", ["3.11", "3.13"])
def test_python_version_at_each_end_of_the_choices_is_accepted(copy_answers, version) -> None:
    assert version in QUESTIONS["python_version"]["choices"]
    assert copy_answers(python_version=version)["python_version"] == version


def test_csv_url_and_empty_sha256_are_accepted(copy_answers) -> None:
    answers = copy_answers(**CSV_URL_GIVEN, csv_sha256="", target_column="price")
    assert answers["csv_url"] == GOOD_URL
    assert answers["csv_sha256"] == ""
    assert answers["target_column"] == "price"


def test_csv_sha256_digest_is_accepted(copy_answers) -> None:
    answers = copy_answers(**CSV_URL_GIVEN, csv_sha256=GOOD_SHA256.upper(), target_column="y")
    assert answers["csv_sha256"] == GOOD_SHA256.upper()


def test_local_csv_path_is_accepted(copy_answers) -> None:
    answers = copy_answers(**LOCAL_CSV, local_csv_path="/home/me/Houses.CSV.gz", target_column="y")
    assert answers["local_csv_path"] == "/home/me/Houses.CSV.gz"
    assert answers["dataset"] == "local_csv"


def choice_values(name: str) -> list[Any]:
    choices = QUESTIONS[name]["choices"]
    return list(choices.values()) if isinstance(choices, dict) else list(choices)


# Answers a choice needs before copier can finish (the follow-up questions it opens).
CHOICE_CONTEXT: dict[tuple[str, str], dict[str, Any]] = {
    ("dataset", "csv_url"): {"csv_url": GOOD_URL, "target_column": "y"},
    ("dataset", "local_csv"): {"local_csv_path": "data.csv", "target_column": "y"},
    ("task", "classification"): {**CSV_URL_GIVEN, "target_column": "y"},
    ("task", "regression"): {**CSV_URL_GIVEN, "target_column": "y"},
    ("image_dataset", "digits"): {"modality": "image"},
    ("image_dataset", "image_archive"): {
        "modality": "image",
        "image_archive_url": "https://example.com/a.zip",
    },
    ("image_dataset", "local_images"): {"modality": "image", "local_image_dir": "/data/flowers"},
}
CHOICES = [
    (name, value)
    for name, details in QUESTIONS.items()
    if "choices" in details
    for value in choice_values(name)
]


@pytest.mark.parametrize(("name", "value"), CHOICES, ids=[f"{n}={v}" for n, v in CHOICES])
def test_every_choice_is_accepted(copy_answers, name: str, value: Any) -> None:
    answers = copy_answers(**CHOICE_CONTEXT.get((name, value), {}), **{name: value})
    assert answers[name] == value


@pytest.fixture(scope="session")
def probe_template(questions_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The questions template plus one file that prints the answers the template gets."""
    root = tmp_path_factory.mktemp("probe-template")
    shutil.copytree(questions_template, root, dirs_exist_ok=True)
    probe = "{{ task }}|{{ target_column }}|{{ package_name }}"
    (root / "template" / "probe.txt.jinja").write_text(probe, encoding="utf-8")
    return root


BUILTIN_DATASETS = [
    (name, entry["task"], entry["target"])
    for name, entry in copier_datasets().items()
    if "target" in entry
]


@pytest.mark.parametrize(("dataset", "task", "target"), BUILTIN_DATASETS)
def test_builtin_dataset_derives_task_and_target(
    probe_template: Path, tmp_path: Path, dataset: str, task: str, target: str
) -> None:
    """Built-in datasets never ask task/target_column, but the template still gets both."""
    copier.run_copy(
        src_path=str(probe_template),
        dst_path=tmp_path,
        data={"dataset": dataset, "package_name": "probe"},
        defaults=True,
        unsafe=True,
        skip_tasks=True,
        quiet=True,
    )
    assert (tmp_path / "probe.txt").read_text(encoding="utf-8") == f"{task}|{target}|probe"
    answers = yaml.safe_load((tmp_path / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert "task" not in answers and "target_column" not in answers, "derived, so not recorded"


def test_default_description_names_the_dataset(copy_answers) -> None:
    """description is asked after dataset, so its default can name the data."""
    # Passing dataset in data would hide a wrong order: data answers are known before any question.
    answers = copy_answers()
    assert answers["dataset"] == "penguins"
    assert "penguin" in answers["description"]


def test_an_image_project_is_not_named_after_penguins(copy_answers) -> None:
    """modality is asked first, so the name, the package and the description can follow it."""
    answers = copy_answers(modality="image")
    assert answers["project_name"] == "Image Classifier"
    assert answers["package_name"] == "image_classifier"
    assert "digits" in answers["description"] and "penguin" not in answers["description"]
    assert "dataset" not in answers and answers["image_dataset"] == "digits"


# ------------------------------------------------------------------------------------------------
# Regressions of fixed defects
# ------------------------------------------------------------------------------------------------
def test_long_project_name_computes_a_valid_package_name(copy_answers) -> None:
    answers = copy_answers(project_name="A very long project name about predicting things " * 2)
    assert PACKAGE_NAME.match(answers["package_name"])
    assert len(answers["package_name"]) <= 60


@pytest.mark.parametrize(
    ("question", "context"),
    [
        ("csv_url", CSV_URL),
        ("local_csv_path", LOCAL_CSV),
        ("target_column", CSV_URL_GIVEN),
    ],
)
def test_must_type_question_has_no_failing_default(
    copy_answers, question: str, context: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=rf'Question "{question}" is required'):
        copy_answers(**context)
