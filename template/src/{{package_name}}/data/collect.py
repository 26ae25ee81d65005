"""The collect stage: bring the raw data into `data/raw/` and record where it came from.

Sources (params.yaml `data.source`):
- `snapshot`: a CSV that ships inside this package (the penguins data), checked against its sha256;
- `sklearn`: one of scikit-learn's bundled datasets (breast_cancer, wine, diabetes);
- `url`: an HTTP(S) download with a timeout, retries with backoff and an optional sha256;
- `local`: a CSV file on this machine.

Every source writes `data/raw/<name>.csv` and `data/raw/metadata.json`. Both are written into a
staging folder that replaces `data/raw/` only once the file has been checked and read back, so a
failed download, a checksum mismatch or an unreadable file leaves `data/raw/` as it was.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import shutil
import sys
import time
import urllib.error
import urllib.request
from contextlib import nullcontext
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from ..config import DataParams, Paths
from .io import (
    GZIP_MAGIC,
    DataError,
    atomic_dir,
    atomic_path,
    read_csv,
    sha256_file,
    write_json,
)

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 16
PROGRESS_MIN_BYTES = 1 << 20
USER_AGENT = "mlfolio-collect/1.0"
SKLEARN_DATASETS = ("breast_cancer", "wine", "diabetes")
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 30.0


class CollectError(DataError):
    """The data could not be collected; the message says why and what to do."""


def _check_sha256(actual: str, expected: str | None, what: str) -> None:
    if expected and actual != expected:
        raise CollectError(
            f"sha256 mismatch for {what}: expected {expected}, got {actual}. The file changed or "
            "the download was corrupted; check the source, or set data.sha256 in params.yaml to "
            "the new value if the change is intended."
        )


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def _gunzip(source: Path, target: Path) -> None:
    try:
        with gzip.open(source, "rb") as packed, target.open("wb") as out:
            shutil.copyfileobj(packed, out, CHUNK_BYTES)
    except (OSError, EOFError) as exc:
        raise CollectError(f"{source} is a damaged gzip file ({exc}); fetch it again.") from exc


def _store(source: Path, target: Path) -> dict[str, Any]:
    """Put `source` at `target` as plain CSV (gzip is unpacked); the sha256 is of `source`'s bytes."""
    digest = sha256_file(source)
    if _is_gzip(source):
        _gunzip(source, target)
        return {"sha256": digest, "compression": "gzip"}
    shutil.copyfile(source, target)
    return {"sha256": digest}


def collect_snapshot(params: DataParams, target: Path) -> dict[str, Any]:
    """Copy the snapshot that ships with the package, checked against data.sha256."""
    snapshot = resources.files(__package__).joinpath("snapshots", f"{params.name}.csv")
    with resources.as_file(snapshot) as source:
        if not source.is_file():
            raise CollectError(
                f"no snapshot named {params.name}.csv ships with this package; set data.source "
                "in params.yaml to 'url' or 'local' and point it at your file."
            )
        record = _store(source, target)
    _check_sha256(record["sha256"], params.sha256, f"the {params.name} snapshot")
    return {
        "source": "snapshot",
        "location": params.url or f"package:{params.name}.csv",
        "url": params.url,
        "path": f"src/{(__package__ or '').replace('.', '/')}/snapshots/{params.name}.csv",
        **record,
    }


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
    frame.to_csv(target, index=False)
    return {
        "source": "sklearn",
        "location": f"sklearn.datasets.load_{params.name}",
        "sha256": sha256_file(target),
    }


