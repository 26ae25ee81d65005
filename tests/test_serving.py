"""The generated prediction service, for real: a browser on the demo page, property-based API tests,
named bad inputs, the API key, the registry loader, and the container.

There is no Docker engine here, so the container is tested twice over: statically (the Dockerfile
parses, has the instructions that matter, runs as non-root and copies no secrets; compose and
.dockerignore hold what they should), and by running the Dockerfile's own install and start commands
outside Docker, which also measures the runtime install against its 200 MB budget.
"""

from __future__ import annotations

import http.client
import json
import re
import shlex
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings

from .conftest import (
    DEFAULT_PACKAGE,
    GENTOO,
    Project,
    clean_env,
    free_port,
    render,
    run,
    serving,
    uv_bin,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
API_KEY = "ci-key-7f3a9c2e5b8d1f4a6c0e"
RUNTIME_BUDGET_MB = 200


# ---- helpers -----------------------------------------------------------------------------------


def call(
    base: str,
    path: str,
    body: bytes | dict | list | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict, dict[str, str]]:
    """(status, JSON body, headers) of one request; 4xx and 5xx are returned, not raised."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base}{path}", data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null"), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null"), dict(error.headers)


# ---- the default project, served ---------------------------------------------------------------


@pytest.fixture(scope="module")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("served") / "server.log"


@pytest.fixture(scope="module")
def served(piped_project: Project, server_log: Path) -> Iterator[str]:
    """The default project's service on a free port, from its own virtualenv."""
    port = free_port()
    argv = [
        str(piped_project.path / ".venv" / "bin" / DEFAULT_PACKAGE),
        "serve",
        "--port",
        str(port),
    ]
    with serving(argv, piped_project.path, clean_env(), server_log, port) as base:
        yield base


@contextmanager
def browser_page() -> Iterator[tuple[Any, list[str]]]:
    """A headless Chromium page that may reach 127.0.0.1 only; the list gets what else it tried."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    external: list[str] = []

    def local_only(route) -> None:
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", local_only)
            yield page, external
        finally:
            browser.close()


def predict_in_form(page, instance: dict, expected: str) -> list[str]:
    """Fill the demo form with `instance`, submit, wait for `expected`; the classes it lists."""
    page.wait_for_selector("#submit")
    for name, value in instance.items():
        if page.locator(f"select#f-{name}").count():
            page.select_option(f"#f-{name}", str(value))
        else:
            page.fill(f"#f-{name}", str(value))
    with page.expect_response(lambda response: response.url.endswith("/predict")) as answer:
        page.click("#submit")
    assert answer.value.status == 200
    page.wait_for_function(
        "expected => document.getElementById('prediction').textContent === expected",
        arg=expected,
        timeout=10_000,
    )
    return page.locator("#probabilities tr td:first-child").all_text_contents()


@pytest.mark.slow
def test_demo_page_and_docs_in_headless_chromium(served: str, tmp_path: Path):
    _, expected, _ = call(served, "/predict", {"instance": GENTOO})
    with browser_page() as (page, external):
        page.goto(f"{served}/")
        page.wait_for_selector("#submit")
        assert page.input_value("#f-bill_length_mm") != ""  # prefilled with a real row
        assert page.input_value("#f-bill_length_mm") != str(GENTOO["bill_length_mm"])
        assert not page.is_visible("#auth")  # this project has no API key
        shown_classes = predict_in_form(page, GENTOO, expected["predictions"][0])
        page.screenshot(path=str(tmp_path / "demo.png"), full_page=True)

        page.goto(f"{served}/docs")
        page.wait_for_selector(".opblock", timeout=20_000)
        operations = page.locator(".opblock-summary-path").all_text_contents()
        page.screenshot(path=str(tmp_path / "docs.png"))
    assert expected["predictions"][0] == "Gentoo"
    assert sorted(shown_classes) == ["Adelie", "Chinstrap", "Gentoo"]
    assert {"/predict", "/model", "/health", "/metrics"} <= {op.strip() for op in operations}
    assert external == [], f"the pages tried to reach other hosts: {external}"


# ---- property-based: schemathesis from the service's own OpenAPI -------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_generated_requests_never_get_a_server_error(served: str, mode: str):
    """Valid requests (positive) and schema-breaking ones (negative) for every documented operation:
    no 5xx ever, every error a 4xx with a `detail`, and every answer as the OpenAPI documents it."""
    schema = schemathesis.openapi.from_url(f"{served}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/health", "/ready", "/model", "/predict", "/metrics"}
    statuses: list[int] = []
    for operation in operations:
        if mode == "negative" and operation.method.upper() == "GET":
            continue  # no parameters to break
        statuses += check_operation(operation, schemathesis.GenerationMode(mode))
    assert len(statuses) >= 50
    if mode == "negative":
        assert set(statuses) <= {413, 422}, sorted(set(statuses))  # refused, and said why
    else:
        assert 200 in statuses


def check_operation(operation, mode) -> list[int]:
    """Run up to 50 generated requests against one operation; their status codes."""
    statuses: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=50,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        response = case.call()
        statuses.append(response.status_code)
        where = f"{operation.method.upper()} {operation.path}\n{case.as_curl_command()}"
        assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}\n{where}"
        if mode == schemathesis.GenerationMode.POSITIVE and operation.path == "/predict":
            assert response.status_code in (200, 413), f"{response.text[:300]}\n{where}"
        if response.status_code >= 400:
            assert 400 <= response.status_code < 500
            assert response.json()["detail"], where
        case.validate_response(response)

    check()
    return statuses


# ---- named bad inputs against the live service -------------------------------------------------


def instance(**changes: object) -> dict:
    return {"instance": {**GENTOO, **changes}}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "body", "field", "message"),
    [
        ("unknown field", instance(wings=2), "instance.wings", "Extra inputs"),
        (
            "text for a number",
            instance(body_mass_g="heavy"),
            "instance.body_mass_g",
            "valid number",
        ),
        ("number for a category", instance(island=3), "instance.island", "'Biscoe'"),
        ("unknown category", instance(island="Atlantis"), "instance.island", "'Dream'"),
        (
            "out of range",
            instance(flipper_length_mm=10_000),
            "instance.flipper_length_mm",
            "less than",
        ),
        ("empty batch", {"instances": []}, "instances", "at least 1"),
        ("batch over the limit", {"instances": [GENTOO] * 1001}, "instances", "at most 1000"),
        ("neither shape", {"rows": [GENTOO]}, "body", 'send one row as {"instance": <row>}'),
    ],
)
def test_named_bad_inputs_get_a_422_naming_the_field(
    served: str, name: str, body: dict, field: str, message: str
):
    status, answer, _ = call(served, "/predict", body)
    assert status == 422, (name, answer)
    assert answer["detail"][0]["field"] == field, (name, answer)
    assert message in answer["detail"][0]["msg"], (name, answer)


@pytest.mark.slow
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_get_a_422(served: str, literal: str):
    body = json.dumps({"instance": GENTOO}).replace(
        '"body_mass_g": 4725', f'"body_mass_g": {literal}'
    )
    status, answer, _ = call(served, "/predict", body.encode())
    assert status == 422
    assert answer["detail"][0]["field"] == "instance.body_mass_g"
    assert "finite" in answer["detail"][0]["msg"]


@pytest.mark.slow
def test_oversize_bodies_get_a_413_declared_or_chunked(served: str):
    big = json.dumps({"instances": [GENTOO] * 9000}).encode()  # ~1.2 MB, over the 1 MB default
    status, answer, _ = call(served, "/predict", big)
    assert status == 413
    assert "1000000 bytes" in answer["detail"]
    host, port = urlparse(served).hostname, urlparse(served).port
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        chunks = (big[i : i + 65536] for i in range(0, len(big), 65536))
        connection.request(
            "POST",
            "/predict",
            body=chunks,
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        assert response.status == 413
        assert "1000000 bytes" in json.loads(response.read())["detail"]
    finally:
        connection.close()


@pytest.mark.slow
def test_request_id_metrics_and_json_logs_from_the_live_service(served: str, server_log: Path):
    status, answer, headers = call(
        served, "/predict", {"instances": [GENTOO, GENTOO]}, {"X-Request-ID": "trace-77"}
    )
    assert status == 200
    assert headers["x-request-id"] == "trace-77"
    assert answer["predictions"] == ["Gentoo", "Gentoo"]
    with urllib.request.urlopen(f"{served}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    assert re.search(
        r'^model_predictions_total\{class="Gentoo"\} ([2-9]|\d{2,})\.0$', metrics, re.M
    ), metrics
    assert 'http_requests_total{method="POST",route="/predict",status="200"}' in metrics
    assert "http_request_duration_seconds_bucket" in metrics
    logged = [
        json.loads(line) for line in server_log.read_text().splitlines() if line.startswith("{")
    ]
    traced = [entry for entry in logged if entry.get("request_id") == "trace-77"]
    assert len(traced) == 1, logged[-5:]
    assert traced[0]["status"] == 200 and traced[0]["route"] == "/predict"


# ---- the model registry: MODEL_URI loads the champion through MLflow ----------------------------


@pytest.mark.slow
def test_model_uri_serves_the_registry_champion(piped_project: Project):
    script = f"""
import json
from fastapi.testclient import TestClient
from {DEFAULT_PACKAGE}.config import Settings
from {DEFAULT_PACKAGE}.serving.app import create_app
rows = {json.dumps({"instances": [GENTOO]})}
answers = {{}}
for uri in (None, "models:/{DEFAULT_PACKAGE}@champion"):
    with TestClient(create_app(Settings(model_uri=uri, require_api_key=False))) as client:
        ready, answer = client.get("/ready").json(), client.post("/predict", json=rows).json()
        answers[uri or "local"] = [ready, answer]
print(json.dumps(answers))
"""
    result = piped_project.uv("run", "--no-sync", "python", "-c", script, timeout=300)
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    local, registry = answers["local"], answers[f"models:/{DEFAULT_PACKAGE}@champion"]
    assert local[0]["backend"] == "onnx"
    assert registry[0]["backend"] == "mlflow"
    assert registry[1]["predictions"] == local[1]["predictions"] == ["Gentoo"]
    for cls, probability in local[1]["probabilities"][0].items():
        assert registry[1]["probabilities"][0][cls] == pytest.approx(probability, abs=0.02)


# ---- the container: static checks -------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not current):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, arguments = current.strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        current = ""
    assert not current, f"dangling continuation: {current}"
    return instructions


def stages(instructions: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for keyword, arguments in instructions:
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, arguments))
    return result


def env_pairs(arguments: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in shlex.split(arguments))


KNOWN_INSTRUCTIONS = {
    "FROM",
    "ARG",
    "ENV",
    "RUN",
    "COPY",
    "WORKDIR",
    "USER",
    "EXPOSE",
    "HEALTHCHECK",
    "CMD",
}


def test_dockerfile_is_multi_stage_small_and_non_root(default_render: Path):
    text = (default_render / "Dockerfile").read_text()
    instructions = dockerfile_instructions(text)
    assert {keyword for keyword, _ in instructions} <= KNOWN_INSTRUCTIONS
    build, runtime = stages(instructions)[-2:]
    assert len(stages(instructions)) >= 3  # uv binary, build, runtime
    syncs = [args for keyword, args in build if keyword == "RUN" and "uv sync" in args]
    assert syncs, "the build stage must install with uv sync"
    for command in syncs:
        assert "--no-default-groups" in command and (
            "--locked" in command or "--frozen" in command
        ), command
    runtime_keywords = [keyword for keyword, _ in runtime]
    for required in ("USER", "HEALTHCHECK", "CMD", "EXPOSE"):
        assert required in runtime_keywords, required
    user = [args for keyword, args in runtime if keyword == "USER"][-1]
    assert user.split(":")[0] not in ("root", "0")
    assert runtime_keywords.index("USER") < runtime_keywords.index("CMD")
    assert not any(keyword == "RUN" and "uv" in args for keyword, args in runtime), (
        "no installs at run time"
    )
    copies = [args for keyword, args in instructions if keyword == "COPY"]
    for copy in copies:
        sources = [part for part in shlex.split(copy)[:-1] if not part.startswith("--")]
        assert not any(".env" in source or "secret" in source.lower() for source in sources), copy
    cmd = json.loads([args for keyword, args in runtime if keyword == "CMD"][-1])
    assert cmd[:2] == [DEFAULT_PACKAGE, "serve"]
    assert "MODEL_PATH" in " ".join(args for keyword, args in runtime if keyword == "ENV")
    assert (
        "baked" in text and "-v " in text
    )  # the comments say how the model gets in: baked or mounted


def test_dockerignore_lets_in_only_what_the_image_needs(default_render: Path):
    patterns = [
        line.strip()
        for line in (default_render / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    assert allowed == {"pyproject.toml", "uv.lock", "README.md", "src", "models"}
    assert "**/.env" in patterns


def test_compose_runs_the_api_and_mlflow_with_its_store_on_a_volume(default_render: Path):
    compose = yaml.safe_load((default_render / "compose.yaml").read_text())
    api, mlflow = compose["services"]["api"], compose["services"]["mlflow"]
    assert api["build"]["context"] == "."
    assert all(
        port.startswith("127.0.0.1:") for service in (api, mlflow) for port in service["ports"]
    )
    command = " ".join(mlflow["command"])
    store = re.search(r"--backend-store-uri=sqlite:///(/\S+)", command)
    assert store, command
    volume, mount = mlflow["volumes"][0].split(":")
    assert volume in compose["volumes"]
    assert store.group(1).startswith(mount + "/")
    assert "--artifacts-destination=" + mount in command
    assert "API_KEY" not in json.dumps(
        api.get("environment", {})
    )  # the default answers have no auth


def test_docker_files_follow_the_answers(tmp_path: Path):
    without = render(tmp_path / "no-docker", tasks=False, include_docker=False)
    assert not any(
        (without / name).exists() for name in ("Dockerfile", "compose.yaml", ".dockerignore")
    )
    with_auth = render(tmp_path / "auth", tasks=False, api_auth=True)
    api = yaml.safe_load((with_auth / "compose.yaml").read_text())["services"]["api"]
    assert api["environment"]["API_KEY"].startswith("${API_KEY:?")
    assert (
        "require_api_key = true"
        in (with_auth / "src" / DEFAULT_PACKAGE / "serving" / "defaults.toml").read_text()
    )


# ---- the container: its install and start commands, run outside Docker -------------------------


class DockerfileRun:
    """Replays a Dockerfile's build and runtime stages here, with /app and /src moved to `root`."""

    def __init__(self, context: Path, root: Path) -> None:
        self.context, self.root = context, root
        instructions = dockerfile_instructions((context / "Dockerfile").read_text())
        self.build, self.runtime = stages(instructions)[-2:]
        self.env: dict[str, str] = clean_env()
        self.workdir = root

    def path(self, value: str) -> str:
        return re.sub(
            r"(?<![\w.])/(app|src)(?=/|$|:)", lambda m: str(self.root / m.group(1)), value
        )

    def _env(self, arguments: str) -> None:
        for key, value in env_pairs(arguments).items():
            self.env[key] = self.path(value).replace("$PATH", self.env.get("PATH", ""))

    def _copy(self, arguments: str) -> None:
        parts = shlex.split(arguments)
        if any(part.startswith("--from") for part in parts):
            return  # the uv binary, or the venv that the build stage already put in place
        *sources, target = parts
        destination = Path(self.path(target)) if target.startswith("/") else self.workdir / target
        for source in sources:
            origin = self.context / source
            if origin.is_dir():  # like Docker: a folder's contents go into the destination
                shutil.copytree(origin, destination, dirs_exist_ok=True)
            else:
                destination.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, destination / origin.name)

    def install(self) -> list[list[str]]:
        """Run the build stage's uv commands; returns them as run."""
        commands = []
        for keyword, arguments in self.build:
            if keyword == "ENV":
                self._env(arguments)
            elif keyword == "WORKDIR":
                self.workdir = Path(self.path(arguments))
                self.workdir.mkdir(parents=True, exist_ok=True)
            elif keyword == "COPY":
                self._copy(arguments)
            elif keyword == "RUN":  # cache mounts are Docker's business; EXTRAS defaults to ""
                argv = [
                    a
                    for a in shlex.split(arguments)
                    if not a.startswith("--mount") and a != "$EXTRAS"
                ]
                assert argv[0] == "uv", argv
                run([uv_bin(), *argv[1:]], self.workdir, env=self.env, timeout=900)
                commands.append(argv)
        return commands

    def start_command(self, port: int) -> tuple[list[str], list[str]]:
        """(CMD, HEALTHCHECK command) of the runtime stage, on 127.0.0.1:`port`; sets up its env."""
        cmd = health = None
        for keyword, arguments in self.runtime:
            if keyword == "ENV":
                self._env(arguments)
            elif keyword == "WORKDIR":
                self.workdir = Path(self.path(arguments))
            elif keyword == "COPY":
                self._copy(arguments)
            elif keyword == "CMD":
                cmd = json.loads(arguments)
            elif keyword == "HEALTHCHECK":
                health = json.loads(arguments.split(" CMD ", 1)[1])
        assert cmd and health
        local = {"0.0.0.0": "127.0.0.1", "8000": str(port)}  # noqa: S104  (the test binds 127.0.0.1)
        cmd = [local.get(part, part) for part in cmd]
        health = [part.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for part in health]
        return cmd, health


