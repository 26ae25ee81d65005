"""The image project's params.yaml, read into one typed, frozen model.

Every stage reads its settings from here, never from the YAML directly, so a typo in params.yaml
fails at once with the key to fix instead of somewhere inside a stage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..config import Paths, read_params


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ImageDataParams(_Frozen):
    """Where the images come from (collect)."""

    name: str = Field(default="images", pattern=r"^[A-Za-z0-9_.-]+$")
    source: Literal["digits", "url", "local"] = "digits"
    url: str | None = None  # source url: a .zip, .tar, .tar.gz or .tgz of class folders
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    path: str | None = None  # source local: the folder of class folders, relative to the project
    timeout_seconds: float = Field(default=30.0, gt=0)
    retries: int = Field(default=3, ge=0)

    @model_validator(mode="after")
    def _source_has_location(self) -> ImageDataParams:
        if self.source == "url" and not self.url:
            raise ValueError("data.source is 'url' but data.url is empty; set it to the archive's URL")
        if self.source == "local" and not self.path:
            raise ValueError("data.source is 'local' but data.path is empty; set it to your image folder")
        return self


class ImageCleanParams(_Frozen):
    """What clean quarantines: images too small, and classes with too few images."""

    min_width: int = Field(default=8, ge=1)
    min_height: int = Field(default=8, ge=1)
    min_per_class: int = Field(default=10, ge=2)
    max_pixels: int = Field(default=50_000_000, ge=1)  # larger images are refused (decompression bombs)


class ImageSplitParams(_Frozen):
    """The seeded, stratified split (featurize)."""

    test_size: float = Field(default=0.2, gt=0, lt=1)
    val_size: float = Field(default=0.15, gt=0, lt=1)  # share of the rest, for early stopping
    seed: int = 42


class ImageShapeParams(_Frozen):
    """What every image becomes before the network sees it, in training and in serving alike."""

    size: int = Field(default=16, ge=4, le=512)  # width and height after resizing
    channels: Literal[1, 3] = 1  # 1: grayscale (Pillow mode L), 3: RGB

    @field_validator("size")
    @classmethod
    def _poolable(cls, value: int) -> int:
        if value % 4:
            raise ValueError(
                f"must be a multiple of 4 (the CNN halves it twice), e.g. {value - value % 4 or 4}"
            )
        return value


class ImageTrainParams(_Frozen):
    """The CNN's training loop and the baseline beside it."""

    seed: int = 42
    epochs: int = Field(default=30, ge=1)
    batch_size: int = Field(default=64, ge=1)
    learning_rate: float = Field(default=0.003, gt=0)
    patience: int = Field(default=5, ge=1)  # epochs without a better validation loss before stopping
    width: int = Field(default=16, ge=4)  # filters of the first convolution (the second has twice as many)
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: cuda when available, else the CPU
    primary_metric: Literal["accuracy", "f1_macro"] = "f1_macro"
    baseline_size: int = Field(default=8, ge=2)  # the logistic-regression baseline sees size x size pixels


class ImageExportParams(_Frozen):
    """The ONNX export and the parity check that gates registration."""

    opset: int = Field(default=18, ge=18)
    atol: float = Field(default=1e-4, gt=0)  # largest allowed difference between torch and ONNX Runtime
    batch_sizes: list[int] = Field(default_factory=lambda: [1, 7, 64], min_length=1)


class ImageEvaluateParams(_Frozen):
    """What evaluate writes beside the metrics."""

    gallery_max: int = Field(default=16, ge=0)  # misclassified test images shown in REPORT.md


class ImageParams(_Frozen):
    """Everything in params.yaml of an image project."""

    project: str
    modality: Literal["image"] = "image"
    data: ImageDataParams = ImageDataParams()
    clean: ImageCleanParams = ImageCleanParams()
    split: ImageSplitParams = ImageSplitParams()
    image: ImageShapeParams = ImageShapeParams()
    train: ImageTrainParams = ImageTrainParams()
    export: ImageExportParams = ImageExportParams()
    evaluate: ImageEvaluateParams = ImageEvaluateParams()


def load_image_params(path: Path) -> ImageParams:
    """Read and validate params.yaml; a bad value raises ConfigError naming the key to fix."""
    return read_params(path, ImageParams)


class ImagePaths:
    """The files the image stages pass to each other (the contract dvc.yaml declares)."""

    def __init__(self, paths: Paths) -> None:
        self.base = paths

    @property
    def root(self) -> Path:
        return self.base.root

    @property
    def raw_images(self) -> Path:
        return self.base.raw / "images"

    @property
    def raw_metadata(self) -> Path:
        return self.base.raw_metadata

    @property
    def clean_index(self) -> Path:
        return self.base.interim / "images.csv"

    @property
    def quarantine(self) -> Path:
        return self.base.interim / "quarantine.csv"

    @property
    def data_quality(self) -> Path:
        return self.base.data_quality

    @property
    def split(self) -> Path:
        return self.base.processed / "split.csv"

    @property
    def arrays(self) -> Path:
        return self.base.processed / "arrays.npz"

    @property
    def onnx(self) -> Path:
        return self.base.onnx

    @property
    def model_card(self) -> Path:
        return self.base.model_card_json

    @property
    def training_results(self) -> Path:
        return self.base.training_results

    @property
    def metrics(self) -> Path:
        return self.base.metrics

    @property
    def figures(self) -> Path:
        return self.base.figures

    @property
    def plots(self) -> Path:
        return self.base.plots

    @property
    def gallery(self) -> Path:
        return self.base.figures / "misclassified"

    @property
    def reports(self) -> Path:
        return self.base.reports

    @property
    def readme(self) -> Path:
        return self.base.readme
