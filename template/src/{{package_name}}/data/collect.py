"""The collect stage: bring the raw data into `data/raw/` and record where it came from.

Sources (params.yaml `data.source`):
- `snapshot`: a CSV that ships inside this package (the penguins data), checked against its sha256;
- `sklearn`: one of scikit-learn's bundled datasets (breast_cancer, wine, diabetes);
- `url`: an HTTP(S) download with a timeout, retries with backoff and an optional sha256;
- `local`: a CSV file on this machine.

Every source writes `data/raw/<name>.csv` and `data/raw/metadata.json`, atomically.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from ..config import DataParams, Paths
from .io import DataError, atomic_path, read_csv, sha256_file, write_json

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 16
PROGRESS_MIN_BYTES = 1 << 20
USER_AGENT = "mlfolio-collect/1.0"
SKLEARN_DATASETS = ("breast_cancer", "wine", "diabetes")


class CollectError(DataError):
    """The data could not be collected; the message says why and what to do."""


def _check_sha256(actual: str, expected: str | None, what: str) -> None:
    if expected and actual != expected:
        raise CollectError(
            f"sha256 mismatch for {what}: expected {expected}, got {actual}. The file changed or "
            "the download was corrupted; check the source, or set data.sha256 in params.yaml to "
            "the new value if the change is intended."
        )


def _copy_file(source: Path, target: Path, expected_sha256: str | None) -> str:
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
        digest = sha256_file(tmp)
        _check_sha256(digest, expected_sha256, str(source))
    return digest


def collect_snapshot(params: DataParams, target: Path) -> dict[str, Any]:
    """Copy the snapshot that ships with the package."""
    snapshot = resources.files(__package__).joinpath("snapshots", f"{params.name}.csv")
    with resources.as_file(snapshot) as source:
        if not source.is_file():
            raise CollectError(
                f"no snapshot named {params.name}.csv ships with this package; set data.source "
                "in params.yaml to 'url' or 'local' and point it at your file."
            )
        digest = _copy_file(source, target, params.sha256)
    return {"source": "snapshot", "location": params.url or f"package:{params.name}.csv", "sha256": digest}


def collect_sklearn(params: DataParams, target: Path) -> dict[str, Any]:
    """Write one of scikit-learn's bundled datasets as CSV (class labels as names)."""
    from sklearn import datasets

    if params.name not in SKLEARN_DATASETS:
        raise CollectError(
            f"unknown scikit-learn dataset '{params.name}'; use one of {', '.join(SKLEARN_DATASETS)}."
        )
    bunch = getattr(datasets, f"load_{params.name}")(as_frame=True)
    frame = bunch.frame.rename(columns={"target": params.target})
    if params.task == "classification" and hasattr(bunch, "target_names"):
        names = list(bunch.target_names)
        frame[params.target] = frame[params.target].map(lambda code: str(names[int(code)]))
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, index=False)
    return {
        "source": "sklearn",
        "location": f"sklearn.datasets.load_{params.name}",
        "sha256": sha256_file(target),
    }


def _download_once(url: str, tmp: Path, timeout: float) -> str:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    digest = hashlib.sha256()
    with urllib.request.urlopen(request, timeout=timeout) as response, tmp.open("wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        progress = None
        if total >= PROGRESS_MIN_BYTES:
            from rich.progress import Progress

            progress = Progress(transient=True)
            progress.start()
            task = progress.add_task(f"downloading {url}", total=total)
        try:
            while chunk := response.read(CHUNK_BYTES):
                out.write(chunk)
                digest.update(chunk)
                if progress is not None:
                    progress.update(task, advance=len(chunk))
        finally:
            if progress is not None:
                progress.stop()
    return digest.hexdigest()


def download(url: str, target: Path, *, expected_sha256: str | None, timeout: float, retries: int) -> str:
    """Download `url` to `target` atomically; retry 5xx and connection errors with backoff."""
    if not url.lower().startswith(("http://", "https://")):
        raise CollectError(f"'{url}' is not an HTTP(S) URL; set data.url in params.yaml.")
    attempts = retries + 1
    for attempt in range(1, attempts + 1):
        try:
            with atomic_path(target) as tmp:
                digest = _download_once(url, tmp, timeout)
                _check_sha256(digest, expected_sha256, url)
            return digest
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == attempts:
                raise CollectError(
                    f"download of {url} failed with HTTP {exc.code} {exc.reason}; check the URL "
                    "(and that the file is public), then run the pipeline again."
                ) from exc
            reason = f"HTTP {exc.code}"
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            if isinstance(exc, CollectError):
                raise
            if attempt == attempts:
                raise CollectError(
                    f"download of {url} failed after {attempts} attempts ({exc}); check your "
                    "network and the URL, or raise data.timeout_seconds in params.yaml."
                ) from exc
            reason = str(exc)
        wait = min(2 ** (attempt - 1), 30) * 0.5
        log.warning("download attempt %d/%d failed (%s); retrying in %.1fs", attempt, attempts, reason, wait)
        time.sleep(wait)
    raise AssertionError("unreachable")


def collect_url(params: DataParams, target: Path) -> dict[str, Any]:
    """Download the CSV from data.url."""
    if not params.url:
        raise CollectError("data.source is 'url' but data.url is empty; set it in params.yaml.")
    digest = download(
        params.url,
        target,
        expected_sha256=params.sha256,
        timeout=params.timeout_seconds,
        retries=params.retries,
    )
    return {"source": "url", "location": params.url, "sha256": digest}


def collect_local(params: DataParams, target: Path, root: Path) -> dict[str, Any]:
    """Copy a CSV from this machine (a relative data.path is relative to the project)."""
    if not params.path:
        raise CollectError("data.source is 'local' but data.path is empty; set it in params.yaml.")
    source = Path(params.path).expanduser()
    source = source if source.is_absolute() else root / source
    if not source.is_file():
        raise CollectError(f"{source} does not exist; set data.path in params.yaml to your CSV file.")
    digest = _copy_file(source, target, params.sha256)
    return {"source": "local", "location": str(source), "sha256": digest}


def collect(params: DataParams, paths: Paths) -> dict[str, Any]:
    """Run the collect stage: write the raw CSV and its metadata.json; return the metadata."""
    target = paths.raw_csv(params.name)
    if params.source == "snapshot":
        record = collect_snapshot(params, target)
    elif params.source == "sklearn":
        record = collect_sklearn(params, target)
    elif params.source == "url":
        record = collect_url(params, target)
    else:
        record = collect_local(params, target, paths.root)
    try:
        frame = read_csv(target)
    except DataError:
        target.unlink(missing_ok=True)  # never leave a file the next stage cannot read
        raise
    metadata = {
        **record,
        "file": target.relative_to(paths.root).as_posix(),
        "rows": len(frame),
        "columns": len(frame.columns),
        "column_names": list(frame.columns),
        "collected_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json(paths.raw_metadata, metadata)
    log.info(
        "collected %d rows x %d columns from %s", metadata["rows"], metadata["columns"], record["location"]
    )
    return metadata
