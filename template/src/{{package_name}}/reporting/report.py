"""The report stage: REPORT.md, MODEL_CARD.md and the README's results block, from real outputs.

Everything here reads files the pipeline wrote; nothing is recomputed, so the report cannot
disagree with `reports/metrics.json`. It imports neither pandas nor scikit-learn, so it runs in a
fraction of a second.
"""

from __future__ import annotations

import csv
import logging
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import families
from ..artifacts import (
    ColumnGroup,
    Figures,
    ModelCard,
    Plots,
    read_model_card,
)
from ..config import Params, Paths
from ..data.io import atomic_path, read_json
from .markers import RESULTS_BLOCK, RESULTS_END, RESULTS_START

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outputs:
    """Everything the pipeline wrote that the report quotes."""

    metrics: dict[str, Any]
    card: ModelCard
    quality: dict[str, Any]
    raw: dict[str, Any]
    importance: list[dict[str, str]]
    confusion: list[dict[str, str]]
    residuals: list[dict[str, str]]

    @property
    def primary(self) -> str:
        return str(self.metrics["primary_metric"])

    @property
    def baseline(self) -> dict[str, Any]:
        return self.metrics.get("baseline", {})

    @property
    def greater_is_better(self) -> dict[str, bool]:
        return self.card.greater_is_better

    @property
    def family(self) -> str:
        return display_name(self.card.model_family)


