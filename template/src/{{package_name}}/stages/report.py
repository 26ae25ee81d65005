"""report: write the Markdown reports from the pipeline's outputs."""

from __future__ import annotations

from pathlib import Path

from ..config import Params, Paths


def run(params: Params, paths: Paths) -> list[Path]:
    """Write reports/REPORT.md and MODEL_CARD.md and refresh the README's results block."""
    from ..reporting.report import run_report

    return run_report(params, paths)
