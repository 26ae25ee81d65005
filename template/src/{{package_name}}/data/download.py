"""Downloading a file over HTTP(S): a timeout, retries with backoff, a checksum and an atomic write.

Any source that fetches over the network (`sources/url.py`, or one you add) uses `download`, so
a flaky server, a truncated body or a changed file fails the same clear way everywhere.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import sys
import time
import urllib.error
import urllib.request
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from .io import atomic_path
from .sources import CHUNK_BYTES, CollectError, check_sha256

log = logging.getLogger(__name__)

PROGRESS_MIN_BYTES = 1 << 20
USER_AGENT = "mlfolio-collect/1.0"
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 30.0


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


def _http_only_opener() -> urllib.request.OpenerDirector:
    """urllib's usual opener without its file:, ftp: and data: handlers.

    `download` accepts only HTTP(S) URLs; this opener keeps a redirect from leading anywhere else
    (urllib's default one follows a redirect to ftp:, and reads file: URLs from the local disk).
    """
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.UnknownHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    opener.addheaders = [("User-Agent", USER_AGENT)]
    return opener


def _download_once(url: str, tmp: Path, timeout: float) -> str:
    """One GET of `url` into `tmp`; returns the sha256 of the bytes received."""
    digest = hashlib.sha256()
    received = 0
    with _http_only_opener().open(url, timeout=timeout) as response, tmp.open("wb") as out:
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
                check_sha256(digest, expected_sha256, url)
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
