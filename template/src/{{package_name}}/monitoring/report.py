"""reports/monitoring.json, and reports/MONITORING.md with one plot per drifted feature."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..data.io import write_json
from .drift import Check, DriftResult


def _plot(check: Check, path: Path) -> None:
    """Reference and window shares side by side, bin by bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    positions = np.arange(len(check.bins))
    figure, axes = plt.subplots(figsize=(7, 3.5))
    axes.bar(positions - 0.2, check.reference_shares, width=0.4, label="training reference")
    axes.bar(positions + 0.2, check.window_shares, width=0.4, label="window")
    axes.set_xticks(positions, check.bins, rotation=45, ha="right", fontsize=8)
    axes.set_ylabel("share of rows")
    axes.set_title(f"{check.name}: {'; '.join(check.reasons)}", fontsize=9)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)


def _row(check: Check) -> str:
    ks = f"{check.ks_p:.2g}" if check.ks_p is not None else "-"
    status = "**drift**: " + "; ".join(check.reasons) if check.drifted else "ok"
    return (
        f"| {check.name} | {check.kind} | {check.psi:.3f} | {check.psi_threshold:.3f} | {ks} | "
        f"{check.missing:.1%} | {check.out_of_range:.1%} | {status} |"
    )


def write_report(
    result: DriftResult, source: str, model: dict[str, Any], json_path: Path, md_path: Path, figures: Path
) -> None:
    """Write the JSON (for CI and scripts) and the Markdown report (for people), plots included."""
    checks = [*result.features, *([result.prediction] if result.prediction else [])]
    for stale in figures.glob("*.png") if figures.is_dir() else []:
        stale.unlink()
    plots = {}
    for check in checks:
        if check.drifted:
            plots[check.name] = figures / (re.sub(r"[^\w.-]", "_", check.name) + ".png")
            _plot(check, plots[check.name])
    write_json(
        json_path,
        {
            "verdict": result.verdict(),
            "drift": result.drifted,
            "drifted_features": result.drifted_features,
            "prediction_drift": bool(result.prediction and result.prediction.drifted),
            "rows": result.rows,
            "source": source,
            "model": model,
            "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "alpha_per_check": result.alpha_per_check,
            "features": {c.name: c.model_dump(exclude={"name"}) for c in result.features},
            "prediction": result.prediction.model_dump(exclude={"name"}) if result.prediction else None,
            "skipped": result.skipped,
        },
    )
    lines = [
        "# Monitoring",
        "",
        f"**{result.verdict()}**",
        "",
        f"Window: {source}. Model: {model.get('name')} version {model.get('version') or '-'}. "
        f"Each check is at significance {result.alpha_per_check:.2g} (monitor.alpha split across the "
        "checks); the PSI threshold is monitor.psi or the noise floor of a window this size, whichever "
        "is higher.",
        "",
        "| check | kind | PSI | PSI threshold | KS p | missing | out of range | verdict |",
        "|---|---|---|---|---|---|---|---|",
        *(_row(check) for check in checks),
    ]
    if result.skipped:
        lines += ["", "Not checked: " + "; ".join(f"{k} ({v})" for k, v in result.skipped.items()) + "."]
    for name, path in plots.items():
        lines += ["", f"## {name}", "", f"![{name}]({path.relative_to(md_path.parent).as_posix()})"]
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
