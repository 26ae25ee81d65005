"""The gallery (docs/gallery/): real generated projects, shown as they are, and never stale.

scripts/gallery.py renders and runs each showcase and records the numbers it shows in
gallery.json. Here the default showcase is collected again from the suite's own run of the main
job (`piped_project`), and its numbers must match the recorded ones: a change to the template
that moves a result fails this test until the gallery is regenerated.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO, Project

GALLERY = REPO / "docs" / "gallery"
STALE = "the gallery is stale: run `uv run python scripts/gallery.py` and commit docs/gallery/"
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
MAX_BYTES = 2_000_000


def gallery_module() -> Any:
    from scripts import gallery

    return gallery


def recorded() -> dict[str, Any]:
    return json.loads((GALLERY / "gallery.json").read_text(encoding="utf-8"))


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_every_showcase_has_a_page_with_its_screenshot_and_figures():
    gallery = gallery_module()
    record = recorded()
    assert list(record["projects"]) == [showcase.slug for showcase in gallery.SHOWCASES], STALE
    viewport = (gallery.VIEWPORT["width"], gallery.VIEWPORT["height"])
    for slug, entry in record["projects"].items():
        page = (GALLERY / f"{slug}.md").read_text(encoding="utf-8")
        images = IMAGE_LINK.findall(page)
        assert f"{slug}/demo.png" in images
        assert png_size(GALLERY / slug / "demo.png") == viewport
        assert sum("/figures/" in image for image in images) >= 3, images
        missing = [image for image in images if not (GALLERY / image).is_file()]
        assert not missing, f"{slug}.md links images that are not there: {missing}"
        assert f"**{entry['prediction']}**" in page
        assert "## The pipeline (`dvc dag`)" in page and "## The project's files" in page
        primary = entry["primary_metric"]
        assert f"{primary} = {entry['metrics'][primary]:.4f}" in (GALLERY / "index.md").read_text()


def test_gallery_stays_small():
    size = sum(path.stat().st_size for path in GALLERY.rglob("*") if path.is_file())
    assert size <= MAX_BYTES, f"docs/gallery/ holds {size / 1e6:.2f} MB; the budget is 2 MB"


def test_readme_shows_the_demo_page_and_a_report_figure_linked_to_the_gallery():
    gallery = gallery_module()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    slug, figure = gallery.README_SHOWCASE, gallery.README_FIGURE
    for image in (f"docs/gallery/{slug}/demo.png", f"docs/gallery/{slug}/figures/{figure}"):
        assert f"]({image})](docs/gallery/{slug}.md)" in readme, image
        assert (REPO / image).is_file()


@pytest.mark.slow
def test_the_gallery_shows_what_the_template_produces_now(piped_project: Project, tmp_path: Path):
    """Collect the default showcase from the suite's run; its numbers must be the recorded ones."""
    out = tmp_path / "gallery"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "gallery.py"),
            "--project",
            f"penguins={piped_project.path}",
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    fresh = json.loads((out / "gallery.json").read_text())["projects"]["penguins"]
    shown = recorded()["projects"]["penguins"]
    assert fresh["primary_metric"] == shown["primary_metric"], STALE
    assert set(fresh["metrics"]) == set(shown["metrics"]), STALE
    moved = {
        name: (shown["metrics"][name], value)
        for name, value in fresh["metrics"].items()
        if not math.isclose(value, shown["metrics"][name], rel_tol=1e-6, abs_tol=1e-6)
    }
    assert not moved, f"{STALE}; (shown, now): {moved}"
    assert fresh["prediction"] == shown["prediction"], STALE
    assert (out / "penguins" / "demo.png").is_file()


def test_gallery_refuses_a_project_that_has_not_run(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gallery.py"), "--project", f"penguins={tmp_path}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "has no reports/metrics.json; run its pipeline first" in result.stderr
