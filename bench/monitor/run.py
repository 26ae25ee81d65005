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
import importlib.util
import json
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
    log.record(batch, ["x"] * 100, "m", "1", str(i))
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
    results: dict[str, list[dict]] = {"off": [], "on": []}
    for repeat in range(args.repeats):
        # Alternate which goes first, so neither always meets the other's leftovers (caches, load).
        for setting in ("off", "on") if repeat % 2 == 0 else ("on", "off"):
            env = {
                "PREDICTION_LOG": "true" if setting == "on" else "false",
                "PREDICTION_LOG_DIR": str(work / f"api-logs-{repeat}"),
            }
            server = serve.Server(
                f"log {setting}", argv, project, work / f"server-{setting}.log", env
            )
            server.start()
            try:
                for n in (1, 100):
                    body = json.dumps({"instances": rows[:n]}).encode()
                    r = serve.measure(server, serve.http_request("/predict", body), n, 8, args)
                    results[setting].append(
                        {
                            "rows": n,
                            "p50_ms": r.p50_ms,
                            "p99_ms": r.p99_ms,
                            "rps": r.rps,
                            "cpu_ms": r.cpu_ms_per_request,
                            "errors": r.errors,
                        }
                    )
                    print(
                        f"  log {setting:3}, {n:>3} rows, c=8: p50 {r.p50_ms:6.2f} ms"
                        f"  p99 {r.p99_ms:6.2f} ms  {r.rps:8.1f} req/s"
                        f"  server CPU {r.cpu_ms_per_request:.3f} ms/request",
                        flush=True,
                    )
            finally:
                server.stop()
    return results


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
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each API load run")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--max-requests", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=2, help="off/on API rounds")
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
            print("API with the prediction log off and on ...", flush=True)
            api = bench_api(project, work, args)
    summary = {}
    for n in (1, 100) if api else ():
        for setting in ("off", "on"):
            runs = [r for r in api[setting] if r["rows"] == n]
            summary[f"{setting}_{n}"] = {
                k: statistics.median(r[k] for r in runs)
                for k in ("p50_ms", "p99_ms", "rps", "cpu_ms")
            }
        off, on = summary[f"off_{n}"]["p99_ms"], summary[f"on_{n}"]["p99_ms"]
        ratio = on / off
        print(
            f"{n:>3} rows, c=8, medians of {args.repeats}: p99 off {off:.2f} ms, on {on:.2f} ms:"
            f" on / off = {ratio:.3f} (goal: within 1.10)"
        )
        summary[f"p99_ratio_{n}"] = ratio
        cpu_off, cpu_on = summary[f"off_{n}"]["cpu_ms"], summary[f"on_{n}"]["cpu_ms"]
        print(
            f"{n:>3} rows: server CPU per request off {cpu_off:.3f} ms, on {cpu_on:.3f} ms"
            f" (on / off = {cpu_on / cpu_off:.3f}); p50 on / off ="
            f" {summary[f'on_{n}']['p50_ms'] / summary[f'off_{n}']['p50_ms']:.3f}"
        )
    if args.json:
        figures = {"scoring": scoring, "monitor": monitoring, "api": api, "summary": summary}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
