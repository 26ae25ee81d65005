"""The gallery: real generated projects, shown in the docs site (docs/gallery/) and the README.

    uv run python scripts/gallery.py                  # render and run every showcase (minutes)
    uv run python scripts/gallery.py --only diabetes  # one of them
    uv run python scripts/gallery.py --project penguins=path/to/piped --out /tmp/gallery

Each showcase is rendered and taken through its lifecycle by scripts/lifecycle.py (the README's
main job), then the gallery collects what the project produced:

- a screenshot of its demo page after a prediction (headless Chromium, fixed size);
- its REPORT.md and MODEL_CARD.md, with their figures;
- `dvc dag`, and the key params and metrics of the MLflow run that trained the served model;
- its file tree (what git sees).

It writes one page per showcase, plus `gallery.json`: the template commit and the numbers shown.
tests/test_gallery.py collects the default project again from the suite's own run and fails if
its numbers no longer match the recorded ones, so the gallery cannot show stale results.
`--project SLUG=PATH` collects from a project that already ran its pipeline, instead of rendering.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# The repository root, so that `scripts` imports when this file is run as a script.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts import lifecycle

REPO = lifecycle.REPO
OUT = REPO / "docs" / "gallery"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
VIEWPORT = {"width": 1200, "height": 900}
# What the README shows: the default project's demo page and one figure of its report.
README_SHOWCASE, README_FIGURE = "penguins", "confusion_matrix.png"
# MLflow params worth a line on the page (with the served family's own); the rest are in the report.
KEY_PARAMS = (
    "data.source",
    "data.name",
    "split.test_size",
    "split.seed",
    "train.model",
    "train.selection.rule",
    "train.primary_metric",
    "train.cv_folds",
    "train.seed",
    "train.tuning.enabled",
)
NUMBERS_TOLERANCE = 1e-6  # seeded runs agree to float rounding across machines


@dataclass(frozen=True)
class Showcase:
    slug: str
    title: str
    answers: dict[str, Any] = field(default_factory=dict)
    blurb: str = ""


SHOWCASES = (
    Showcase(
        "penguins",
        "Penguins: classification (the default answers)",
        {},
        "Palmer penguins, three species from seven measurements: the project every default "
        "render makes.",
    ),
    Showcase(
        "diabetes",
        "Diabetes: regression",
        {"project_name": "Diabetes Progression", "dataset": "diabetes"},
        "scikit-learn's diabetes data: disease progression after one year, from ten baseline "
        "variables.",
    ),
)


# ---- running a showcase ---------------------------------------------------------------------


def run_showcase(showcase: Showcase, work: Path) -> Path:
    """Render the showcase and take it through its lifecycle (the README's main job)."""
    folder = work / showcase.slug
    argv = [str(folder)]
    for key, value in showcase.answers.items():
        argv += ["-d", f"{key}={value}"]
    code = lifecycle.main(argv)
    if code:
        sys.exit(f"error: the lifecycle of {showcase.slug} failed (exit {code})")
    return folder


def package_of(project: Path) -> str:
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    return str(answers["package_name"])


def captured(cmd: list[str], cwd: Path) -> str:
    result = subprocess.run(
        cmd, cwd=cwd, env=lifecycle.project_env(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"error: '{' '.join(cmd)}' failed in {cwd}:\n{result.stderr[-3000:]}")
    return result.stdout


@contextmanager
def served(project: Path) -> Iterator[str]:
    """The project's API on a free 127.0.0.1 port, stopped (by its PID) afterwards."""
    port = lifecycle.free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [str(project / ".venv" / "bin" / package_of(project)), "serve", "--port", str(port)]
    server = subprocess.Popen(
        argv,
        cwd=project,
        env=lifecycle.project_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        lifecycle.wait_for_health(base, server)
        yield base
    finally:
        lifecycle.stop(server)


def screenshot(base: str, target: Path) -> str:
    """The demo page after one prediction of its prefilled row; returns the prediction shown."""
    if not Path(CHROMIUM).is_file():
        sys.exit(f"error: {CHROMIUM} not found; install it (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
            page.goto(f"{base}/")
            page.wait_for_selector("#submit")
            with page.expect_response(lambda response: response.url.endswith("/predict")):
                page.click("#submit")
            page.wait_for_function("document.getElementById('prediction').textContent !== ''")
            shown = page.text_content("#prediction") or ""
            png = page.screenshot(full_page=False)
        finally:
            browser.close()
    write_png(png, target)
    return shown.strip()


def write_png(data: bytes, target: Path) -> None:
    """A palette PNG (256 colours), optimised: a screenshot or a figure in a few tens of kB."""
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    target.parent.mkdir(parents=True, exist_ok=True)
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)


MLFLOW_QUERY = """
import json, sys
import mlflow
mlflow.set_tracking_uri(sys.argv[1])
run = mlflow.get_run(sys.argv[2])
print(json.dumps({"params": run.data.params, "metrics": run.data.metrics}))
"""


def mlflow_run(project: Path, run_id: str) -> dict[str, Any]:
    """The params and metrics of the run that trained the served model, from the project's store."""
    python = str(project / ".venv" / "bin" / "python")
    out = captured([python, "-c", MLFLOW_QUERY, "sqlite:///mlflow.db", run_id], project)
    return json.loads(out.strip().splitlines()[-1])


def file_tree(project: Path) -> str:
    """The project's files as git sees them (tracked or not ignored), as an indented tree."""
    listed = captured(["git", "ls-files", "--cached", "--others", "--exclude-standard"], project)
    tree: dict[str, Any] = {}
    for line in sorted(set(listed.splitlines())):
        node = tree
        for part in line.split("/"):
            node = node.setdefault(part, {})
    lines: list[str] = []

    def walk(node: dict[str, Any], depth: int) -> None:
        folders = sorted(name for name, child in node.items() if child)
        files = sorted(name for name, child in node.items() if not child)
        for name in folders:
            lines.append("    " * depth + name + "/")
            walk(node[name], depth + 1)
        lines.extend("    " * depth + name for name in files)

    walk(tree, 0)
    return "\n".join(lines)


# ---- writing a page -------------------------------------------------------------------------

IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


def embed(markdown: str, figures: dict[str, str]) -> str:
    """A project's Markdown inside a gallery page: headings one level down, figures re-pointed
    at the gallery's copies, and links to files the gallery does not hold made plain text."""
    text = re.sub(r"^(#{1,5}) ", r"#\1 ", markdown, flags=re.MULTILINE)
    text = IMAGE.sub(lambda m: f"![{m[1]}]({figures.get(Path(m[2]).name, m[2])})", text)
    return LINK.sub(lambda m: m[0] if m[2].startswith(("http://", "https://")) else m[1], text)


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The headline numbers of metrics.json (the served model's): what freshness is checked on."""
    return {
        key: float(value)
        for key, value in metrics.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }


def collect(showcase: Showcase, project: Path, out: Path) -> dict[str, Any]:
    """Write the showcase's page and assets under `out`; return what gallery.json records."""
    assets = out / showcase.slug
    if assets.exists():
        shutil.rmtree(assets)
    reports = project / "reports"
    figures: dict[str, str] = {}
    for figure in sorted((reports / "figures").glob("*.png")):
        write_png(figure.read_bytes(), assets / "figures" / figure.name)
        figures[figure.name] = f"{showcase.slug}/figures/{figure.name}"
    with served(project) as base:
        prediction = screenshot(base, assets / "demo.png")
    card = json.loads((project / "models" / "model.json").read_text(encoding="utf-8"))
    run = mlflow_run(project, card["mlflow"]["run_id"])
    metrics = json.loads((reports / "metrics.json").read_text(encoding="utf-8"))
    dag = captured(["uv", "run", "--no-sync", "dvc", "dag"], project)
    family = f"train.{card['model_family']}."
    key_params = {k: v for k, v in run["params"].items() if k in KEY_PARAMS or k.startswith(family)}
    # Per-step series ("loss/step") and wall times change from run to run: not gallery material.
    run_metrics = {
        k: v
        for k, v in sorted(run["metrics"].items())
        if "/" not in k and not k.endswith("_seconds")
    }
    answers = showcase.answers or {"(defaults)": ""}

    page = [
        f"# {showcase.title}",
        "",
        showcase.blurb,
        "",
        "Made by `uv run python scripts/gallery.py`, which renders the template with the answers "
        "below and runs the README's main job on it. Everything on this page is that project's "
        "own output.",
        "",
        "| answer | value |",
        "|---|---|",
        *(f"| `{k}` | `{v}` |" if v != "" else f"| {k} | |" for k, v in answers.items()),
        "",
        "## The demo page, after a prediction",
        "",
        f"![The demo page of {package_of(project)}]({showcase.slug}/demo.png)",
        "",
        f"The page's prefilled row predicts **{prediction}**.",
        "",
        "## The MLflow run of the served model",
        "",
        f"Run `{card['mlflow']['run_id']}`, registered as "
        f"`{card['mlflow'].get('registered_model_uri', 'n/a')}`.",
        "",
        "| param | value |",
        "|---|---|",
        *(f"| `{k}` | `{v}` |" for k, v in key_params.items()),
        "",
        "| metric | value |",
        "|---|---:|",
        *(f"| `{k}` | {v:.4f} |" for k, v in run_metrics.items()),
        "",
        "## The pipeline (`dvc dag`)",
        "",
        "```text",
        dag.rstrip(),
        "```",
        "",
        "## The report (reports/REPORT.md)",
        "",
        embed((reports / "REPORT.md").read_text(encoding="utf-8"), figures).split("\n", 1)[1],
        "",
        "## The model card (reports/MODEL_CARD.md)",
        "",
        embed((reports / "MODEL_CARD.md").read_text(encoding="utf-8"), figures).split("\n", 1)[1],
        "",
        "## The project's files",
        "",
        "```text",
        file_tree(project),
        "```",
        "",
    ]
    (out / f"{showcase.slug}.md").write_text("\n".join(page), encoding="utf-8")
    return {
        "title": showcase.title,
        "answers": showcase.answers,
        "package": package_of(project),
        "prediction": prediction,
        "primary_metric": card["primary_metric"],
        "metrics": scalar_metrics(metrics),
        "mlflow_run": {"params": key_params, "metrics": run_metrics},
    }


def template_commit() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    # The gallery's own files do not make the template dirty: it rewrites them.
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", ".", ":!docs/gallery"], cwd=REPO, capture_output=True
    )
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def write_index(out: Path, record: dict[str, Any]) -> None:
    rows = [
        f"| [{entry['title']}]({slug}.md) | `{entry['package']}` | "
        f"{entry['primary_metric']} = {entry['metrics'][entry['primary_metric']]:.4f} |"
        for slug, entry in record["projects"].items()
    ]
    text = f"""\
    # Gallery

    Real projects, generated by this template and run end to end: their demo page, report,
    model card, pipeline, MLflow run and files, exactly as they came out. Template commit
    `{record["template_commit"]}`.

    | project | package | served model, test split |
    |---|---|---|
    {{rows}}

    Regenerate it after a change to the template with `uv run python scripts/gallery.py`
    (a few minutes: it renders and runs each project). The suite's `tests/test_gallery.py`
    collects the default project again from its own run and fails when the numbers here no
    longer match, with the same instruction.
    """
    (out / "index.md").write_text(
        textwrap.dedent(text).replace("{rows}", "\n".join(rows)), encoding="utf-8"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=OUT, help="where to write (docs/gallery)")
    parser.add_argument(
        "--only", action="append", default=[], help="a showcase slug (repeatable); default: all"
    )
    parser.add_argument(
        "--project",
        action="append",
        default=[],
        metavar="SLUG=PATH",
        help="collect from a project that already ran its pipeline instead of rendering one",
    )
    parser.add_argument(
        "--work", type=Path, help="where to render the projects (default: a temporary folder)"
    )
    args = parser.parse_args(argv)
    known = {showcase.slug: showcase for showcase in SHOWCASES}
    given: dict[str, Path] = {}
    for pair in args.project:
        slug, _, path = pair.partition("=")
        if slug not in known or not path:
            sys.exit(f"error: --project wants SLUG=PATH with SLUG one of {', '.join(known)}")
        if not (Path(path) / "reports" / "metrics.json").is_file():
            sys.exit(f"error: {path} has no reports/metrics.json; run its pipeline first")
        given[slug] = Path(path).resolve()
    unknown = [slug for slug in args.only if slug not in known]
    if unknown:
        sys.exit(f"error: unknown showcase {unknown}; the showcases are: {', '.join(known)}")
    wanted = args.only or (list(given) if given else list(known))

    commit = template_commit()  # before anything is written
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    record_file = out / "gallery.json"
    record = (
        json.loads(record_file.read_text(encoding="utf-8"))
        if record_file.is_file()
        else {"projects": {}}
    )
    with tempfile.TemporaryDirectory(prefix="mlfolio-gallery-") as scratch:
        work = (args.work or Path(scratch)).resolve()
        for slug in wanted:
            project = given.get(slug) or run_showcase(known[slug], work)
            lifecycle.step(f"gallery: collect {slug} from {project}")
            record["projects"][slug] = collect(known[slug], project, out)
    record["template_commit"] = commit
    record["projects"] = {s: record["projects"][s] for s in known if s in record["projects"]}
    record_file.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    write_index(out, record)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"\nwrote {out} ({size / 1e6:.2f} MB): {', '.join(record['projects'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
