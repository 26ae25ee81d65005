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
        baseline: dict[str, Any] = self.metrics.get("baseline", {})
        return baseline

    @property
    def greater_is_better(self) -> dict[str, bool]:
        return self.card.greater_is_better

    @property
    def family(self) -> str:
        return display_name(self.card.model_family)

    @property
    def guessing(self) -> dict[str, Any]:
        return self.metrics.get("guessing") or {}

    @property
    def runner_up(self) -> tuple[str, dict[str, Any]] | None:
        """The other trained candidate (family, metrics), or None when only one was trained."""
        others = {f: m for f, m in _candidates(self.metrics).items() if f != self.metrics.get("model")}
        return next(iter(others.items()), None)

    @property
    def leakage_flags(self) -> list[dict[str, str]]:
        flags: list[dict[str, str]] = (self.metrics.get("leakage") or {}).get("flags", [])
        return flags


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


def _candidates(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each trained family's metrics; metrics.json from before model selection had the baseline only."""
    return metrics.get("candidates") or {"linear": metrics.get("baseline", {})}


def _columns(metrics: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The table columns: the served model (its own, possibly calibrated, metrics), the other
    candidates, then guessing."""
    served = metrics.get("model", "model")
    columns = [(f"{display_name(served)} (served)", metrics)]
    columns += [(display_name(f), m) for f, m in _candidates(metrics).items() if f != served]
    if guessing := metrics.get("guessing"):
        columns.append(("guessing", guessing))
    return columns


def comparison_table(metrics: dict[str, Any], greater_is_better: dict[str, bool]) -> str:
    """Markdown table: each test metric for the served model, the other candidates and guessing.

    The last column answers the first question a reviewer asks: is the served model better than
    guessing (class priors, or the training mean)?
    """
    columns = _columns(metrics)
    guessing = metrics.get("guessing") or {}
    lines = [
        f"| metric (test split) | {' | '.join(name for name, _ in columns)} | served vs guessing |",
        f"|---|{'---:|' * len(columns)}---|",
    ]
    for name in [k for k in greater_is_better if isinstance(metrics.get(k), float)]:
        marker = " **(primary)**" if name == metrics.get("primary_metric") else ""
        verdict = "-"
        if isinstance(guessing.get(name), float):
            direction = "higher" if greater_is_better[name] else "lower"
            verdict = (
                f"{compare(metrics[name], guessing[name], greater_is_better[name])} ({direction} is better)"
            )
        values = " | ".join(_fmt(m.get(name, "-")) for _, m in columns)
        lines.append(f"| {name}{marker} | {values} | {verdict} |")
    return "\n".join(lines)


def cv_table(metrics: dict[str, Any]) -> str:
    """Markdown table of cross-validation mean ± std for each candidate and guessing.

    The served model's folds are those of the candidate before any calibration.
    """
    columns = _columns(metrics)
    means = [k[3:-5] for k in metrics if k.startswith("cv_") and k.endswith("_mean")]
    folds = int(metrics.get("cv_folds", 0))
    lines = [
        f"| metric: mean ± std over {folds} folds | {' | '.join(name for name, _ in columns)} |",
        f"|---|{'---:|' * len(columns)}",
    ]
    for name in means:
        cells = [
            f"{m[f'cv_{name}_mean']:.4f} ± {m.get(f'cv_{name}_std', 0.0):.4f}"
            if f"cv_{name}_mean" in m
            else "-"
            for _, m in columns
        ]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def selection_lines(out: Outputs) -> list[str]:
    """Which candidate is served and why, and how to serve train.model regardless."""
    selection = out.metrics.get("selection")
    if not selection:
        return [f"- The {out.family} is served (trained before model selection existed)."]
    lines = [f"- {selection['reason']}"]
    requested = out.metrics.get("requested_model")
    if requested and requested != out.card.model_family:
        lines.append(
            f"- `train.model: {requested}` named the {display_name(requested)}: it stayed a candidate and "
            "lost. To serve it whatever the evidence, set `train.selection.rule: model` in params.yaml."
        )
    lines.append(
        "- The rule: the best cross-validated "
        f"{out.primary} wins, and a tie within one standard error of the best mean goes to the simpler model."
    )
    return lines


def selection_line(metrics: dict[str, Any]) -> str | None:
    """Why the served model was chosen, in one line (None for outputs from before model selection)."""
    selection = metrics.get("selection")
    return f"Selection: {selection['reason']}" if selection else None


def calibration_line(metrics: dict[str, Any]) -> str | None:
    """The calibration verdict in one line, or None for a regression model."""
    calibration = metrics.get("calibration")
    if not calibration:
        return None
    if not calibration["applied"]:
        return f"Calibration: not applied; {calibration['reason']}."
    before, after = calibration["before"], calibration["after"] or {}
    change = ", ".join(
        f"{name} {before[name]:.4f} -> {after[name]:.4f}" for name in ("log_loss", "ece") if name in after
    )
    return f"Calibration: {calibration['method']}, because {calibration['reason']}; test {change}."


def leakage_line(metrics: dict[str, Any]) -> str | None:
    """The leakage screen's result in one line, or None when the screen did not run."""
    leakage = metrics.get("leakage")
    if not leakage:
        return None
    flags = leakage["flags"]
    if not flags:
        return f"Leakage screen: nothing flagged ({len(leakage['scores'])} features screened)."
    named = ", ".join(f"`{flag['feature']}` ({flag['why']})" for flag in flags)
    return f"Possible leakage: {named}; see reports/REPORT.md."


def calibration_section(out: Outputs, figure: list[str]) -> list[str]:
    """The verdict, the test-split figures before and after, and the reliability diagram."""
    calibration = out.metrics["calibration"]
    lines = [f"- {calibration_line(out.metrics)}"]
    if after := calibration.get("after"):
        lines += [
            "",
            "| metric (test split) | before calibration | served (calibrated) |",
            "|---|---:|---:|",
        ]
        lines += [
            f"| {name}{' (lower is better)' if not out.greater_is_better.get(name, False) else ''} "
            f"| {value:.4f} | {after[name]:.4f} |"
            for name, value in calibration["before"].items()
            if name in after
        ]
    guessing = out.guessing.get("log_loss")
    if isinstance(guessing, float):
        lines += ["", f"Guessing the class priors scores a test log loss of {guessing:.4f}."]
    return [*lines, "", *figure]


def leakage_section(out: Outputs) -> list[str]:
    """The flagged features with what the screen saw and a question, or what it checked."""
    leakage = out.metrics["leakage"]
    flags = out.leakage_flags
    if not flags:
        scores = leakage["scores"]
        best = max(scores, key=lambda f: scores[f] * (1 if out.greater_is_better[leakage["metric"]] else -1))
        return [
            f"None flagged. No feature alone reaches {leakage['share']:.0%} of the model's lift over "
            f"guessing on {leakage['metric']} (the best alone: `{best}`, {scores[best]:.4f}, against "
            f"{leakage['model_score']:.4f} for the model), and none looks like an id."
        ]
    lines = ["| feature | what the screen saw | question |", "|---|---|---|"]
    lines += [f"| `{flag['feature']}` | {flag['why']} | {flag['question']} |" for flag in flags]
    return [*lines, "", f"Thresholds: `evaluate.leakage` in params.yaml (share {leakage['share']})."]


def _figures(
    paths: Paths, relative_to: Path, only: tuple[str, ...] = (), leave_out: tuple[str, ...] = ()
) -> list[str]:
    if not paths.figures.is_dir():
        return []
    return [
        f"![{p.stem.replace('_', ' ')}]({p.relative_to(relative_to).as_posix()})"
        for p in sorted(paths.figures.glob("*.png"))
        if (not only or p.name in only) and p.name not in leave_out
    ]


def headline(out: Outputs) -> str:
    """One sentence: the served model, its primary test score, the other candidate's and guessing's."""
    primary, metrics = out.primary, out.metrics
    model = metrics.get(primary)
    sentence = f"The {out.family} (served) scores {primary} = {_fmt(model)} on the held-out test split"
    if (runner := out.runner_up) and isinstance(model, float) and isinstance(runner[1].get(primary), float):
        other = runner[1][primary]
        verdict = {"better": "beating", "worse": "behind", "tie": "level with"}[
            compare(model, other, out.greater_is_better[primary])
        ]
        sentence += f", {verdict} the {display_name(runner[0])} ({_fmt(other)})"
    if isinstance(guess := out.guessing.get(primary), float):
        sentence += f"; guessing scores {_fmt(guess)}"
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
    model = metrics.get(primary)
    std = metrics.get(f"cv_{primary}_std") or 0.0
    guess = out.guessing.get(primary)
    if (
        isinstance(model, float)
        and isinstance(guess, float)
        and compare(model, guess, out.greater_is_better[primary]) != "better"
    ):
        questions.append(
            f"The served model does not beat guessing on the test {primary} ({model:.4f} vs "
            f"{guess:.4f}): do the features carry signal about the target at all?"
        )
    if (runner := out.runner_up) and isinstance(model, float) and isinstance(runner[1].get(primary), float):
        name, other = display_name(runner[0]), runner[1][primary]
        verdict = compare(model, other, out.greater_is_better[primary])
        if verdict == "worse":
            questions.append(
                f"The {name} beats the served {out.family} on the test {primary} ({other:.4f} vs "
                f"{model:.4f}) although cross-validation chose the {out.family}: with "
                f"{metrics.get('test_rows')} test rows, is the test estimate too noisy to decide?"
            )
        elif verdict == "tie":
            questions.append(
                f"The {out.family} and the {name} tie on the test {primary} ({model:.4f}): would a "
                "harder or larger test set separate them?"
            )
        elif abs(model - other) <= std:
            questions.append(
                f"The {out.family} and the {name} differ by less than one CV standard deviation on "
                f"{primary} ({abs(model - other):.4f} vs {std:.4f}): is the difference real?"
            )
    if std > 0.05:
        questions.append(
            f"The cross-validation spread of {primary} is wide (± {std:.4f}): would more data, or a "
            "simpler model, make the results steadier?"
        )
    if flagged := [f"`{flag['feature']}`" for flag in out.leakage_flags]:
        questions.append(
            f"The leakage screen flags {', '.join(flagged)}: "
            "would the model hold up without them (drop them in params.yaml, clean.drop_columns)?"
        )
    elif primary in ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "r2") and model == 1.0:
        questions.append(
            f"The test {primary} is perfect and no single feature explains it: is the task easy, or "
            "does a combination of features leak the target?"
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
        predictions = [_float(r, "predicted") for r in out.residuals]
        spread = [abs(_float(r, "residual")) for r in out.residuals]
        if _correlation(predictions, spread) > 0.3:
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
    reliability = _figures(paths, paths.reports, only=(Figures.RELIABILITY,))
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
            "## Served model, other candidates and guessing",
            "",
            comparison_table(out.metrics, out.greater_is_better),
            "",
            "## Cross-validation (training split)",
            "",
            cv_table(out.metrics),
            "",
            "## Which model is served, and why",
            "",
            *selection_lines(out),
            "",
            *(
                ["## Calibration", "", *calibration_section(out, reliability), ""]
                if out.metrics.get("calibration")
                else []
            ),
            *(["## Possible leakage", "", *leakage_section(out), ""] if out.metrics.get("leakage") else []),
            "## Model",
            "",
            *model_section(out),
            "",
            "## Figures",
            "",
            *_figures(paths, paths.reports, leave_out=(Figures.RELIABILITY,)),
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
            # The first letter only: capitalize() would lower the rest ("PyTorch MLP" -> "Pytorch mlp").
            f"- {out.family[:1].upper()}{out.family[1:]} (`{card.model_family}`), a scikit-learn pipeline that "
            "prepares each group of columns as below (read from the fitted pipeline), then fits the model:",
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
            *[
                f"- {line}"
                for line in (selection_line(metrics), calibration_line(metrics), leakage_line(metrics))
                if line
            ],
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
            *[
                f"- {line}"
                for line in (
                    selection_line(out.metrics),
                    calibration_line(out.metrics),
                    leakage_line(out.metrics),
                )
                if line
            ],
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