def display_name(family: str) -> str:
    """The family's name for readers (a family whose module was since removed keeps its own name)."""
    return families.get(family).display_name if family in families.names() else family


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def load_outputs(paths: Paths) -> Outputs:
    """Read the pipeline's outputs (a missing one raises with a hint to run the pipeline)."""
    return Outputs(
        metrics=read_json(paths.metrics),
        card=read_model_card(paths.model_card_json),
        quality=read_json(paths.data_quality),
        raw=read_json(paths.raw_metadata),
        importance=_rows(paths.plots / Plots.IMPORTANCE),
        confusion=_rows(paths.plots / Plots.CONFUSION),
        residuals=_rows(paths.plots / Plots.RESIDUALS),
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def compare(model: float, baseline: float, greater_is_better: bool) -> str:
    """'better', 'worse' or 'tie' for the model against the baseline."""
    if math.isclose(model, baseline, rel_tol=0, abs_tol=1e-12):
        return "tie"
    return "better" if (model > baseline) == greater_is_better else "worse"


def comparison_table(metrics: dict[str, Any], greater_is_better: dict[str, bool]) -> str:
    """Markdown table: each test metric for the model and the baseline, and which one wins."""
    baseline = metrics.get("baseline", {})
    model = display_name(metrics["model"]) if "model" in metrics else "model"
    lines = [
        f"| metric (test split) | {model} | linear baseline | model vs baseline |",
        "|---|---:|---:|---|",
    ]
    for name in [k for k in greater_is_better if isinstance(metrics.get(k), float)]:
        marker = " **(primary)**" if name == metrics.get("primary_metric") else ""
        other = baseline.get(name)
        verdict = "-"
        if isinstance(other, float):
            direction = "higher" if greater_is_better[name] else "lower"
            verdict = f"{compare(metrics[name], other, greater_is_better[name])} ({direction} is better)"
        lines.append(f"| {name}{marker} | {_fmt(metrics[name])} | {_fmt(other or '-')} | {verdict} |")
    return "\n".join(lines)


def cv_table(metrics: dict[str, Any]) -> str:
    """Markdown table of cross-validation mean ± std for the model and the baseline."""
    baseline = metrics.get("baseline", {})
    means = [k[3:-5] for k in metrics if k.startswith("cv_") and k.endswith("_mean")]
    lines = [
        f"| metric | model: mean ± std over {int(metrics.get('cv_folds', 0))} folds | baseline: mean ± std |",
        "|---|---:|---:|",
    ]
    for name in means:
        model = f"{metrics[f'cv_{name}_mean']:.4f} ± {metrics.get(f'cv_{name}_std', 0.0):.4f}"
        base = "-"
        if f"cv_{name}_mean" in baseline:
            base = f"{baseline[f'cv_{name}_mean']:.4f} ± {baseline.get(f'cv_{name}_std', 0.0):.4f}"
        lines.append(f"| {name} | {model} | {base} |")
    return "\n".join(lines)


def _figures(paths: Paths, relative_to: Path, only: tuple[str, ...] = ()) -> list[str]:
    if not paths.figures.is_dir():
        return []
    return [
        f"![{p.stem.replace('_', ' ')}]({p.relative_to(relative_to).as_posix()})"
        for p in sorted(paths.figures.glob("*.png"))
        if not only or p.name in only
    ]


def headline(out: Outputs) -> str:
    """One sentence: the model, its primary test score, and the baseline's."""
    primary, metrics = out.primary, out.metrics
    model, base = metrics.get(primary), out.baseline.get(primary)
    sentence = f"The {out.family} scores {primary} = {_fmt(model)} on the held-out test split"
    if isinstance(model, float) and isinstance(base, float):
        verdict = {"better": "beating", "worse": "behind", "tie": "level with"}[
            compare(model, base, out.greater_is_better[primary])
        ]
        sentence += f", {verdict} the linear baseline ({_fmt(base)})"
    cv_mean, cv_std = metrics.get(f"cv_{primary}_mean"), metrics.get(f"cv_{primary}_std")
    if isinstance(cv_mean, float):
        sentence += f"; cross-validation on the training split gives {cv_mean:.4f} ± {cv_std or 0.0:.4f}"
    return sentence + "."


def data_section(out: Outputs) -> list[str]:
    """Where the data came from, what the cleaning kept and rejected, and how it was split."""
    quality, raw, card = out.quality, out.raw, out.card
    data = card.data
    lines = [
        f"- Source: {raw['source']} ({raw['location']}), sha256 `{raw['sha256'][:12]}...`, "
        f"collected {raw['collected_at']}.",
        f"- Rows in: {quality['rows_in']}; clean: {quality['rows_clean']}; "
        f"quarantined: {quality['rows_quarantined']} (duplicates removed: {quality.get('duplicates_removed', 0)}).",
        f"- Features: {quality['features']}; target: `{card.target.name}` ({card.task}).",
        f"- Split: {data.train_rows} training rows, {data.test_rows} test rows.",
    ]
    if sample := data.train_sample:
        lines.append(
            f"- Trained on a seeded sample: {sample.rows} of the {sample.of} training rows ({sample.why})."
        )
    reasons = quality.get("quarantine_reasons") or {}
    if reasons:
        lines += ["", "| quarantine reason | rows |", "|---|---:|"]
        lines += [f"| {reason} | {count} |" for reason, count in reasons.items()]
    missing = {k: v for k, v in (quality.get("missing_values") or {}).items() if v}
    if missing:
        lines += ["", "| column | missing values (imputed or quarantined) |", "|---|---:|"]
        lines += [f"| `{name}` | {count} |" for name, count in missing.items()]
    dropped = quality.get("columns_dropped") or {}
    if dropped:
        lines += ["", "| dropped column | why |", "|---|---|"]
        reasons_by_column = dropped if isinstance(dropped, dict) else dict.fromkeys(dropped, "")
        lines += [f"| `{name}` | {why} |" for name, why in reasons_by_column.items()]
    if data.train_classes:
        test_classes = data.test_classes or {}
        lines += ["", "| class | training rows | test rows |", "|---|---:|---:|"]
        lines += [
            f"| {name} | {count} | {test_classes.get(name, 0)} |"
            for name, count in data.train_classes.items()
        ]
    elif stats := data.train_target:
        lines.append(
            f"- Target on the training split: mean {stats.mean:.4g}, std {stats.std:.4g}, "
            f"range {stats.min:.4g} to {stats.max:.4g}."
        )
    return lines


def preprocessing_lines(groups: list[ColumnGroup]) -> list[str]:
    """One line per column group: its columns and its fitted steps in order, as model.json records them."""
    lines = []
    for group in groups:
        steps = [
            f"`{step.transformer}({', '.join(f'{k}={v!r}' for k, v in step.settings.items())})`"
            for step in group.steps
        ]
        columns = ", ".join(f"`{name}`" for name in group.columns)
        lines.append(f"{group.name} ({columns}): {', then '.join(steps) or 'passed through unchanged'}")
    return lines


def model_section(out: Outputs) -> list[str]:
    """Hyperparameters, the search, the served artifact and the MLflow lineage."""
    card = out.card
    hyperparameters = ", ".join(f"`{k}={v}`" for k, v in card.hyperparameters.items())
    lines = [
        f"- Family: {out.family} (`train.model: {card.model_family}`); {hyperparameters or 'defaults'}.",
        "- Preprocessing, as fitted:",
        *[f"  - {line}" for line in preprocessing_lines(card.preprocessing)],
    ]
    if tuning := card.tuning:
        lines.append(
            f"- Optuna search: {tuning.n_trials} trials; best trial #{tuning.best_trial} with "
            f"{tuning.metric} = {tuning.best_score:.4f}."
        )
    artifacts = card.artifacts
    lines.append(f"- Served artifact: `models/{artifacts.served}` (ONNX parity: {artifacts.parity}).")
    tracked = card.mlflow
    if tracked.run_id:
        lines.append(
            f"- MLflow run `{tracked.run_id}`, registered as `{tracked.registered_model_uri}`; {tracked.champion}."
        )
    else:
        lines.append("- Not tracked in MLflow (trained with `--no-tracking`).")
    return lines


def _float(row: dict[str, str], key: str) -> float:
    return float(row[key])


def next_steps(out: Outputs) -> list[str]:
    """Questions for the author, chosen from what the numbers show."""
    metrics, primary, card = out.metrics, out.primary, out.card
    questions: list[str] = []
    model, base = metrics.get(primary), out.baseline.get(primary)
    model_cv, base_cv = metrics.get(f"cv_{primary}_mean"), out.baseline.get(f"cv_{primary}_mean")
    std = metrics.get(f"cv_{primary}_std") or 0.0
    if isinstance(model, float) and isinstance(base, float):
        verdict = compare(model, base, out.greater_is_better[primary])
        if verdict == "worse":
            questions.append(
                f"The linear baseline beats the {out.family} on {primary} ({base:.4f} vs {model:.4f}): "
                "is the signal mostly linear, and is the extra complexity paying for itself?"
            )
        elif verdict == "tie":
            questions.append(
                f"The {out.family} and the linear baseline tie on the test {primary} ({model:.4f}): "
                "what does the more complex model add, and would a harder test set separate them?"
            )
        elif abs(model - base) <= std:
            questions.append(
                f"The model and the baseline differ by less than one CV standard deviation on {primary} "
                f"({abs(model - base):.4f} vs {std:.4f}): is the difference real?"
            )
        if isinstance(model_cv, float) and isinstance(base_cv, float):
            cv_verdict = compare(model_cv, base_cv, out.greater_is_better[primary])
            if verdict == "tie" and cv_verdict == "worse":
                questions.append(
                    f"Cross-validation puts the baseline ahead ({base_cv:.4f} vs {model_cv:.4f} "
                    f"{primary}): would the linear model be the simpler, better choice?"
                )
            elif {verdict, cv_verdict} == {"better", "worse"}:
                questions.append(
                    f"The test split and cross-validation disagree on which model is better "
                    f"(CV {primary}: {model_cv:.4f} vs baseline {base_cv:.4f}): with "
                    f"{metrics.get('test_rows')} test rows, is the test estimate too noisy to decide?"
                )
    if std > 0.05:
        questions.append(
            f"The cross-validation spread of {primary} is wide (± {std:.4f}): would more data, or a "
            "simpler model, make the results steadier?"
        )
    if primary in ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "r2") and model == 1.0:
        questions.append(
            f"The test {primary} is perfect: is the task easy, or does a feature leak the target?"
        )
    classes = card.data.train_classes or {}
    if classes and max(classes.values()) > 3 * max(1, min(classes.values())):
        questions.append(
            f"Classes are imbalanced ({', '.join(f'{k}: {v}' for k, v in classes.items())}): is "
            "balanced_accuracy the better primary metric, or would class weights help?"
        )
    if out.importance:
        ranked = sorted(out.importance, key=lambda row: _float(row, "importance"), reverse=True)
        top = ranked[0]
        questions.append(
            f"`{top['feature']}` carries the most signal (permutation importance "
            f"{_float(top, 'importance'):.4f}): does that match domain knowledge, and would the "
            "model survive without it?"
        )
        useless = [row["feature"] for row in ranked if _float(row, "importance") <= 0]
        if useless:
            them = "it" if len(useless) == 1 else "they"
            questions.append(
                f"Shuffling {', '.join(f'`{f}`' for f in useless)} does not hurt the test score: could "
                f"{them} go, to simplify the model and its API?"
            )
    errors = Counter(
        (row["actual"], row["predicted"]) for row in out.confusion if row["actual"] != row["predicted"]
    )
    if errors:
        (actual, predicted), count = errors.most_common(1)[0]
        questions.append(
            f"The most common error predicts {predicted} for {actual} ({count} test rows): what "
            "separates them, and which feature could capture it?"
        )
    if len(out.residuals) > 10:
        predicted = [_float(r, "predicted") for r in out.residuals]
        spread = [abs(_float(r, "residual")) for r in out.residuals]
        if _correlation(predicted, spread) > 0.3:
            questions.append("The errors grow with the predicted value: would a log-transformed target help?")
    quality = out.quality
    if quality.get("rows_quarantined"):
        questions.append(
            f"{quality['rows_quarantined']} rows were quarantined: are the reasons real data errors, "
            "or rules to relax in params.yaml (clean)?"
        )
    if not card.artifacts.onnx:
        questions.append(
            "Serving falls back to the skops pipeline (no ONNX export): is the faster ONNX path worth "
            "another model family?"
        )
    if tuning := card.tuning:
        if tuning.best_trial >= 0.8 * tuning.n_trials:
            questions.append(
                f"The search found its best trial late (#{tuning.best_trial} of {tuning.n_trials}): "
                "would more trials (train.tuning.n_trials) find better still?"
            )
    else:
        questions.append(
            "Would an Optuna search (train.tuning.enabled: true) beat these default hyperparameters?"
        )
    questions.append("Who would act on these predictions, and what does a wrong one cost them?")
    return questions


