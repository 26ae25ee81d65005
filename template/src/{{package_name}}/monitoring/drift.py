"""Drift of a window of rows against the training reference: PSI, KS, missing and out-of-range shares.

Small windows are the hard part. The PSI of a window of n rows drawn from the training distribution
itself is not 0: n_eff * PSI is about chi-square with (bins - 1) degrees of freedom, where
1/n_eff = 1/n + 1/N (N training rows), so a fixed threshold of 0.2 is crossed by pure noise at
n = 100 with ten bins. A feature therefore counts as drifted on PSI only when its PSI passes both
`monitor.psi` (a change large enough to matter) and that noise floor at significance alpha / m
(Bonferroni over the m checks of a window). A numeric feature also needs the KS test to reject at
the same alpha / m: PSI says how large the change is, KS that it is not chance.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict
from scipy import stats

from ..config import MonitorParams
from .reference import CategoricalProfile, NumericProfile, Reference

PSI_FLOOR = 1e-4  # an empty bin counts as this share: ln(0) is undefined, and one bin must not dominate
PREDICTION = "prediction"


def psi(expected: npt.ArrayLike, actual: npt.ArrayLike) -> float:
    """Population stability index: sum over bins of (actual - expected) * ln(actual / expected)."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), PSI_FLOOR)
    a = np.maximum(np.asarray(actual, dtype=np.float64), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_noise_floor(bins: int, rows: int, reference_rows: int, alpha: float) -> float:
    """The PSI that sampling noise alone exceeds with probability `alpha` (chi-square approximation)."""
    if bins < 2 or rows == 0:
        return 0.0
    return float(stats.chi2.ppf(1 - alpha, bins - 1) * (1 / rows + 1 / max(reference_rows, 1)))


class Check(BaseModel):
    """One feature's (or the predictions') figures against the reference, and whether it drifted."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: Literal["numeric", "categorical"]
    rows: int
    psi: float
    psi_threshold: float  # max(monitor.psi, the noise floor for a window this size)
    ks_statistic: float | None = None
    ks_p: float | None = None
    missing: float
    missing_reference: float
    out_of_range: float  # numbers outside the plausible range, or categories never seen in training
    bins: list[str]
    reference_shares: list[float]
    window_shares: list[float]
    reasons: list[str]

    @property
    def drifted(self) -> bool:
        return bool(self.reasons)


def _reasons(check: dict[str, float], alpha: float, params: MonitorParams, numeric: bool) -> list[str]:
    reasons = []
    psi_drift = check["psi"] > check["psi_threshold"]
    if numeric and psi_drift and check["ks_p"] < alpha:
        reasons.append(f"PSI {check['psi']:.3f} > {check['psi_threshold']:.3f} and KS p={check['ks_p']:.2g}")
    elif not numeric and psi_drift:
        reasons.append(f"PSI {check['psi']:.3f} > {check['psi_threshold']:.3f}")
    if check["missing"] - check["missing_reference"] > params.missing_increase:
        reasons.append(f"missing {check['missing']:.1%} (training {check['missing_reference']:.1%})")
    if check["out_of_range"] > params.out_of_range:
        what = "outside the training range" if numeric else "categories unseen in training"
        reasons.append(f"{check['out_of_range']:.1%} {what}")
    return reasons


def _edges_labels(edges: list[float]) -> list[str]:
    bounds = ["-inf", *(f"{e:.4g}" for e in edges), "inf"]
    return [f"({low}, {high}]" for low, high in pairwise(bounds)]


def check_numeric(
    name: str, profile: NumericProfile, values: pd.Series, alpha: float, params: MonitorParams
) -> Check:
    """PSI over the reference's quantile bins, the two-sample KS test, missing and out-of-range shares."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    present = numbers[~np.isnan(numbers)]
    shares = profile.bin_shares(present)
    figures = {
        "psi": psi(profile.shares, shares),
        "psi_threshold": max(
            params.psi, psi_noise_floor(len(profile.shares), len(present), profile.rows, alpha)
        ),
        "missing": float(1 - len(present) / len(numbers)) if len(numbers) else 0.0,
        "missing_reference": profile.missing,
        "out_of_range": 0.0,
        "ks_p": 1.0,
        "ks_statistic": 0.0,
    }
    if len(present):
        result = stats.ks_2samp(profile.sample, present)
        figures["ks_statistic"], figures["ks_p"] = float(result.statistic), float(result.pvalue)
        low = -np.inf if profile.minimum is None else profile.minimum
        high = np.inf if profile.maximum is None else profile.maximum
        figures["out_of_range"] = float(np.mean((present < low) | (present > high)))
    return Check(
        name=name,
        kind="numeric",
        rows=len(numbers),
        bins=_edges_labels(profile.edges),
        reference_shares=profile.shares,
        window_shares=[float(s) for s in shares],
        reasons=_reasons(figures, alpha, params, numeric=True),
        **figures,
    )


def check_categorical(
    name: str, profile: CategoricalProfile, values: pd.Series, alpha: float, params: MonitorParams
) -> Check:
    """PSI over the training categories (plus one bin for unseen ones), missing and unseen shares."""
    present = profile.labels(values)
    known = list(profile.shares)
    counts = present.value_counts()
    window = np.array([counts.get(c, 0) for c in known], dtype=np.float64)
    unseen = float(len(present) - window.sum())
    n = max(len(present), 1)
    reference = [*profile.shares.values(), 0.0]
    shares = [*(window / n), unseen / n]
    figures = {
        "psi": psi(reference, shares),
        "psi_threshold": max(params.psi, psi_noise_floor(len(known), len(present), profile.rows, alpha)),
        "missing": float(1 - len(present) / len(values)) if len(values) else 0.0,
        "missing_reference": profile.missing,
        "out_of_range": unseen / n,
    }
    return Check(
        name=name,
        kind="categorical",
        rows=len(values),
        bins=[*known, "(unseen)"],
        reference_shares=reference,
        window_shares=[float(s) for s in shares],
        reasons=_reasons(figures, alpha, params, numeric=False),
        **figures,
    )


def check(
    name: str,
    profile: NumericProfile | CategoricalProfile,
    values: pd.Series,
    alpha: float,
    params: MonitorParams,
) -> Check:
    """The checks that fit the profile's kind."""
    if isinstance(profile, NumericProfile):
        return check_numeric(name, profile, values, alpha, params)
    return check_categorical(name, profile, values, alpha, params)


class DriftResult(BaseModel):
    """Every check of one window, and the verdict."""

    rows: int
    alpha_per_check: float
    features: list[Check]
    prediction: Check | None
    skipped: dict[str, str]  # feature -> why it was not checked (e.g. dropped from the log)

    @property
    def drifted_features(self) -> list[str]:
        return [c.name for c in self.features if c.drifted]

    @property
    def drifted(self) -> bool:
        return bool(self.drifted_features) or bool(self.prediction and self.prediction.drifted)

    def verdict(self) -> str:
        """One line: what drifted, over how many rows."""
        where = [*self.drifted_features]
        if self.prediction and self.prediction.drifted:
            where.append("the predictions")
        checked = (
            f"{len(self.features)} features and the predictions"
            if self.prediction
            else (f"{len(self.features)} features")
        )
        if where:
            return f"drift in {', '.join(where)} ({self.rows} rows checked against the training reference)"
        return f"no drift in {checked} ({self.rows} rows checked against the training reference)"


def detect(
    reference: Reference, frame: pd.DataFrame, predictions: pd.Series | None, params: MonitorParams
) -> DriftResult:
    """Check each reference feature present in `frame`, and the predictions when given."""
    checked = [name for name in reference.features if name in frame.columns]
    skipped = {
        name: "not in the window's columns" for name in reference.features if name not in frame.columns
    }
    alpha = params.alpha / max(len(checked) + (predictions is not None), 1)
    features = [check(name, reference.features[name], frame[name], alpha, params) for name in checked]
    prediction = None
    if predictions is not None:
        prediction = check(PREDICTION, reference.prediction, predictions, alpha, params)
    return DriftResult(
        rows=len(frame), alpha_per_check=alpha, features=features, prediction=prediction, skipped=skipped
    )
