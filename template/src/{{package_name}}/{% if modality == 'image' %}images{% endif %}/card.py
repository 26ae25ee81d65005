"""models/model.json of an image project: one typed model that the train stage writes and the API,
evaluate and report read (pydantic only, so the serving runtime can import it)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ..config import ConfigError


class ImageInput(BaseModel):
    """What the graph takes: `preprocess` output, (n, channels, size, size) float32 with values 0..255."""

    model_config = ConfigDict(frozen=True)

    size: int
    channels: int
    mode: str
    name: str = "pixels"
    output: str = "probabilities"


class ImageCard(BaseModel):
    """The served model: what it classifies, how it was trained and how well it did."""

    model_config = ConfigDict(frozen=True)

    name: str
    modality: str = "image"
    version: str | None = None  # the MLflow registry version (None when trained with --no-tracking)
    trained_at: str
    classes: list[str]
    input: ImageInput
    max_pixels: int
    primary_metric: str
    metrics: dict[str, float]  # the CNN on the test split
    baseline_metrics: dict[str, float]  # logistic regression on downscaled pixels, same split
    training: dict[str, float | int | str]
    history: list[dict[str, float]]
    parity: dict[str, float]  # batch size -> max |torch - onnxruntime|
    data: dict[str, int]
    mlflow: dict[str, str | None] = {}
    onnx_file: str = "model.onnx"


def read_card(path: Path) -> ImageCard:
    """Read models/model.json; a missing or foreign file raises ConfigError saying what to run."""
    try:
        return ImageCard.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path} not found; train a model first (`uv run dvc repro`).") from exc
    except ValueError as exc:
        raise ConfigError(
            f"{path} is not an image model card ({exc}); retrain with `uv run dvc repro`."
        ) from exc


def write_card(path: Path, card: ImageCard) -> None:
    """Write models/model.json atomically."""
    from ..data.io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
