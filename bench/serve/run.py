"""Benchmark the generated FastAPI service against `mlflow models serve` on the very same model.

    uv run python bench/serve/run.py                      # render, train, then benchmark
    uv run python bench/serve/run.py --project /path/p    # reuse a project whose pipeline has run

Both servers run from the project's own virtualenv, on 127.0.0.1, with the same worker count.
Every load run is bounded in time and in requests. What is measured (see README.md):
- throughput (requests/s) and latency (p50, p99) for 1-row and 100-row requests, at
  concurrency 1 and 8 (persistent HTTP/1.1 connections, one request in flight per connection);
- the in-process floor: the service's own predictor called directly, without HTTP;
- cold start: from starting the process to the first 200 from /health.
It ends with the ratios ours / mlflow serve and ours / floor, and checks the goals.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
PACKAGE = "penguin_species_classifier"
ROWS = (1, 100)
CONCURRENCY = (1, 8)

# Runs in the project's virtualenv: real test rows for the requests, and the in-process floor.
PROJECT_SNIPPET = """
import json, math, sys, time
from pathlib import Path
import pandas as pd
from {package}.serving.artifact import load_predictor, read_card

card = read_card(Path("models"))
names = [f.name for f in card.features]
test = pd.read_parquet("data/processed/test.parquet")[names]
rows = [
    {{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}}
    for row in json.loads(test.to_json(orient="records"))
]
rows = (rows * (100 // len(rows) + 1))[:100]
predictor = load_predictor(Path("models"), card)
floor = {{}}
for n in (1, 100):
    batch = rows[:n]
    for _ in range(50):
        predictor.predict(batch)
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < {seconds}:
        predictor.predict(batch)
        calls += 1
    elapsed = time.perf_counter() - started
    floor[str(n)] = {{"calls_per_s": calls / elapsed, "ms_per_call": 1000 * elapsed / calls}}
print(json.dumps({{"rows": rows, "floor": floor, "backend": predictor.backend,
                  "model_uri": card.mlflow.model_uri}}))
"""


@dataclass
class Result:
    server: str
    rows: int
    concurrency: int
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float  # server CPU time (all its processes) per request


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU time of a process and all its descendants (Linux /proc; 0 elsewhere).

    Unlike wall time, this barely moves when other work shares the machine, so it compares the two
    servers fairly even on a busy host.
    """
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    return sum(cpu.get(pid, 0.0) for pid in tree)


def clean_env(**extra: str) -> dict[str, str]:
    dropped = ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH")
    return {**{k: v for k, v in os.environ.items() if k not in dropped}, **extra}


def sh(cmd: list[str], cwd: Path, timeout: float = 1800) -> str:
    result = subprocess.run(
        cmd, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def prepare_project(path: Path | None, workdir: Path) -> Path:
    """The project to benchmark: the given one, or the default render with its pipeline run."""
    if path is not None:
        project = path.resolve()
        if not (project / "models" / "model.json").is_file():
            sys.exit(f"{project}/models/model.json not found: run 'uv run dvc repro' there first.")
        return project
    from copier import run_copy

    project = workdir / "project"
    print(f"rendering the default project into {project} ...", flush=True)
    run_copy(str(REPO), project, vcs_ref="HEAD", defaults=True, unsafe=True, quiet=True)
    print("uv sync, then dvc repro (trains the model: a few minutes) ...", flush=True)
    sh(["uv", "sync"], project)
    sh(["uv", "run", "dvc", "repro"], project)
    return project


def compile_bytecode(project: Path) -> None:
    """Byte-compile the project's virtualenv and sources, as the Dockerfile does at build time.

    Without it, a machine with PYTHONDONTWRITEBYTECODE set (CI images often have it) compiles every
    imported module from source at each start, and the cold starts measure the compiler.
    """
    python = project / ".venv" / "bin" / "python"
    site = sh(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], project
    )
    sh(
        [str(python), "-m", "compileall", "-q", "-j", "0", site.strip(), str(project / "src")],
        project,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """A server started from the project's virtualenv; `start()` returns its cold start."""

    def __init__(self, name: str, argv: list[str], project: Path, log: Path, env: dict[str, str]):
        self.name, self.argv, self.project, self.log, self.env = name, argv, project, log, env
        self.port = 0
        self.cold_cpu = 0.0
        self.process: subprocess.Popen[bytes] | None = None

    def cpu(self) -> float:
        return tree_cpu_seconds(self.process.pid) if self.process else 0.0

    def start(self, timeout: float = 120) -> float:
        """Seconds from starting the process to the first 200 from /health."""
        self.port = free_port()
        argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        with self.log.open("ab") as log:
            started = time.perf_counter()
            self.process = subprocess.Popen(
                argv, cwd=self.project, env=clean_env(**self.env), stdout=log, stderr=log
            )
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                sys.exit(f"{self.name} exited ({self.process.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/health", timeout=1) as r:
                    if r.status == 200:
                        self.cold_cpu = self.cpu()
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.005)
        self.stop()
        sys.exit(f"{self.name}: no 200 from /health within {timeout}s:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def http_request(path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def _connection(
    port: int, request: bytes, deadline: float, budget: list[int], latencies: list[float]
) -> int:
    """One keep-alive connection sending `request` until the deadline or the shared budget ends."""
    reader, writer = await asyncio.open_connection(HOST, port)
    errors = 0
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line[15:])
                    for line in head.split(b"\r\n")
                    if line[:15].lower() == b"content-length:"
                ),
                None,
            )
            if length is None:
                raise RuntimeError(f"response without Content-Length: {head[:200]!r}")
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            errors += head[9:12] != b"200"
    finally:
        writer.close()
    return errors


