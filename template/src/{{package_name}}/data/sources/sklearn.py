"""The `sklearn` source: one of scikit-learn's bundled datasets, written as CSV (no download)."""

from __future__ import annotations

from pathlib import Path

from ..io import sha256_file
from . import CollectError, Origin, Source

# The generated project's one list of built-in datasets besides the penguins snapshot.
SKLEARN_DATASETS = ("breast_cancer", "wine", "diabetes")


class SklearnSource(Source):
    """Write `sklearn.datasets.load_<data.name>()` as CSV, class labels as their names."""

    KIND = "sklearn"

    def fetch(self, target: Path) -> Origin:
        from sklearn import datasets

        name, column = self.data.name, self.data.target
        if name not in SKLEARN_DATASETS:
            raise CollectError(
                f"unknown scikit-learn dataset '{name}'; use one of {', '.join(SKLEARN_DATASETS)}."
            )
        bunch = getattr(datasets, f"load_{name}")(as_frame=True)
        frame = bunch.frame.rename(columns={"target": column})
        if self.data.task == "classification" and hasattr(bunch, "target_names"):
            names = list(bunch.target_names)
            frame[column] = frame[column].map(lambda code: str(names[int(code)]))
        frame.to_csv(target, index=False)
        return Origin(location=f"sklearn.datasets.load_{name}", sha256=sha256_file(target))
