"""Benchmark what happens after deployment: batch scoring, `monitor`, and the prediction log's cost.

    uv run python bench/monitor/run.py                      # render, train, then benchmark
    uv run python bench/monitor/run.py --project /path/p    # reuse a project whose pipeline has run

In one run (see README.md):
- batch scoring (`score_file`: read, validate, predict, write, in chunks) in rows/s, against
  calling the same predictor on the whole frame at once (no validation, no I/O), and the peak
  memory (ru_maxrss of a fresh process) on a file of one chunk and of ten chunks;
- `monitor` on 100k rows of the prediction log: the check alone, and the command's wall time;
- the API's p50 and p99 at concurrency 8 with the prediction log off and on (servers started
  from the project's virtualenv on 127.0.0.1, as bench/serve/run.py does; off and on alternate).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("serve_bench", HERE.parent / "serve" / "run.py")
if _spec is None or _spec.loader is None:
    raise ImportError(f"cannot load {HERE.parent / 'serve' / 'run.py'}: the serve bench is missing")
serve = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = serve  # dataclasses look their module up there
_spec.loader.exec_module(serve)

PACKAGE = serve.PACKAGE
CHUNK = 10_000
PARTS = ("scoring", "monitor", "api")
SETTINGS = ("off", "on")  # the prediction log

# In the project's virtualenv: the input files, then scoring against the whole-frame predictor.
SCORING_SNIPPET = """
import json, time
from pathlib import Path
import numpy as np, pandas as pd
from {package}.scoring import score_file, load_model, ChunkValidator

work = Path({work!r})
test = pd.read_parquet("data/processed/test.parquet")
card, predictor, _ = load_model(Path("models"), None, None)
names = [f.name for f in card.features]
rng = np.random.default_rng(0)
big = test[names].sample({rows}, replace=True, random_state=0).reset_index(drop=True)
big.to_csv(work / "big.csv", index=False)
big.to_parquet(work / "big.parquet")
big.head({chunk}).to_csv(work / "one_chunk.csv", index=False)
big.head(10 * {chunk}).to_csv(work / "ten_chunks.csv", index=False)
out = {{}}
for name in ("big.csv", "big.parquet"):
    started = time.perf_counter()
    target = work / ("scores" + Path(name).suffix)
    summary = score_file(work / name, target, Path("models"), chunk_rows={chunk})
    seconds = time.perf_counter() - started
    out[name] = {{"rows": summary.rows_in, "rows_per_s": summary.rows_in / seconds}}
