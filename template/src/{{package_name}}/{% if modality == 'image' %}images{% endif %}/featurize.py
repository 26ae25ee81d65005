"""featurize: the seeded, stratified split, and every clean image through `preprocess`.

Writes data/processed/split.csv (each image's split) and data/processed/arrays.npz (the network's
inputs per split, float32 (n, channels, size, size) with values 0..255, and the integer labels).
The arrays come from the same `preprocess` function that the API calls on an upload.
"""

from __future__ import annotations

import csv
import logging
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from ..data.io import DataError, atomic_path
from .clean import read_index
from .params import ImageParams, ImagePaths
from .preprocess import Shape, preprocess

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


def split_indices(labels: list[str], test_size: float, val_size: float, seed: int) -> dict[str, np.ndarray]:
    """Row indices per split, stratified by label: test first, then validation out of the rest."""
    index = np.arange(len(labels))
    try:
        rest, test = train_test_split(index, test_size=test_size, random_state=seed, stratify=labels)
        rest_labels = [labels[i] for i in rest]
        train, val = train_test_split(rest, test_size=val_size, random_state=seed, stratify=rest_labels)
    except ValueError as exc:
        raise DataError(
            f"cannot split {len(labels)} images into train, validation and test by class ({exc}); "
            "raise clean.min_per_class or lower split.test_size / split.val_size"
        ) from exc
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def run_featurize(params: ImageParams, paths: ImagePaths) -> dict[str, Any]:
    """Split the clean images (seeded, stratified) and turn each into the network's input."""
    rows = read_index(paths.clean_index)
    labels = [row["label"] for row in rows]
    classes = sorted(set(labels))
    shape = Shape(params.image.size, params.image.channels)
    pixels = np.stack(
        [
            preprocess((paths.raw_images / row["path"]).read_bytes(), shape, params.clean.max_pixels)
            for row in rows
        ]
    )
    targets = np.array([classes.index(label) for label in labels], dtype=np.int64)
    parts = split_indices(labels, params.split.test_size, params.split.val_size, params.split.seed)
    arrays: dict[str, np.ndarray] = {"classes": np.array(classes)}
    for name, index in parts.items():
        arrays[f"x_{name}"] = pixels[index]
        arrays[f"y_{name}"] = targets[index]
    with atomic_path(paths.arrays) as tmp, tmp.open("wb") as handle:
        np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]
    which = np.empty(len(rows), dtype=object)
    for name, index in parts.items():
        which[index] = name
    with atomic_path(paths.split) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "split"])
        writer.writerows([row["path"], row["label"], which[i]] for i, row in enumerate(rows))
    summary = {name: len(index) for name, index in parts.items()} | {"classes": len(classes)}
    log.info("split %d images: %s", len(rows), summary)
    return summary


def load_arrays(paths: ImagePaths) -> dict[str, np.ndarray]:
    """The arrays featurize wrote: x_/y_ for train, val and test, and the class names."""
    if not paths.arrays.is_file():
        raise DataError(f"{paths.arrays} does not exist; run `featurize` first (or `uv run dvc repro`).")
    with np.load(paths.arrays, allow_pickle=False) as bundle:
        return {key: bundle[key] for key in bundle.files}
