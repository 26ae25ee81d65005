"""The report stage: REPORT.md, MODEL_CARD.md and the README's results block, from real outputs.

Everything here reads files the pipeline wrote; nothing is recomputed, so the report cannot
disagree with `reports/metrics.json`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from ..config import Params, Paths
from ..data.io import atomic_path, read_json

log = logging.getLogger(__name__)

RESULTS_START = "<!-- results:start (written by `make report`; edit outside these markers) -->"
RESULTS_END = "<!-- results:end -->"
_BLOCK = re.compile(r"<!-- results:start[^>]*-->.*?<!-- results:end -->", re.DOTALL)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def comparison_table(metrics: dict[str, Any]) -> str:
    """Markdown table: each test metric for the model and the baseline."""
    baseline = metrics.get("baseline", {})
    names = [k for k, v in metrics.items() if isinstance(v, float) and not k.startswith("cv_")]
    lines = [f"| metric | {metrics.get('model', 'model')} | baseline (linear) |", "|---|---:|---:|"]
    for name in names:
        marker = " **(primary)**" if name == metrics.get("primary_metric") else ""
        lines.append(f"| {name}{marker} | {_fmt(metrics[name])} | {_fmt(baseline.get(name, '-'))} |")
    return "\n".join(lines)


def cv_table(metrics: dict[str, Any]) -> str:
    """Markdown table of cross-validation mean ± std."""
    means = {k[3:-5]: v for k, v in metrics.items() if k.startswith("cv_") and k.endswith("_mean")}
    lines = [f"| metric | mean ± std over {int(metrics.get('cv_folds', 0))} folds |", "|---|---:|"]
    for name, mean in means.items():
        lines.append(f"| {name} | {mean:.4f} ± {metrics.get(f'cv_{name}_std', 0.0):.4f} |")
    return "\n".join(lines)


def _figures(paths: Paths, relative_to: Path) -> list[str]:
    if not paths.figures.is_dir():
        return []
    return [
        f"![{p.stem.replace('_', ' ')}]({p.relative_to(relative_to).as_posix()})"
        for p in sorted(paths.figures.glob("*.png"))
    ]


def next_steps(metrics: dict[str, Any], quality: dict[str, Any], card: dict[str, Any]) -> list[str]:
    """Questions for the author, chosen from what the numbers show."""
    questions = []
    primary = metrics.get("primary_metric", "")
    model, base = metrics.get(primary), metrics.get("baseline", {}).get(primary)
    if isinstance(model, float) and isinstance(base, float) and abs(model - base) < 0.01:
        questions.append(
            f"The model barely differs from the linear baseline on {primary}: is the extra complexity worth it?"
        )
    stds = [v for k, v in metrics.items() if k.startswith("cv_") and k.endswith("_std")]
    if stds and max(stds) > 0.05:
        questions.append(
            "The cross-validation spread is wide: would more data or a simpler model make results steadier?"
        )
    if quality.get("rows_quarantined"):
        questions.append(
            f"{quality['rows_quarantined']} rows were quarantined: are the reasons real data errors, or rules to relax?"
        )
    if quality.get("columns_dropped"):
        questions.append(
            f"Columns were dropped ({', '.join(quality['columns_dropped'])}): should any be kept with a pinned type?"
        )
    questions.append(
        "Which feature matters most in the permutation importance plot, and does that match domain knowledge?"
    )
    questions.append(
        "Where does the model fail (confusion matrix or residuals), and what would a user lose from those errors?"
    )
    questions.append(
        f"Would another model family (train.model in params.yaml, now '{card.get('model_family')}') do better?"
    )
    return questions


def build_report(params: Params, paths: Paths) -> str:
    """REPORT.md text."""
    metrics = read_json(paths.metrics)
    quality = read_json(paths.data_quality)
    card = read_json(paths.model_card_json)
    raw = read_json(paths.raw_metadata)
    reasons = quality.get("quarantine_reasons", {})
    parts = [
        f"# {params.project}: results",
        "",
        "## Data",
        "",
        f"- Source: {raw['source']} ({raw['location']}), sha256 `{raw['sha256'][:12]}...`, collected {raw['collected_at']}.",
        f"- Rows in: {quality['rows_in']}; clean: {quality['rows_clean']}; quarantined: {quality['rows_quarantined']}"
        f" (duplicates: {quality['duplicates_removed']}).",
        f"- Features: {quality['features']}; target: `{card['target']['name']}` ({card['task']}).",
    ]
    if reasons:
        parts += ["", "| quarantine reason | rows |", "|---|---:|"]
        parts += [f"| {reason} | {count} |" for reason, count in reasons.items()]
    parts += [
        "",
        "## Model against the baseline (test split)",
        "",
        comparison_table(metrics),
        "",
        "## Cross-validation (training split)",
        "",
        cv_table(metrics),
        "",
        f"Serving artifact: {card['artifacts'].get('onnx') or card['artifacts'].get('skops')}"
        f" (parity: {card['artifacts'].get('parity')}).",
        "",
        "## Figures",
        "",
        *_figures(paths, paths.reports),
        "",
        "## What to try next",
        "",
        *[f"- {q}" for q in next_steps(metrics, quality, card)],
        "",
    ]
    return "\n".join(parts)


def build_model_card(params: Params, paths: Paths) -> str:
    """MODEL_CARD.md text."""
    card = read_json(paths.model_card_json)
    metrics = read_json(paths.metrics)
    quality = read_json(paths.data_quality)
    features = ", ".join(f"`{f['name']}` ({f['kind']})" for f in card["features"])
    classes = card["target"].get("classes")
    return "\n".join(
        [
            f"# Model card: {params.project}",
            "",
            "## Intended use",
            "",
            f"Predict `{card['target']['name']}` ({card['task']}"
            + (f" among {', '.join(classes)}" if classes else "")
            + ") from the features below, for the population the training data describes. It is a "
            "portfolio / teaching model: validate it on your own data before any real decision.",
            "",
            "## Model",
            "",
            f"- Family: {card['model_family']}; trained {card['created_at']}; registry version: {card.get('version') or 'not registered'}.",
            f"- Training data sha256: `{card['training_data_sha256']}`.",
            f"- MLflow run: {card['mlflow'].get('run_id') or 'not tracked'}.",
            "",
            "## Data",
            "",
            f"{quality['rows_clean']} clean rows ({quality['rows_quarantined']} quarantined). Features: {features}.",
            "",
            "## Metrics (test split)",
            "",
            comparison_table(metrics),
            "",
            "## Limitations",
            "",
            f"- The test split has {metrics.get('test_rows')} rows; small test sets give noisy estimates (see the CV spread in REPORT.md).",
            "- Inputs outside the training ranges and unseen categories are refused by the API rather than guessed.",
            "- The model learns correlations in this dataset only; it has not been checked for fairness across subgroups.",
            "",
        ]
    )


def results_block(paths: Paths) -> str:
    """The README's results section (between markers)."""
    metrics = read_json(paths.metrics)
    figures = [
        f
        for f in _figures(paths, paths.root)
        if "confusion" in f or "predicted_vs_actual" in f or "importance" in f
    ]
    return "\n".join([RESULTS_START, "", comparison_table(metrics), "", *figures, "", RESULTS_END])


def refresh_readme(readme: Path, block: str) -> bool:
    """Replace the results block in README.md; returns False (and changes nothing) without markers."""
    if not readme.is_file():
        return False
    text = readme.read_text(encoding="utf-8")
    if not _BLOCK.search(text):
        log.warning(
            "README.md has no results markers; add '%s' and '%s' to show results there.",
            RESULTS_START,
            RESULTS_END,
        )
        return False
    updated = _BLOCK.sub(lambda _: block, text, count=1)
    if updated != text:
        with atomic_path(readme) as tmp:
            tmp.write_text(updated, encoding="utf-8")
    return True


def run_report(params: Params, paths: Paths) -> list[Path]:
    """The report stage: write REPORT.md and MODEL_CARD.md and refresh the README block."""
    written = []
    for name, text in (
        ("REPORT.md", build_report(params, paths)),
        ("MODEL_CARD.md", build_model_card(params, paths)),
    ):
        target = paths.reports / name
        with atomic_path(target) as tmp:
            tmp.write_text(text, encoding="utf-8")
        written.append(target)
    if refresh_readme(paths.readme, results_block(paths)):
        written.append(paths.readme)
    log.info("wrote %s", ", ".join(p.relative_to(paths.root).as_posix() for p in written))
    return written