@pytest.fixture(scope="module")
def auth_container(
    piped_project: Project, tmp_path_factory: pytest.TempPathFactory
) -> DockerfileRun:
    """A project rendered with api_auth=true, installed the way its Dockerfile installs it.

    It gets the trained model and the lock file of the default project (same pyproject.toml, so the
    same lock), so nothing is trained again."""
    context = render(tmp_path_factory.mktemp("auth") / "project", tasks=False, api_auth=True)
    assert (context / "pyproject.toml").read_text() == (
        piped_project.path / "pyproject.toml"
    ).read_text()
    shutil.copy2(piped_project.path / "uv.lock", context / "uv.lock")
    shutil.copytree(piped_project.path / "models", context / "models")
    image = DockerfileRun(context, tmp_path_factory.mktemp("image"))
    image.install()
    return image


def tree_megabytes(path: Path) -> float:
    return (
        sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6
    )


@pytest.mark.slow
def test_runtime_install_is_small_and_has_no_training_stack(auth_container: DockerfileRun):
    venv = auth_container.root / "app" / ".venv"
    size = tree_megabytes(venv)
    print(f"runtime virtualenv: {size:.0f} MB")
    assert size < RUNTIME_BUDGET_MB, (
        f"the runtime install is {size:.0f} MB, over the {RUNTIME_BUDGET_MB} MB budget"
    )
    site = next(venv.glob("lib/python*/site-packages"))
    for heavy in ("pandas", "sklearn", "mlflow", "dvc", "matplotlib", "skl2onnx"):
        assert not (site / heavy).exists(), f"{heavy} is in the runtime install"
    package = site / DEFAULT_PACKAGE
    assert (package / "serving" / "static" / "swagger-ui" / "swagger-ui-bundle.js").is_file()
    assert (package / "serving" / "defaults.toml").is_file()


