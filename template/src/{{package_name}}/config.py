"""Typed configuration: project paths, `params.yaml` and environment settings.

Every tunable number lives in `params.yaml` and is read here, once, into frozen pydantic models;
nothing else parses that file. Environment variables (see `.env.example`) override where things
run: the MLflow server, the model the API serves, the API key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PARAMS_FILE = "params.yaml"
# The files in models/: training writes them, the API reads them from MODEL_PATH (default models/).
MODEL_CARD_FILE = "model.json"
ONNX_FILE = "model.onnx"
SKOPS_FILE = "pipeline.skops"
REFERENCE_FILE = "reference.json"  # the drift reference (monitoring/reference.py)
ColumnKind = Literal["numeric", "categorical", "boolean", "datetime", "id", "drop"]
MissingPolicy = Literal["impute", "drop"]
Engine = Literal["pandas", "spark"]


class ConfigError(RuntimeError):
    """Raised when params.yaml or the environment is not usable; the message says how to fix it."""


ParamsModel = TypeVar("ParamsModel", bound=BaseModel)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataParams(_Frozen):
    """Where the raw data comes from and what to predict."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    source: str  # a module of data/sources/ (snapshot, sklearn, url, local, or one you add)
    url: str | None = None
    sha256: str | None = None
    path: str | None = None
    target: str
    task: Literal["classification", "regression"]
    encoding: str | None = None  # None: UTF-8 (a BOM is fine); set it for other encodings, e.g. cp1252
    timeout_seconds: float = Field(default=30.0, gt=0)
    retries: int = Field(default=3, ge=0)
    options: dict[str, Any] = Field(default_factory=dict)  # settings of a source you add (its Options)

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        # Imported here, not at the top: config imports nothing of the package when it is imported.
        from .data.sources import kinds, unknown_source_message

        if value not in kinds():
            raise ValueError(unknown_source_message(value))
        return value

    @model_validator(mode="after")
    def _options_fit_the_source(self) -> DataParams:
        from .data.sources import get

        get(self.source).check_options(self.options)
        return self

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if len(value) != 64 or any(c not in "0123456789abcdefABCDEF" for c in value):
            raise ValueError("must be the 64 hex characters that 'sha256sum FILE' prints, or empty")
        return value.lower()


class CleanParams(_Frozen):
    """How the schema is inferred and how rows are validated."""

    column_types: dict[str, ColumnKind] = Field(default_factory=dict)
    drop_columns: list[str] = Field(default_factory=list)
    missing_default: MissingPolicy = "impute"
    missing: dict[str, MissingPolicy] = Field(default_factory=dict)
    datetime_formats: dict[str, str] = Field(default_factory=dict)  # e.g. {when: "%d/%m/%Y"}
    max_categories: int = Field(default=50, ge=2)
    id_unique_ratio: float = Field(default=0.95, gt=0, le=1)
    numeric_parse_ratio: float = Field(default=0.9, gt=0, le=1)
    range_margin: float = Field(default=3.0, ge=0)
    drop_duplicates: bool = True


class SplitParams(_Frozen):
    """The train/test split."""

    test_size: float = Field(default=0.2, gt=0, lt=1)
    seed: int = 42


class TuningParams(_Frozen):
    """The optional Optuna search over the chosen family's hyperparameters."""

    enabled: bool = False
    n_trials: int = Field(default=20, ge=1)
    timeout_seconds: float | None = Field(default=None, gt=0)


class SelectionParams(_Frozen):
    """Which trained candidate is registered and served.

    `cv`: the candidate (train.model or the linear baseline) with the best cross-validated primary
    metric; when the other is within one standard error of that mean, the simpler one (linear)
    wins, because the data cannot tell them apart. `model`: always train.model, whatever the
    evidence (the report still shows it).
    """

    rule: Literal["cv", "model"] = "cv"


class CalibrationParams(_Frozen):
    """When and how a classifier's probabilities are calibrated before export.

    A classifier is calibrated when its log loss on held-out folds is worse than guessing the
    class priors, or its expected calibration error there is above `max_ece`. `method: auto` is
    isotonic from ISOTONIC_MIN_ROWS training rows up and sigmoid below, where isotonic overfits.
    """

    enabled: bool = True
    max_ece: float = Field(default=0.1, ge=0, le=1)
    method: Literal["auto", "sigmoid", "isotonic"] = "auto"


Hyperparameter = bool | int | float | str | None