def _progress(total: int | None) -> Any:
    """A rich progress bar on stderr for downloads over 1 MiB or of unknown size (None otherwise)."""
    if total is not None and total < PROGRESS_MIN_BYTES:
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("downloading {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    )


def _download_once(url: str, tmp: Path, timeout: float) -> str:
    """One GET of `url` into `tmp`; returns the sha256 of the bytes received."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    digest = hashlib.sha256()
    received = 0
    with urllib.request.urlopen(request, timeout=timeout) as response, tmp.open("wb") as out:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        progress = _progress(total)
        if total:
            log.info("downloading %s (%.1f MB)", url, total / 1e6)
        with progress or nullcontext():
            task = progress.add_task(url.rsplit("/", 1)[-1] or url, total=total) if progress else None
            while chunk := response.read(CHUNK_BYTES):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if progress is not None:
                    progress.update(task, advance=len(chunk))
    if total is not None and received != total:
        raise http.client.IncompleteRead(b"", total - received)
    return digest.hexdigest()


def _retry_after(error: urllib.error.HTTPError) -> float | None:
    value = error.headers.get("Retry-After") if error.headers else None
    return float(value) if value and value.strip().isdigit() else None


def download(url: str, target: Path, *, expected_sha256: str | None, timeout: float, retries: int) -> str:
    """Download `url` to `target` atomically and return its sha256.

    `timeout` is how long the server may stay silent (connecting or between bytes). Server errors
    (5xx, 408, 429), timeouts, dropped connections and truncated bodies are retried `retries` times
    with exponential backoff; other HTTP errors and a checksum mismatch fail at once. On any failure
    `target` is left as it was.
    """
    if not url.lower().startswith(("http://", "https://")):
        raise CollectError(f"'{url}' is not an HTTP(S) URL; set data.url in params.yaml.")
    attempts = retries + 1
    for attempt in range(1, attempts + 1):
        wait = min(0.5 * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
        try:
            with atomic_path(target) as tmp:
                digest = _download_once(url, tmp, timeout)
                _check_sha256(digest, expected_sha256, url)
            return digest
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRY_STATUS or attempt == attempts:
                advice = (
                    "the server kept failing; try again later"
                    if exc.code in RETRY_STATUS
                    else "check the URL (and that the file is public)"
                )
                raise CollectError(
                    f"download of {url} failed with HTTP {exc.code} {exc.reason} after {attempt} "
                    f"attempt(s); {advice}, then run the pipeline again."
                ) from exc
            reason = f"HTTP {exc.code}"
            wait = min(_retry_after(exc) or wait, MAX_BACKOFF_SECONDS)
        except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
            if attempt == attempts:
                detail = getattr(exc, "reason", None) or exc
                raise CollectError(
                    f"download of {url} failed after {attempts} attempt(s) ({type(exc).__name__}: "
                    f"{detail}); check your network and the URL, or raise data.timeout_seconds "
                    f"(now {timeout:g}) or data.retries in params.yaml."
                ) from exc
            reason = f"{type(exc).__name__}: {getattr(exc, 'reason', None) or exc}"
        log.warning("download attempt %d/%d failed (%s); retrying in %.1fs", attempt, attempts, reason, wait)
        time.sleep(wait)
    raise AssertionError("unreachable")


def collect_url(params: DataParams, target: Path) -> dict[str, Any]:
    """Download the CSV from data.url (a .gz download is unpacked; its sha256 is of the download)."""
    if not params.url:
        raise CollectError("data.source is 'url' but data.url is empty; set it in params.yaml.")
    download_path = target.with_name(target.name + ".download")
    digest = download(
        params.url,
        download_path,
        expected_sha256=params.sha256,
        timeout=params.timeout_seconds,
        retries=params.retries,
    )
    record = _store(download_path, target)
    download_path.unlink()
    return {"source": "url", "location": params.url, "url": params.url, **record, "sha256": digest}


def resolve_local_path(params: DataParams, root: Path) -> Path:
    """data.path as an absolute path (a relative path is relative to the project folder)."""
    if not params.path:
        raise CollectError("data.source is 'local' but data.path is empty; set it in params.yaml.")
    source = Path(params.path).expanduser()
    return source if source.is_absolute() else root / source


def collect_local(params: DataParams, target: Path, root: Path) -> dict[str, Any]:
    """Copy a CSV from this machine, checked against data.sha256 when it is set."""
    source = resolve_local_path(params, root)
    if not source.is_file():
        raise CollectError(
            f"{source} does not exist; set data.path in params.yaml to your CSV file "
            "(an absolute path, or a path relative to the project folder)."
        )
    record = _store(source, target)
    _check_sha256(record["sha256"], params.sha256, str(source))
    return {"source": "local", "location": str(source), "path": str(source), **record}


def collect(params: DataParams, paths: Paths) -> dict[str, Any]:
    """Run the collect stage: write the raw CSV and its metadata.json; return the metadata."""
    final_csv = paths.raw_csv(params.name)
    with atomic_dir(paths.raw) as staging:
        target = staging / final_csv.name
        if params.source == "snapshot":
            record = collect_snapshot(params, target)
        elif params.source == "sklearn":
            record = collect_sklearn(params, target)
        elif params.source == "url":
            record = collect_url(params, target)
        else:
            record = collect_local(params, target, paths.root)
        frame = read_csv(target, params.encoding, name=record["location"])  # fail now, not in the next stage
        metadata = {
            "source": record.pop("source"),
            "location": record.pop("location"),
            **{key: value for key, value in record.items() if value is not None},
            "file": final_csv.relative_to(paths.root).as_posix(),
            "bytes": target.stat().st_size,
            "encoding": frame.attrs["encoding"],
            "delimiter": frame.attrs["delimiter"],
            "rows": len(frame),
            "columns": len(frame.columns),
            "column_names": list(frame.columns),
            "collected_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        write_json(staging / paths.raw_metadata.name, metadata)
    log.info(
        "collected %d rows x %d columns from %s", metadata["rows"], metadata["columns"], metadata["location"]
    )
    return metadata