def _correlation(xs: list[float], ys: list[float]) -> float:
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    var_x = sum((x - mean_x) ** 2 for x in xs)
    var_y = sum((y - mean_y) ** 2 for y in ys)
    return cov / math.sqrt(var_x * var_y) if var_x and var_y else 0.0


def build_report(params: Params, paths: Paths) -> str:
    """REPORT.md text."""
    out = load_outputs(paths)
    return "\n".join(
        [
            f"# {params.project}: results",
            "",
            f"_Written by the report stage from the outputs of the model trained {out.card.created_at.isoformat()};"
            " `make report` rewrites it._",
            "",
            headline(out),
            "",
            "## Data",
            "",
            *data_section(out),
            "",
            "## Model against the baseline",
            "",
            comparison_table(out.metrics, out.greater_is_better),
            "",
            "## Cross-validation (training split)",
            "",
            cv_table(out.metrics),
            "",
            "## Model",
            "",
            *model_section(out),
            "",
            "## Figures",
            "",
            *_figures(paths, paths.reports),
            "",
            "## What to try next",
            "",
            *[f"- {question}" for question in next_steps(out)],
            "",
        ]
    )


def build_model_card(params: Params, paths: Paths) -> str:
    """MODEL_CARD.md text."""
    out = load_outputs(paths)
    card, metrics, quality = out.card, out.metrics, out.quality
    features = ", ".join(f"`{f.name}` ({f.kind})" for f in card.features)
    classes = card.classes
    tracked, data = card.mlflow, card.data
    return "\n".join(
        [
            f"# Model card: {params.project}",
            "",
            "## Model details",
            "",
            f"- {out.family.capitalize()} (`{card.model_family}`), a scikit-learn pipeline that prepares "
            "each group of columns as below (read from the fitted pipeline), then fits the model:",
            *[f"  - {line}" for line in preprocessing_lines(card.preprocessing)],
            f"- Trained {card.created_at.isoformat()}; registry version: {card.version or 'not registered'}"
            f"{' (' + tracked.champion + ')' if tracked.champion else ''}.",
            f"- MLflow run: {tracked.run_id or 'not tracked'}.",
            f"- Served from `models/{card.artifacts.served}`.",
            "",
            "## Intended use",
            "",
            f"Predict `{card.target.name}` ({card.task}"
            + (f" among {', '.join(classes)}" if classes else "")
            + ") from the features below, for the population the training data describes. It is a "
            "portfolio / teaching model: validate it on your own data before any real decision.",
            "",
            "Out of scope: inputs from another population or time period than the training data, and "
            "decisions about people without a human review.",
            "",
            "## Data",
            "",
            f"{quality['rows_clean']} clean rows ({quality['rows_quarantined']} quarantined) from "
            f"{out.raw['source']} (sha256 `{out.raw['sha256'][:12]}...`); "
            f"{data.train_rows} for training, {data.test_rows} held out for the test."
            + (
                f" The model saw a seeded sample of {data.train_sample.rows} of the "
                f"{data.train_sample.of} training rows."
                if data.train_sample
                else ""
            ),
            f"Training data sha256: `{card.training_data_sha256}`"
            + (f"; DVC hash: `{card.dvc_data_md5}`." if card.dvc_data_md5 else "."),
            "",
            f"Features: {features}.",
            "",
            "## Metrics",
            "",
            comparison_table(metrics, out.greater_is_better),
            "",
            cv_table(metrics),
            "",
            "## Limitations",
            "",
            f"- The test split has {metrics.get('test_rows')} rows; small test sets give noisy "
            "estimates (compare the cross-validation spread).",
            "- Inputs outside the training ranges and unseen categories are refused by the API rather "
            "than guessed.",
            "- The model learns correlations in this dataset only; it has not been checked for "
            "fairness across subgroups.",
            "",
            "## Ethical considerations",
            "",
            "Check who appears in the data and who does not before using the predictions, and keep a "
            "person responsible for any decision they inform.",
            "",
        ]
    )


def results_block(paths: Paths) -> str:
    """The README's results section (between markers)."""
    out = load_outputs(paths)
    figures = _figures(paths, paths.root, only=Figures.README)
    return "\n".join(
        [
            RESULTS_START,
            "",
            headline(out),
            "",
            comparison_table(out.metrics, out.greater_is_better),
            "",
            *figures,
            "",
            RESULTS_END,
        ]
    )


def refresh_readme(readme: Path, block: str) -> bool:
    """Replace the results block in README.md; returns False (and changes nothing) without markers."""
    if not readme.is_file():
        return False
    text = readme.read_text(encoding="utf-8")
    if not RESULTS_BLOCK.search(text):
        log.warning(
            "README.md has no results markers; add '%s' and '%s' to show results there.",
            RESULTS_START,
            RESULTS_END,
        )
        return False
    updated = RESULTS_BLOCK.sub(lambda _: block, text, count=1)
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