rows = ChunkValidator(card).split(big)[0]
started = time.perf_counter()
predictor.predict(rows)
seconds = time.perf_counter() - started
out["whole_frame_predict"] = {{"rows": len(rows), "rows_per_s": len(rows) / seconds}}
print(json.dumps(out))
"""

PEAK_SNIPPET = """
import json, resource, sys
from pathlib import Path
from {package}.scoring import score_file
score_file(Path(sys.argv[1]), Path(sys.argv[2]), Path("models"), chunk_rows={chunk})
print(json.dumps({{"max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

LOG_SNIPPET = """
import json, math, time
from pathlib import Path
import pandas as pd
from {package}.serving.predlog import PredictionLog
from {package}.monitoring.monitor import run_monitor
from {package}.config import get_paths, load_params, Settings

paths = get_paths()
test = pd.read_parquet("data/processed/test.parquet")
inputs = json.loads(Path("models/model.json").read_text())["inputs"]
features = inputs["numeric"] + inputs["categorical"]
records = [{{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}}
           for r in json.loads(test[features].to_json(orient="records"))]
log = PredictionLog(Path({logs!r}), max_bytes=10**9)
log.start()
for i in range(0, {rows}, 100):
    batch = [records[(i + j) % len(records)] for j in range(100)]
    log.record(json.dumps({{"instances": batch}}).encode(), batch, ["x"] * 100, "m", "1", str(i))
log.stop()
params = load_params(paths.params)
window = params.monitor.model_copy(update={{"window_rows": {rows}}})
params = params.model_copy(update={{"monitor": window}})
started = time.perf_counter()
result = run_monitor(params, paths, None, Settings(prediction_log_dir=Path({logs!r})))
print(json.dumps({{"seconds": time.perf_counter() - started, "rows": result.rows}}))
"""


def in_project(project: Path, code: str, *args: str, timeout: float = 1800) -> dict:
    python = str(project / ".venv" / "bin" / "python")
    return json.loads(
        serve.sh([python, "-c", code, *args], project, timeout).strip().splitlines()[-1]
    )


def bench_scoring(project: Path, work: Path, rows: int) -> dict:
    result = in_project(
        project, SCORING_SNIPPET.format(package=PACKAGE, work=str(work), rows=rows, chunk=CHUNK)
    )
    peak = PEAK_SNIPPET.format(package=PACKAGE, chunk=CHUNK)
    for name in ("one_chunk.csv", "ten_chunks.csv"):
        result[f"peak_{name}"] = in_project(
            project, peak, str(work / name), str(work / f"out_{name}")
        )
    return result


def bench_monitor(project: Path, work: Path, rows: int) -> dict:
    logs = work / "logs"
    result = in_project(project, LOG_SNIPPET.format(package=PACKAGE, logs=str(logs), rows=rows))
    env = serve.clean_env(PREDICTION_LOG_DIR=str(logs))
    # The command as a user runs it (its start-up included), on the default window of the log.
    started = time.perf_counter()
    subprocess.run(
        [str(project / ".venv" / "bin" / PACKAGE), "monitor"],
        cwd=project,
        env=env,
        capture_output=True,
        check=False,
    )
    result["command_seconds_default_window"] = time.perf_counter() - started
    return result


def bench_api(project: Path, work: Path, args: argparse.Namespace) -> dict:
    """p50, p99 and server CPU per request at c=8, log off and on, round by round.

    The servers run side by side; in each round the load alternates between them in bursts of
    `--burst` seconds (`--seconds` of load each in all, each turn starting with the next server),
    so that they meet the same load from the rest of the machine, which on a shared machine moves
    more from one minute to the next than the log's cost does. With `--control`, a second server
    with the log off ("control") shows how far two identical servers differ in the same run.
    """
    rows = json.loads(
        serve.sh(
            [
                str(project / ".venv" / "bin" / "python"),
                "-c",
                serve.PROJECT_SNIPPET.format(package=PACKAGE, seconds=0.2),
            ],
            project,
        )
        .strip()
        .splitlines()[-1]
    )["rows"]
    argv = [str(project / ".venv" / "bin" / PACKAGE), "serve", "--port", "{port}"]
    settings = (*SETTINGS, "control") if args.control else SETTINGS
    servers = {}
    for setting in settings:
        env = {
            "PREDICTION_LOG": "true" if setting == "on" else "false",
            "PREDICTION_LOG_DIR": str(work / "api-logs"),
        }
        servers[setting] = serve.Server(
            f"log {setting}", argv, project, work / f"server-{setting}.log", env
        )
    results: dict[str, list[dict]] = {setting: [] for setting in settings}
    bursts = max(1, round(args.seconds / args.burst))
    try:
        for server in servers.values():
            server.start()
        for n in (1, 100):
            request = serve.http_request("/predict", json.dumps({"instances": rows[:n]}).encode())
            for server in servers.values():
                run_load(server, request, args.warmup)
            for repeat in range(args.repeats):
                latencies: dict[str, list[float]] = {setting: [] for setting in settings}
                cpu = dict.fromkeys(settings, 0.0)
                elapsed = dict.fromkeys(settings, 0.0)
                errors = dict.fromkeys(settings, 0)
                for burst in range(bursts):
                    # Each burst starts with the next server, so that none always follows another.
                    first = (repeat + burst) % len(settings)
                    turn = settings[first:] + settings[:first]
                    for setting in turn:
                        server = servers[setting]
                        before = server.cpu()
                        done, failed, seconds = run_load(server, request, args.burst)
                        cpu[setting] += server.cpu() - before
                        elapsed[setting] += seconds
                        errors[setting] += failed
                        latencies[setting] += done
                for setting in settings:
                    got = sorted(latencies[setting])
                    result = {
                        "rows": n,
                        "p50_ms": quantile_ms(got, 0.50),
                        "p99_ms": quantile_ms(got, 0.99),
                        "rps": round(len(got) / elapsed[setting], 1),
                        "cpu_ms": round(1000 * cpu[setting] / max(len(got), 1), 3),
                        "errors": errors[setting],
                    }
                    results[setting].append(result)
                    print(
                        f"  round {repeat + 1}, {setting:7}, {n:>3} rows, c=8:"
                        f" p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms"
                        f"  {result['rps']:8.1f} req/s"
                        f"  server CPU {result['cpu_ms']:.3f} ms/request",
                        flush=True,
                    )
    finally:
        for server in servers.values():
            server.stop()
    return results


def run_load(
    server: serve.Server, request: bytes, seconds: float
) -> tuple[list[float], int, float]:
    """Latencies (s), errors and elapsed time of `seconds` of load at concurrency 8."""
    # bench/serve/run.py's load generator: 8 keep-alive connections, each sending the next
    # request as soon as it has the answer.
    return asyncio.run(serve._load(server.port, request, 8, seconds, 10**7))


def quantile_ms(latencies: list[float], q: float) -> float:
    return round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)


def summarize(api: dict[str, list[dict]], repeats: int) -> dict:
    """Medians over the rounds; `on` (and `control`) against `off`, also round by round."""
    summary: dict = {}
    for n in (1, 100):
        for setting, runs in api.items():
            summary[f"{setting}_{n}"] = {
                k: statistics.median(r[k] for r in runs if r["rows"] == n)
                for k in ("p50_ms", "p99_ms", "rps", "cpu_ms")
            }
        off = summary[f"off_{n}"]
        for setting in (s for s in api if s != "off"):
            other = summary[f"{setting}_{n}"]
            ratio = other["p99_ms"] / off["p99_ms"]
            paired = sorted(
                b["p99_ms"] / a["p99_ms"]
                for a, b in zip(
                    (r for r in api["off"] if r["rows"] == n),
                    (r for r in api[setting] if r["rows"] == n),
                    strict=True,
                )
            )
            summary[f"p99_ratio_{setting}_{n}"] = ratio
            summary[f"p99_ratio_by_round_{setting}_{n}"] = paired
            print(
                f"{n:>3} rows, c=8, medians of {repeats}: p99 off {off['p99_ms']:.2f} ms,"
                f" {setting} {other['p99_ms']:.2f} ms: {setting} / off = {ratio:.3f}"
                + (" (goal: within 1.10)" if setting == "on" else "")
            )
            print(
                f"    round by round: median {statistics.median(paired):.3f}"
                f" (from {paired[0]:.3f} to {paired[-1]:.3f});"
                f" server CPU per request off {off['cpu_ms']:.3f} ms, {setting}"
                f" {other['cpu_ms']:.3f} ms ({other['cpu_ms'] / off['cpu_ms']:.3f});"
                f" p50 {setting} / off = {other['p50_ms'] / off['p50_ms']:.3f}"
            )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--project", type=Path, help="a project whose pipeline has run (default: render one)"
    )
    parser.add_argument(
        "--rows", type=int, default=200_000, help="rows in the file scored in batch"
    )
    parser.add_argument(
        "--log-rows", type=int, default=100_000, help="rows of prediction log monitored"
    )
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="API load per setting (log off, on) per round"
    )
    parser.add_argument(
        "--burst", type=float, default=0.5, help="seconds of load before switching off/on"
    )
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=2, help="API rounds")
    parser.add_argument(
        "--control",
        action="store_true",
        help="also run a second server with the log off, to show the machine's noise",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        help="what to measure (default: all three)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        project = serve.prepare_project(args.project, work)
        scoring = monitoring = api = None
        if "scoring" in args.parts:
            print("batch scoring ...", flush=True)
            scoring = bench_scoring(project, work, args.rows)
            for name in ("big.csv", "big.parquet", "whole_frame_predict"):
                print(
                    f"  {name:20} {scoring[name]['rows_per_s']:>10,.0f} rows/s"
                    f" ({scoring[name]['rows']} rows)"
                )
            for name in ("one_chunk.csv", "ten_chunks.csv"):
                print(f"  peak RSS, {name:15} {scoring[f'peak_{name}']['max_rss_mb']:.0f} MB")
        if "monitor" in args.parts:
            print(f"monitor on {args.log_rows} logged rows ...", flush=True)
            monitoring = bench_monitor(project, work, args.log_rows)
            print(
                f"  check: {monitoring['seconds']:.2f}s; the command on its default window: "
                f"{monitoring['command_seconds_default_window']:.2f}s"
            )
        if "api" in args.parts:
            print(
                f"API with the prediction log off and on (load average {os.getloadavg()[0]:.1f})"
                " ...",
                flush=True,
            )
            api = bench_api(project, work, args)
            print(f"  load average at the end: {os.getloadavg()[0]:.1f}")
    summary = summarize(api, args.repeats) if api else {}
    if args.json:
        figures = {"scoring": scoring, "monitor": monitoring, "api": api, "summary": summary}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
