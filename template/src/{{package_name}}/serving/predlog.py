"""The prediction log: what the API was asked and what it answered, for `monitor` (off by default).

Turn it on with PREDICTION_LOG=true. Each `POST /predict` becomes one JSON line: the time, the
request id, the model and version, the `predictions` and the `inputs` (one object per instance, in
the same order). Fields named in PREDICTION_LOG_DROP (comma-separated) are never written, for data
that must not be stored; the line then names them under `dropped`, so that `monitor` skips them
rather than counting them as missing.

The inputs are the request's own JSON, cut out of the body as it arrived (it has passed validation
by then), not the parsed rows encoded again: for a 100-instance request that is 0.06 ms of CPU
instead of 0.35 ms (a request takes about 2 ms), and in a server that holds the GIL, CPU spent on
the log is latency for the requests. So a value is logged as the client sent it: a number sent as
"39.1" stays a string, an omitted nullable feature is absent. `monitor` reads them the way it reads
a CSV file (numbers parsed, booleans in their usual spellings). Only when fields are dropped, or
the body cannot be cut safely (a key written with escapes, "instance" inside a value), are the
validated rows encoded instead.

A request only appends its record to a bounded in-memory queue; a background thread wakes every
FLUSH_SECONDS, writes everything waiting in one go, and gives the GIL back every SLICE_SECONDS
while it builds the lines, so that it never holds the event loop up for long. When the disk cannot
keep up and the queue is full, records are dropped and counted (a warning says how many), rather
than making requests wait or memory grow. Files are named `predictions-<UTC time>.jsonl`, so their
names sort by time; past PREDICTION_LOG_MAX_BYTES a new one starts, and only the newest
PREDICTION_LOG_FILES are kept.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from ..config import Settings

log = logging.getLogger(__name__)

FILE_PREFIX = "predictions-"
QUEUE_REQUESTS = 10_000  # requests' records waiting for the disk (the bodies: a few MB for 1-row requests)
FLUSH_SECONDS = 0.02  # how long a record may wait to be written: one wake-up per period, not per request
SLICE_SECONDS = 0.0002  # the writer gives the GIL back at least this often while it builds lines
_ENCODE = json.JSONEncoder(separators=(",", ":"), default=str).encode


def dropped_fields(spec: str) -> frozenset[str]:
    """The field names in PREDICTION_LOG_DROP ("email, name" -> {"email", "name"})."""
    return frozenset(name.strip() for name in spec.split(",") if name.strip())


def body_instances(body: bytes) -> bytes | None:
    """The JSON array of instances in a validated `/predict` body, cut out as sent, on one line.

    A validated body is an object with one key, "instances" (an array) or "instance" (an object,
    returned as an array of one). None when that cannot be cut out with certainty: "instance" must
    occur once only (a repeated key, or the word inside a value, would make the cut ambiguous).
    Newlines can only be whitespace between tokens in valid JSON, so replacing them is safe.
    """
    text = body.strip()
    if not (text.startswith(b"{") and text.endswith(b"}")) or text.count(b'"instance') != 1:
        return None
    inner = text[1:-1].strip()
    for key, single in ((b'"instances"', False), (b'"instance"', True)):
        if inner.startswith(key):
            rest = inner[len(key) :].lstrip()
            if not rest.startswith(b":"):
                return None
            value = rest[1:].strip().replace(b"\n", b" ").replace(b"\r", b" ")
            return b"[" + value + b"]" if single else value
    return None


@dataclass(frozen=True, slots=True)
class _Record:
    """One request, as the request handler hands it over: no encoding, no copying."""

    seconds: float  # time.time() when it was answered
    request_id: str | None
    model: str
    version: str | None
    body: bytes
    rows: list[dict[str, Any]] | None  # only when fields are dropped: otherwise the body is enough
    predictions: list[Any]


class PredictionLog:
    """A bounded queue of records and the thread that writes them to rotating JSON Lines files."""

    def __init__(
        self,
        folder: Path,
        drop: Iterable[str] = (),
        max_bytes: int = 50_000_000,
        files: int = 10,
        capacity: int = QUEUE_REQUESTS,
    ) -> None:
        self.folder = folder
        self.drop = frozenset(drop)
        self.max_bytes = max_bytes
        self.files = files
        self.capacity = capacity
        self.dropped = 0  # instances lost because the queue was full or the disk failed
        # deque.append and popleft are atomic: the request never takes a lock or wakes the writer.
        self._pending: deque[_Record | threading.Event | None] = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._handle: BinaryIO | None = None
        self._written = 0
        self._dropped_json = _ENCODE(sorted(self.drop)).encode()

    @classmethod
    def from_settings(cls, settings: Settings, default_folder: Path) -> PredictionLog | None:
        """The log the settings ask for, or None when PREDICTION_LOG is off."""
        if not settings.prediction_log:
            return None
        return cls(
            settings.prediction_log_dir or default_folder,
            dropped_fields(settings.prediction_log_drop),
            settings.prediction_log_max_bytes,
            settings.prediction_log_files,
        )

    def start(self) -> None:
        """Create the folder and start the writer thread (the app's lifespan calls this)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued and close the file (at shutdown)."""
        if self._thread is None:
            return
        self._pending.append(None)
        self._wake.set()
        self._thread.join()
        self._thread = None
        if self.dropped:
            log.warning("prediction log: %d records were dropped (the disk did not keep up)", self.dropped)

    def flush(self) -> None:
        """Wait until every record queued so far is written (for tests and benchmarks)."""
        if self._thread is None:
            return
        written = threading.Event()
        self._pending.append(written)
        self._wake.set()
        written.wait()

    def record(
        self,
        body: bytes,
        rows: list[dict[str, Any]],
        predictions: list[Any],
        model: str,
        version: str | None,
        request_id: str | None,
    ) -> None:
        """Queue a request's record: its raw body and its validated rows (used when fields are dropped).

        Never blocks: a full queue drops the record and counts its instances.
        """
        if len(self._pending) >= self.capacity:
            self.dropped += len(rows)
            return
        # Holding the rows (a dict per instance) until the next write would make the garbage collector
        # scan them again and again, which costs the event loop about as much as encoding them.
        kept = rows if self.drop else None
        self._pending.append(_Record(time.time(), request_id, model, version, body, kept, predictions))

    def _run(self) -> None:
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()  # before draining: a record queued from now on gets the next round
            records: list[_Record] = []
            waiting: list[threading.Event] = []
            stopping = False
            while self._pending:
                item = self._pending.popleft()
                if item is None:
                    stopping = True
                elif isinstance(item, threading.Event):
                    waiting.append(item)
                else:
                    records.append(item)
            if records:
                self._write(records)
            for event in waiting:
                event.set()
            if stopping:
                self._close()
                return

    def _line(self, record: _Record) -> bytes:
        """One JSON line; the inputs are the body's own bytes unless fields are dropped."""
        inputs = None if record.rows is not None else body_instances(record.body)
        if inputs is None:
            inputs = _ENCODE(self._rows(record)).encode()
        head = {
            "time": datetime.fromtimestamp(record.seconds, UTC).isoformat(timespec="milliseconds"),
            "request_id": record.request_id,
            "model": record.model,
            "version": record.version,
            "predictions": record.predictions,
        }
        dropped = b',"dropped":' + self._dropped_json if self.drop else b""
        return _ENCODE(head)[:-1].encode() + b',"inputs":' + inputs + dropped + b"}\n"

    def _rows(self, record: _Record) -> list[dict[str, Any]]:
        """The validated rows without the dropped fields (or, rarely, parsed again from the body)."""
        if record.rows is None:  # the body could not be cut safely: json.loads keeps the last of a key
            body = json.loads(record.body)
            return list(body["instances"]) if "instances" in body else [body["instance"]]
        drop = self.drop
        return [{k: v for k, v in row.items() if k not in drop} for row in record.rows]

    def _write(self, records: list[_Record]) -> None:
        lines = []
        slice_ends = time.perf_counter() + SLICE_SECONDS
        for record in records:
            lines.append(self._line(record))
            if time.perf_counter() > slice_ends:
                time.sleep(0)  # give the GIL back: the event loop may be waiting for it
                slice_ends = time.perf_counter() + SLICE_SECONDS
        data = b"".join(lines)
        try:
            handle = self._open()
            handle.write(data)
            handle.flush()
            self._written += len(data)
            if self._written >= self.max_bytes:
                self._close()
        except OSError:
            # The log must never take the API down: say so, count the loss, carry on.
            log.exception("prediction log: could not write %d requests to %s", len(records), self.folder)
            self.dropped += sum(len(r.predictions) for r in records)

    def _open(self) -> BinaryIO:
        if self._handle is None:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            self._handle = (self.folder / f"{FILE_PREFIX}{stamp}.jsonl").open("ab")
            self._written = 0
            for old in sorted(self.folder.glob(f"{FILE_PREFIX}*.jsonl"))[: -self.files]:
                old.unlink(missing_ok=True)
        return self._handle

    def _close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