async def _load(
    port: int, request: bytes, concurrency: int, seconds: float, max_requests: int
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    budget = [max_requests]
    started = time.perf_counter()
    connections = (
        _connection(port, request, started + seconds, budget, latencies) for _ in range(concurrency)
    )
    errors = sum(await asyncio.gather(*connections))
    return latencies, errors, time.perf_counter() - started


def measure(server: Server, request: bytes, rows: int, concurrency: int, args) -> Result:
    asyncio.run(_load(server.port, request, concurrency, args.warmup, 20_000))  # warm up
    cpu_before = server.cpu()
    latencies, errors, elapsed = asyncio.run(
        _load(server.port, request, concurrency, args.seconds, args.max_requests)
    )
    cpu_ms = round(1000 * (server.cpu() - cpu_before) / max(len(latencies), 1), 3)
    latencies.sort()

    def quantile(q: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)

    rps = round(len(latencies) / elapsed, 1)
    return Result(
        server.name, rows, concurrency, len(latencies), errors, round(elapsed, 2), rps,
        quantile(0.50), quantile(0.99), cpu_ms,
    )  # fmt: skip


def first_answer(server: Server, path: str, body: bytes) -> str:
    request = urllib.request.Request(
        f"http://{HOST}:{server.port}{path}",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()[:150]


def bench_server(
    server: Server, path: str, body: Callable[[int], bytes], args
) -> tuple[list[float], list[float], list[Result]]:
    """Cold starts (wall and CPU seconds), then each (rows, concurrency) run, for one server."""
    cold, cold_cpu = [], []
    for _ in range(args.cold_starts):
        cold.append(server.start())
        cold_cpu.append(server.cold_cpu)
        server.stop()
    runs = ", ".join(f"{s:.2f}" for s in cold)
    print(
        f"{server.name}: cold start {statistics.median(cold):.2f}s (runs: {runs}), "
        f"CPU time to the first /health {statistics.median(cold_cpu):.2f}s",
        flush=True,
    )
    results = []
    server.start()
    try:
        print(f"  answers: {first_answer(server, path, body(2))}", flush=True)
        for rows in ROWS:
            for concurrency in CONCURRENCY:
                r = measure(server, http_request(path, body(rows)), rows, concurrency, args)
                results.append(r)
                print(
                    f"  {rows:>3} rows, c={concurrency}: {r.rps:>8.1f} req/s"
                    f"  p50 {r.p50_ms:>7.2f} ms  p99 {r.p99_ms:>7.2f} ms"
                    f"  {r.cpu_ms_per_request:>6.2f} CPU ms/request"
                    f"  ({r.requests} requests, {r.errors} errors)",
                    flush=True,
                )
    finally:
        server.stop()
    return cold, cold_cpu, results


def report(
    results: list[Result],
    floor: dict,
    cold: dict[str, list[float]],
    cold_cpu: dict[str, list[float]],
) -> dict[str, bool]:
    """Print the comparison table, the floor, the cold starts, and whether each goal is met."""
    by = {(r.server, r.rows, r.concurrency): r for r in results}
    print("\n| rows | concurrency | ours req/s | mlflow req/s | ours / mlflow | ours p50 / p99 ms "
          "| mlflow p50 / p99 ms | CPU ms per request, ours / mlflow |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for rows in ROWS:
        for concurrency in CONCURRENCY:
            ours, theirs = by["ours", rows, concurrency], by["mlflow", rows, concurrency]
            print(
                f"| {rows} | {concurrency} | {ours.rps:.0f} | {theirs.rps:.1f} "
                f"| {ours.rps / theirs.rps:.1f}x | {ours.p50_ms:.2f} / {ours.p99_ms:.2f} "
                f"| {theirs.p50_ms:.1f} / {theirs.p99_ms:.1f} "
                f"| {ours.cpu_ms_per_request:.2f} / {theirs.cpu_ms_per_request:.1f} |"
            )
    print("\nin-process floor (the service's predictor, no HTTP) and ours / floor at c=1:")
    for rows in ROWS:
        best = floor[str(rows)]
        ratio = by["ours", rows, 1].rps / best["calls_per_s"]
        print(f"  {rows:>3} rows: {best['calls_per_s']:.0f} calls/s ({best['ms_per_call']:.3f} ms)"
              f"; ours / floor = {ratio:.2f}")  # fmt: skip
    ours_cold, mlflow_cold = statistics.median(cold["ours"]), statistics.median(cold["mlflow"])
    ours_cpu, mlflow_cpu = (
        statistics.median(cold_cpu["ours"]),
        statistics.median(cold_cpu["mlflow"]),
    )
    print(f"\ncold start to the first /health: ours {ours_cold:.2f}s, mlflow {mlflow_cold:.2f}s"
          f" (ours / mlflow = {ours_cold / mlflow_cold:.2f}); CPU seconds spent getting there:"
          f" ours {ours_cpu:.2f}, mlflow {mlflow_cpu:.2f}")  # fmt: skip
    goals = {
        "1-row throughput >= 20x mlflow (c=1)": by["ours", 1, 1].rps >= 20 * by["mlflow", 1, 1].rps,
        "1-row p99 < 10 ms at c=8": by["ours", 1, 8].p99_ms < 10,
        "cold start < 1.5 s": ours_cold < 1.5,
    }
    for goal, met in goals.items():
        print(f"goal: {goal}: {'met' if met else 'MISSED'}")
    return goals


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--project", type=Path, help="a generated project whose pipeline has run")
    parser.add_argument("--package", default=PACKAGE, help="its package (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes, for both servers")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each load run")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up before each load run")
    parser.add_argument(
        "--max-requests", type=int, default=100_000, help="requests per run, at most"
    )
    parser.add_argument("--cold-starts", type=int, default=3, help="cold starts timed per server")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        workdir = Path(tmp)
        project = prepare_project(args.project, workdir)
        venv = project / ".venv" / "bin"
        compile_bytecode(project)
        snippet = PROJECT_SNIPPET.format(package=args.package, seconds=2.0)
        info = json.loads(sh([str(venv / "python"), "-c", snippet], project))
        rows = info["rows"]
        model_uri = info["model_uri"] or f"models:/{args.package}@champion"
        workers = str(args.workers)
        listen = ["--host", HOST, "--port", "{port}", "--workers", workers]
        path_env = {"PATH": f"{venv}{os.pathsep}{os.environ.get('PATH', '')}"}  # venv "activated"
        tracking = {"MLFLOW_TRACKING_URI": f"sqlite:///{(project / 'mlflow.db').as_posix()}"}
        ours = Server("ours", [str(venv / args.package), "serve", *listen], project,
                      workdir / "ours.log", path_env)  # fmt: skip
        mlflow_argv = [
            str(venv / "mlflow"),
            "models",
            "serve",
            "-m",
            model_uri,
            "--env-manager",
            "local",
        ]
        mlflow = Server("mlflow", [*mlflow_argv, *listen], project, workdir / "mlflow.log",
                        {**path_env, **tracking})  # fmt: skip

        print(f"project: {project}\nmodel: {model_uri}; our backend: {info['backend']}; "
              f"workers: {workers}")  # fmt: skip
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
              f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}\n")  # fmt: skip
        cold: dict[str, list[float]] = {}
        cold_cpu: dict[str, list[float]] = {}
        results: list[Result] = []
        for server, path, key in (
            (ours, "/predict", "instances"),
            (mlflow, "/invocations", "dataframe_records"),
        ):
            cold[server.name], cold_cpu[server.name], measured = bench_server(
                server, path, lambda n, key=key: json.dumps({key: rows[:n]}).encode(), args
            )
            results += measured
        print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    goals = report(results, info["floor"], cold, cold_cpu)
    if args.json:
        document = {
            "results": [asdict(r) for r in results],
            "floor": info["floor"],
            "cold_start_s": cold,
            "cold_start_cpu_s": cold_cpu,
        }
        args.json.write_text(json.dumps({**document, "goals": goals}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