@pytest.mark.slow
def test_container_start_command_serves_with_the_api_key(
    auth_container: DockerfileRun, tmp_path: Path
):
    port = free_port()
    cmd, health = auth_container.start_command(port)
    env = auth_container.env
    without_key = {k: v for k, v in env.items() if k != "API_KEY"}
    refused = subprocess.run(
        cmd,
        cwd=auth_container.workdir,
        env=without_key,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode != 0
    assert "API_KEY is not set" in refused.stdout + refused.stderr

    with serving(
        cmd, auth_container.workdir, {**env, "API_KEY": API_KEY}, tmp_path / "api.log", port
    ) as base:
        subprocess.run(health, cwd=auth_container.workdir, env=env, check=True, timeout=30)
        assert call(base, "/health")[0] == 200
        assert call(base, "/ready")[0] == 200
        status, answer, headers = call(base, "/predict", {"instance": GENTOO})
        assert status == 401
        assert "X-API-Key" in answer["detail"]
        assert headers["www-authenticate"].startswith("ApiKey")
        assert call(base, "/predict", {"instance": GENTOO}, {"X-API-Key": "wrong"})[0] == 401
        assert call(base, "/model")[0] == 401
        status, answer, _ = call(base, "/predict", {"instance": GENTOO}, {"X-API-Key": API_KEY})
        assert status == 200 and answer["predictions"] == ["Gentoo"]
        with urllib.request.urlopen(
            f"{base}/static/swagger-ui/swagger-ui.css", timeout=10
        ) as response:
            assert response.status == 200  # package data made it into the non-editable install
        with browser_page() as (page, external):  # the demo page asks for the key, then predicts
            page.goto(f"{base}/")
            page.wait_for_selector("#api-key", state="visible")
            page.fill("#api-key", API_KEY)
            page.press("#api-key", "Enter")
            assert predict_in_form(page, GENTOO, "Gentoo")
        assert external == []
