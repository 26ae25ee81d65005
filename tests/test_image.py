"""Image projects (modality: image), end to end on one piped render of the digits project.

The pipeline registers a champion; the API, run from a runtime-only environment that cannot
import torch, classifies a PNG upload and refuses bad uploads; the demo page works in headless
Chromium with a real PNG; the generated tests (over their coverage floor), mypy and ruff pass.
The per-module checks (clean's quarantine of corrupt, tiny and duplicate files, export parity,
the seeded rerun, the dvc.yaml deps) are the generated project's own tests, run here by
`make coverage`.
"""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from PIL import Image

from .conftest import IMAGE_PACKAGE, Project, clean_env, free_port, render, serving

CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runtime_env(image_project: Project, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project installed the way its Dockerfile does: the runtime dependencies only."""
    venv = tmp_path_factory.mktemp("image-runtime") / "venv"
    env = clean_env(UV_PROJECT_ENVIRONMENT=str(venv))
    image_project.uv(
        "sync", "--frozen", "--no-default-groups", "--no-editable", env=env, timeout=600
    )
    return venv


@pytest.fixture(scope="module")
def served(
    image_project: Project, runtime_env: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    port = free_port()
    argv = [str(runtime_env / "bin" / IMAGE_PACKAGE), "serve", "--port", str(port)]
    log = tmp_path_factory.mktemp("image-served") / "server.log"
    with serving(argv, image_project.path, clean_env(MAX_BODY_BYTES="300000"), log, port) as base:
        yield base


def digit_png(project: Project, digit: str = "3") -> bytes:
    return sorted((project.path / "data" / "raw" / "images" / digit).glob("*.png"))[0].read_bytes()


def test_the_pipeline_registers_the_onnx_model_as_champion(image_project: Project) -> None:
    card = json.loads((image_project.path / "models" / "model.json").read_text())
    assert card["classes"] == [str(d) for d in range(10)]
    assert max(card["parity"].values()) <= 1e-4
    assert card["mlflow"]["decision"] == "first"
    quality = json.loads((image_project.path / "reports" / "data_quality.json").read_text())
    assert quality["rows_in"] == quality["rows_clean"] + quality["rows_quarantined"] == 1797
    report = (image_project.path / "reports" / "REPORT.md").read_text()
    assert "figures/confusion_matrix.png" in report and "Per class" in report
    code = (
        "import json, mlflow; from mlflow import MlflowClient; "
        "mlflow.set_tracking_uri('sqlite:///mlflow.db'); client = MlflowClient(); "
        f"champion = client.get_model_version_by_alias('{IMAGE_PACKAGE}', 'champion'); "
        "run = client.get_run(champion.run_id); "
        "steps = [m.step for m in client.get_metric_history(run.info.run_id, 'epoch_val_loss')]; "
        "print(json.dumps([champion.version, run.data.tags, steps]))"
    )
    version, tags, steps = json.loads(image_project.uv("run", "python", "-c", code).stdout)
    assert str(version) == card["version"]
    assert tags["modality"] == "image" and tags["template_version"] and tags["training_data_sha256"]
    assert steps == list(range(1, card["training"]["epochs_run"] + 1))  # one MLflow step per epoch
    status = image_project.uv("run", "dvc", "status")
    assert "up to date" in status.stdout


def test_the_runtime_cannot_import_torch(runtime_env: Path) -> None:
    python = str(runtime_env / "bin" / "python")
    missing = subprocess.run(
        [python, "-c", "import torch"], capture_output=True, text=True, check=False
    )
    assert missing.returncode != 0 and "No module named 'torch'" in missing.stderr
    subprocess.run([python, "-c", f"import {IMAGE_PACKAGE}.images.serving"], check=True)


def test_a_png_upload_is_classified_over_http(image_project: Project, served: str) -> None:
    readme = (image_project.path / "README.md").read_text()
    curl = re.search(r"^curl -s http://127\.0\.0\.1:8000/predict .*$", readme, flags=re.MULTILINE)
    assert curl, "the README shows how to classify an image with curl"
    shown = image_project.run(curl.group(0).replace("http://127.0.0.1:8000", served))
    assert json.loads(shown.stdout)["prediction"] in [str(d) for d in range(10)]
    png = digit_png(image_project, "3")
    upload = httpx.post(
        f"{served}/predict", files={"file": ("three.png", png, "image/png")}, timeout=30
    )
    assert upload.status_code == 200, upload.text
    answer = upload.json()
    assert set(answer["probabilities"]) == {str(d) for d in range(10)}
    assert answer["prediction"] == max(answer["probabilities"], key=answer["probabilities"].get)
    encoded = httpx.post(
        f"{served}/predict", json={"image": base64.b64encode(png).decode()}, timeout=30
    )
    assert encoded.json() == answer


def test_bad_uploads_get_413_415_and_422(image_project: Project, served: str) -> None:
    png = digit_png(image_project)
    bomb = io.BytesIO()
    Image.new("L", (12_000, 12_000)).save(bomb, format="PNG")  # 144 million pixels in ~140 kB
    cases = {
        "too large": (("big.png", b"0" * 400_000, "image/png"), 413),
        "not an image": (("notes.txt", b"just text", "text/plain"), 415),
        "corrupt": (("half.png", png[: len(png) // 2], "image/png"), 422),
        "bomb": (("bomb.png", bomb.getvalue(), "image/png"), 422),
    }
    for name, (upload, expected) in cases.items():
        response = httpx.post(f"{served}/predict", files={"file": upload}, timeout=30)
        assert response.status_code == expected, (name, response.text)
        assert response.json()["detail"], name
    metrics = httpx.get(f"{served}/metrics", timeout=30).text
    assert 'route="/predict",status="422"' in metrics


def test_the_demo_page_classifies_a_real_png_in_headless_chromium(
    image_project: Project, served: str, tmp_path: Path
) -> None:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    png = tmp_path / "digit.png"
    png.write_bytes(digit_png(image_project, "7"))
    upload = {"file": ("d.png", png.read_bytes(), "image/png")}
    expected = httpx.post(f"{served}/predict", files=upload, timeout=30).json()
    external: list[str] = []

    def local_only(route) -> None:  # type: ignore[no-untyped-def]
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox"]
        )
        try:
            page = browser.new_page()
            page.route("**/*", local_only)
            page.goto(f"{served}/")
            page.set_input_files("#file", str(png))
            page.wait_for_function("document.querySelectorAll('#probabilities .bar').length === 10")
            shown = page.text_content("#prediction")
            preview = page.get_attribute("#preview", "src")
            page.screenshot(path=str(tmp_path / "demo.png"), full_page=True)
        finally:
            browser.close()
    assert shown == f"Prediction: {expected['prediction']}"
    assert preview and preview.startswith("blob:")
    assert external == [], f"the page tried to reach other hosts: {external}"


def test_the_generated_tests_mypy_and_ruff_pass(image_project: Project) -> None:
    image_project.run(["make", "coverage"], timeout=900)  # the tests, and coverage over its floor
    image_project.run(["make", "typecheck"])
    image_project.uv("run", "ruff", "check", ".")
    image_project.uv("run", "ruff", "format", "--check", ".")


def test_a_local_image_folder_is_copied_in_at_generation(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    for label in ("cats", "dogs"):
        (folder / label).mkdir(parents=True)
        Image.new("RGB", (16, 16), "white").save(folder / label / "1.png")
    project = render(
        tmp_path / "project",
        modality="image",
        image_dataset="local_images",
        local_image_dir=str(folder),
    )
    copied = project / "data" / "external" / "images"
    assert sorted(p.name for p in copied.iterdir() if p.is_dir()) == ["cats", "dogs"]
    assert (project / "data" / "external.dvc").is_file()
    params = (project / "params.yaml").read_text()
    assert "source: local" in params and "path: data/external/images" in params
    assert "${data.path}" in (project / "dvc.yaml").read_text()  # a new version re-runs collect