class TrainParams(_Frozen):
    """The model family, its hyperparameters and how it is judged.

    Besides the settings below, `train:` holds one section of hyperparameters per model family,
    named after it (`train.random_forest`, ...). The families are the modules of the `families`
    package, so a key that is neither a setting nor a family is refused, naming both lists.
    """

    model_config = ConfigDict(frozen=True, extra="allow")
    __pydantic_extra__: dict[str, dict[str, Hyperparameter]] = Field(init=False)

    model: str = "random_forest"
    seed: int = 42
    cv_folds: int = Field(default=5, ge=2)
    primary_metric: str = "f1_macro"
    n_jobs: int = Field(default=-1, ge=-1)
    tuning: TuningParams = TuningParams()
    selection: SelectionParams = SelectionParams()
    calibration: CalibrationParams = CalibrationParams()

    def hyperparameters(self, task: str, family: str | None = None) -> dict[str, Hyperparameter]:
        """`family`'s defaults for `task` (the chosen model when omitted), overlaid with its section."""
        from .families import get

        name = family or self.model
        section: dict[str, Hyperparameter] = (self.model_extra or {}).get(name, {})
        return get(name).defaults_for(task) | section

    @model_validator(mode="before")
    @classmethod
    def _sections_are_families(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        unknown = sorted(str(key) for key in data if key not in cls.model_fields and not _is_family(str(key)))
        if unknown:
            raise ValueError(
                f"unknown key(s) {', '.join(unknown)}: a key under train: is a setting "
                f"({', '.join(cls.model_fields)}) or the hyperparameters of a model family "
                f"({', '.join(_family_names())}; each is a module in src/{__package__}/families/)"
            )
        return data

    @field_validator("model")
    @classmethod
    def _known_family(cls, value: str) -> str:
        if not _is_family(value):
            from .families import unknown_family_message

            raise ValueError(unknown_family_message(value))
        return value

    @field_validator("n_jobs")
    @classmethod
    def _jobs(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must be a number of cores (1, 2, ...) or -1 for all of them, not 0")
        return value


def _family_names() -> list[str]:
    # Imported here, not at the top: config imports nothing of the package when it is imported.
    from .families import names

    return names()


def _is_family(name: str) -> bool:
    return name in _family_names()


class ExportParams(_Frozen):
    """How the fitted pipeline is exported for serving."""

    onnx: bool = True
    label_agreement: float = Field(default=1.0, gt=0, le=1)
    proba_atol: float = Field(default=0.1, ge=0)
    regression_rtol: float = Field(default=1e-3, ge=0)


class LeakageParams(_Frozen):
    """The leakage and shortcut screen (training/leakage.py) and when it flags a feature."""

    share: float = Field(default=0.95, gt=0, le=1)
    tree_depth: int = Field(default=4, ge=1)
    max_rows: int = Field(default=20_000, ge=100)
    min_rows_for_id: int = Field(default=20, ge=2)


class EvaluateParams(_Frozen):
    """Evaluation settings."""

    permutation_repeats: int = Field(default=5, ge=1)
    importance_max_rows: int = Field(default=2000, ge=10)
    leakage: LeakageParams = LeakageParams()


class MonitorParams(_Frozen):
    """Drift monitoring (`monitor`): the reference's bins, the window and when a change counts as drift.

    The defaults raise no false alarm on windows of 100 rows drawn from the test split (tested with
    several seeds): a PSI counts only above both `psi` and what sampling noise gives a window that
    size, and KS tests share `alpha` across the features (Bonferroni). See monitoring/drift.py.
    """

    bins: int = Field(default=10, ge=2, le=100)
    window_rows: int = Field(default=1000, ge=1)
    min_rows: int = Field(default=50, ge=1)
    psi: float = Field(default=0.2, gt=0)
    alpha: float = Field(default=0.01, gt=0, lt=1)
    missing_increase: float = Field(default=0.1, ge=0, le=1)
    out_of_range: float = Field(default=0.05, ge=0, le=1)


class SparkParams(_Frozen):
    """The Spark engine's settings (engine: spark); SPARK_REMOTE or SPARK_MASTER override `master`."""

    master: str = "local[*]"
    driver_memory: str = Field(default="2g", pattern=r"^[0-9]+[kKmMgGtT]?$")
    shuffle_partitions: int = Field(default=8, ge=1)
    ui: bool = False
    schema_sample_rows: int = Field(default=100_000, ge=100)
    local_split_rows: int = Field(default=100_000, ge=0)
    train_max_rows: int = Field(default=1_000_000, ge=100)
    conf: dict[str, str | int | float | bool] = Field(default_factory=dict)


class Params(_Frozen):
    """Everything in params.yaml."""

    project: str
    engine: Engine = "pandas"
    data: DataParams
    clean: CleanParams = CleanParams()
    split: SplitParams = SplitParams()
    train: TrainParams = TrainParams()
    export: ExportParams = ExportParams()
    evaluate: EvaluateParams = EvaluateParams()
    monitor: MonitorParams = MonitorParams()
    spark: SparkParams = SparkParams()


def find_project_root(start: Path | None = None) -> Path:
    """The folder holding params.yaml: $PROJECT_ROOT, else the nearest one above `start` (cwd)."""
    if env_root := os.environ.get("PROJECT_ROOT"):
        return Path(env_root).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PARAMS_FILE).is_file():
            return folder
    raise ConfigError(
        f"no {PARAMS_FILE} found in {here} or any folder above it; run this command from inside "
        "the project, or set PROJECT_ROOT to the project folder."
    )


@dataclass(frozen=True)
class Paths:
    """Every path the project reads or writes, derived from the project root."""

    root: Path

    @property
    def params(self) -> Path:
        return self.root / PARAMS_FILE

    @property
    def raw(self) -> Path:
        return self.root / "data" / "raw"

    @property
    def interim(self) -> Path:
        return self.root / "data" / "interim"

    @property
    def processed(self) -> Path:
        return self.root / "data" / "processed"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def figures(self) -> Path:
        return self.reports / "figures"

    @property
    def plots(self) -> Path:
        return self.reports / "plots"

    @property
    def mlflow_db(self) -> Path:
        return self.root / "mlflow.db"

    @property
    def mlartifacts(self) -> Path:
        return self.root / "mlartifacts"

    @property
    def readme(self) -> Path:
        return self.root / "README.md"

    # Files passed between stages (the contract dvc.yaml declares).
    def raw_csv(self, name: str) -> Path:
        return self.raw / f"{name}.csv"

    @property
    def raw_metadata(self) -> Path:
        return self.raw / "metadata.json"

    @property
    def schema(self) -> Path:
        return self.interim / "schema.json"

    @property
    def clean(self) -> Path:
        return self.interim / "clean.parquet"

    @property
    def quarantine(self) -> Path:
        return self.interim / "quarantine.csv"

    @property
    def data_quality(self) -> Path:
        return self.reports / "data_quality.json"

    @property
    def train(self) -> Path:
        return self.processed / "train.parquet"

    @property
    def test(self) -> Path:
        return self.processed / "test.parquet"

    @property
    def features(self) -> Path:
        return self.processed / "features.json"

    @property
    def pipeline(self) -> Path:
        return self.models / SKOPS_FILE

    @property
    def onnx(self) -> Path:
        return self.models / ONNX_FILE

    @property
    def model_card_json(self) -> Path:
        return self.models / MODEL_CARD_FILE

    @property
    def training_results(self) -> Path:
        return self.reports / "training.json"

    @property
    def metrics(self) -> Path:
        return self.reports / "metrics.json"

    # After deployment: the API's prediction log, the drift reference and the monitoring report.
    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def reference(self) -> Path:
        return self.models / REFERENCE_FILE

    @property
    def monitoring_json(self) -> Path:
        return self.reports / "monitoring.json"

    @property
    def monitoring_md(self) -> Path:
        return self.reports / "MONITORING.md"

    @property
    def monitoring_figures(self) -> Path:
        return self.reports / "monitoring"


def get_paths(root: Path | None = None) -> Paths:
    """Paths for the project at `root` (found from the working directory when omitted)."""
    return Paths((root or find_project_root()).resolve())


def load_params(path: Path | None = None) -> Params:
    """Read and validate params.yaml; a bad value raises ConfigError naming the key to fix."""
    return read_params(path or get_paths().params, Params)


def read_params(path: Path, model: type[ParamsModel]) -> ParamsModel:
    """Read params.yaml at `path` and validate it as `model` (each modality has its own)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"{path} not found; run from the project folder.") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{path} has invalid values: {problems}") from exc


class Settings(BaseSettings):
    """Runtime settings from the environment (or a .env file in the working directory)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    mlflow_tracking_uri: str | None = None
    mlflow_experiment: str | None = None
    model_path: Path | None = None
    model_uri: str | None = None
    # None: the project's default, serving/defaults.toml (written from the template's api_auth answer).
    require_api_key: bool | None = None
    api_key: str | None = Field(default=None, repr=False)
    api_key_header: str = Field(default="X-API-Key", pattern=r"^[A-Za-z0-9-]+$")
    max_batch_size: int = Field(default=1000, ge=1)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    predict_timeout_seconds: float = Field(default=5.0, gt=0)
    log_level: str = "INFO"
    # The prediction log (serving/predlog.py): off unless PREDICTION_LOG=true.
    prediction_log: bool = False
    prediction_log_dir: Path | None = None  # None: logs/ in the project (or the working directory)
    prediction_log_drop: str = ""  # comma-separated input fields never written, e.g. "email,name"
    prediction_log_max_bytes: int = Field(default=50_000_000, ge=1024)  # a new file past this size
    prediction_log_files: int = Field(default=10, ge=1)  # rotated files kept; the oldest is deleted


def tracking_uri(paths: Paths, settings: Settings | None = None) -> str:
    """MLflow tracking URI: $MLFLOW_TRACKING_URI, else a SQLite file at an absolute path."""
    settings = settings or Settings()
    return settings.mlflow_tracking_uri or f"sqlite:///{paths.mlflow_db.as_posix()}"
