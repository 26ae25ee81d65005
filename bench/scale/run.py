"""How the pipeline's cost grows with rows, on the pandas engine and on the Spark engine.

    uv run python bench/scale/run.py                    # 100k, 1M and 5M rows, both engines
    uv run python bench/scale/run.py --sizes 20k,100k   # a quick run

For each engine, the default project is rendered once (`engine: pandas` / `engine: spark`) and
installed with `uv sync`. For each size, generate.py writes one synthetic CSV (seeded: about 20
columns, numeric and categorical, realistic missing values and about 1% bad rows) and every project
points at it with `data.source: local`. The stages then run as the project's own CLI, one process
each, exactly as `dvc repro` would start them (DVC's hashing is left out):

- data:  collect + clean + featurize
- train: train --no-tracking (MLflow left out: it measures the store, not the model)
- rest:  evaluate --no-tracking + report

Each is measured for wall time and for peak RSS of the whole process tree (the stage's Python
process plus, for Spark, its JVM), sampled from /proc every 0.2 s, so this runs on Linux. The
Spark rows also show the driver's two parts: the Python process and the JVM (in local mode the
JVM is the driver and the executors). The end prints the time per row at the largest size against
the smallest (near 1 means linear), Spark/pandas, and checks the goals. Results go to results.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml
from copier import run_copy

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "scale_bench"
STAGES = {
    "data": ["collect", "clean", "featurize"],
    "train": ["train --no-tracking"],
    "rest": ["evaluate --no-tracking", "report"],
}
# Training settings for every size: the linear family (it scales, and takes the sparse one-hot
# matrix that 40-level categories produce), 3-fold cross-validation.
TRAIN = {"model": "linear", "cv_folds": 3}
EVALUATE = {"permutation_repeats": 2}
GOALS = {"pandas_1m_pipeline_seconds": 600, "pandas_1m_peak_rss_gb": 4.0}


# ------------------------------------------------------------------------------------------------
# Measuring a process tree
# ------------------------------------------------------------------------------------------------
def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _rss_kb(pid: int) -> tuple[str, int]:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "", 0
    name = next((line.split()[1] for line in status.splitlines() if line.startswith("Name:")), "")
    rss = next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
    )
    return name, rss


@dataclass
class Usage:
    seconds: float = 0.0
    peak_rss_mb: float = 0.0  # the whole tree, summed at the same instant
    peak_python_mb: float = 0.0  # the stage's Python process(es)
    peak_java_mb: float = 0.0  # Spark's JVM (local mode: driver and executors)
    log: list[str] = field(default_factory=list)

    def add(self, other: Usage) -> None:
        self.seconds += other.seconds
        self.peak_rss_mb = max(self.peak_rss_mb, other.peak_rss_mb)
        self.peak_python_mb = max(self.peak_python_mb, other.peak_python_mb)
        self.peak_java_mb = max(self.peak_java_mb, other.peak_java_mb)


def measure(cmd: list[str], cwd: Path, env: dict[str, str], log_file: Path) -> Usage:
    """Run `cmd`; its wall time and the peak RSS of its process tree (sampled every 0.2 s)."""
    usage = Usage()
    started = time.perf_counter()
    with log_file.open("a") as log:
        log.write(f"\n$ {' '.join(cmd)}\n")
        log.flush()
        process = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                tree, pids, total = _children(), [process.pid], {"python": 0, "java": 0, "all": 0}
                while pids:
                    pid = pids.pop()
                    name, rss = _rss_kb(pid)
                    total["all"] += rss
                    total["java" if name == "java" else "python"] += rss
                    pids.extend(tree.get(pid, []))
                usage.peak_rss_mb = max(usage.peak_rss_mb, total["all"] / 1024)
                usage.peak_python_mb = max(usage.peak_python_mb, total["python"] / 1024)
                usage.peak_java_mb = max(usage.peak_java_mb, total["java"] / 1024)
                done.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = process.wait()
        done.set()
        sampler.join()
    usage.seconds = time.perf_counter() - started
    if code != 0:
        sys.exit(f"error: {' '.join(cmd)} failed with exit code {code}; see {log_file}")
    return usage


# ------------------------------------------------------------------------------------------------
# Projects
# ------------------------------------------------------------------------------------------------
def project_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH")
    }
    env.update({"UV_NO_PROGRESS": "1", "MPLBACKEND": "Agg"})
    for name in ("SPARK_MASTER", "SPARK_REMOTE"):
        env.pop(name, None)
    return env


def prepare_project(workdir: Path, engine: str) -> Path:
    """The default answers with `engine`, rendered and installed once (reused by later runs)."""
    folder = workdir / f"project-{engine}"
    if not (folder / ".venv").is_dir():
        shutil.rmtree(folder, ignore_errors=True)
        print(f"rendering and installing the {engine} project in {folder} ...", flush=True)
        run_copy(
            str(REPO),
            folder,
            data={"engine": engine, "project_name": "Scale Bench"},
            vcs_ref="HEAD",
            defaults=True,
            unsafe=True,
            quiet=True,
        )
        subprocess.run(["uv", "sync", "--quiet"], cwd=folder, env=project_env(), check=True)
    return folder


def point_at(folder: Path, csv: Path) -> None:
    params = yaml.safe_load((folder / "params.yaml").read_text())
    params["data"] = {
        "name": "customers",
        "source": "local",
        "path": str(csv),
        "target": "segment",
        "task": "classification",
    }
    params["train"].update(TRAIN)
    params["evaluate"].update(EVALUATE)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def run_size(folder: Path, rows: int) -> dict[str, object]:
    cli = str(folder / ".venv" / "bin" / PACKAGE)
    result: dict[str, object] = {}
    for group, stages in STAGES.items():
        usage = Usage()
        for stage in stages:
            usage.add(measure([cli, *stage.split()], folder, project_env(), folder / "bench.log"))
        result[group] = asdict(usage)
    quality = json.loads((folder / "reports" / "data_quality.json").read_text())
    split = json.loads((folder / "data" / "processed" / "features.json").read_text())["split"]
    metrics = json.loads((folder / "reports" / "metrics.json").read_text())
    result["rows_clean"] = quality["rows_clean"]
    result["rows_quarantined"] = quality["rows_quarantined"]
    result["train_rows"] = split["train_rows"]
    result["train_sample_of"] = (split.get("train_sample") or {}).get("of")
    result["accuracy"] = metrics.get("accuracy")
    return result


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------
def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


def label(rows: int) -> str:
    return (
        f"{rows // 1_000_000}M"
        if rows % 1_000_000 == 0
        else f"{rows // 1000}k"
        if rows % 1000 == 0
        else str(rows)
    )


def table(results: dict[str, dict[int, dict]]) -> str:
    lines = [
        "| engine | rows | data s | data peak RSS MB (python / JVM) | train s | train peak MB "
        "| train rows | rest s | total s | accuracy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for engine, sizes in results.items():
        for rows, r in sorted(sizes.items()):
            d, t, rest = r["data"], r["train"], r["rest"]
            split = (
                f"{d['peak_python_mb']:.0f} / {d['peak_java_mb']:.0f}"
                if engine == "spark"
                else f"{d['peak_python_mb']:.0f}"
            )
            train_rows = f"{r['train_rows']:,}" + (
                f" of {r['train_sample_of']:,}" if r["train_sample_of"] else ""
            )
            total = d["seconds"] + t["seconds"] + rest["seconds"]
            cells = [
                engine, label(rows), f"{d['seconds']:.1f}", f"{d['peak_rss_mb']:.0f} ({split})",
                f"{t['seconds']:.1f}", f"{t['peak_rss_mb']:.0f}", train_rows,
                f"{rest['seconds']:.1f}", f"{total:.1f}", f"{r['accuracy']:.4f}",
            ]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def growth(results: dict[str, dict[int, dict]]) -> list[str]:
    lines = []
    for engine, sizes in results.items():
        ordered = sorted(sizes)
        if len(ordered) < 2:
            continue
        for small, large in itertools.pairwise(ordered):
            for group in ("data", "train"):
                ratio = (sizes[large][group]["seconds"] / large) / (
                    sizes[small][group]["seconds"] / small
                )
                at = f"{label(large)} / at {label(small)}"
                lines.append(f"{engine} {group}: time per row at {at} = {ratio:.2f}")
        if engine == "spark":
            python = [f"{label(n)} {sizes[n]['data']['peak_python_mb']:.0f} MB" for n in ordered]
            lines.append(f"spark data stages, driver Python peak RSS: {', '.join(python)}")
    if "pandas" in results and "spark" in results:
        for rows in sorted(set(results["pandas"]) & set(results["spark"])):
            p, s = results["pandas"][rows], results["spark"][rows]
            time_ratio = s["data"]["seconds"] / p["data"]["seconds"]
            rss_ratio = s["data"]["peak_rss_mb"] / p["data"]["peak_rss_mb"]
            lines.append(
                f"{label(rows)} rows, spark / pandas (data stages): {time_ratio:.2f}x time, "
                f"{rss_ratio:.2f}x peak RSS"
            )
    return lines


def goals(results: dict[str, dict[int, dict]]) -> list[str]:
    lines = []
    pandas_1m = results.get("pandas", {}).get(1_000_000)
    if pandas_1m:
        total = sum(pandas_1m[g]["seconds"] for g in STAGES)
        peak = max(pandas_1m[g]["peak_rss_mb"] for g in STAGES) / 1024
        ok = total < GOALS["pandas_1m_pipeline_seconds"] and peak < GOALS["pandas_1m_peak_rss_gb"]
        lines.append(
            f"{'PASS' if ok else 'FAIL'} pandas 1M rows: whole pipeline {total:.0f}s (< 600s), "
            f"peak RSS {peak:.2f} GB (< 4 GB)"
        )
    spark = results.get("spark", {})
    if len(spark) >= 2:
        ordered = sorted(spark)
        python = [spark[n]["data"]["peak_python_mb"] for n in ordered]
        flat = max(python) <= 1.5 * min(python)
        lines.append(
            f"{'PASS' if flat else 'FAIL'} spark driver's Python peak flat, {label(ordered[0])} "
            f"to {label(ordered[-1])} rows: "
            f"{min(python):.0f}-{max(python):.0f} MB (JVM bounded by spark.driver_memory: "
            f"{max(spark[n]['data']['peak_java_mb'] for n in ordered):.0f} MB at most)"
        )
    return lines


def report(results: dict[str, dict[int, dict]]) -> None:
    print(table(results) + "\n")
    print("\n".join(growth(results) + goals(results)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="100k,1M,5M", help="comma-separated row counts, e.g. 20k,100k"
    )
    parser.add_argument("--engines", default="pandas,spark", help="pandas, spark or both")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/mlfolio-scale"),  # noqa: S108  (a reused cache of projects, not a secret)
        help="projects and data (reused)",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    parser.add_argument(
        "--report", action="store_true", help="print the tables from --out and run nothing"
    )
    args = parser.parse_args(argv)
    if args.report:
        if not args.out.exists():
            sys.exit(f"error: {args.out} does not exist; run the benchmark first")
        saved = json.loads(args.out.read_text())["results"]
        done = {engine: {int(k): v for k, v in runs.items()} for engine, runs in saved.items()}
        report(done)
        return 0
    if not Path("/proc/self/status").exists():
        sys.exit("error: this benchmark reads /proc to measure memory; run it on Linux")
    sizes = sorted(parse_size(s) for s in args.sizes.split(","))
    engines = [e.strip() for e in args.engines.split(",")]
    args.workdir.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    results: dict[str, dict[int, dict]] = {
        engine: {int(k): v for k, v in runs.items()}
        for engine, runs in previous.get("results", {}).items()
    }
    for engine in engines:
        results.setdefault(engine, {})
    folders = {engine: prepare_project(args.workdir, engine) for engine in engines}
    for rows in sizes:
        csv = args.workdir / f"customers-{label(rows)}.csv"
        if not csv.exists():
            started = time.perf_counter()
            python = (
                folders[engines[0]] / ".venv" / "bin" / "python"
            )  # a project's numpy and pandas
            generate = Path(__file__).with_name("generate.py")
            subprocess.run(
                [str(python), str(generate), str(rows), str(csv)], env=project_env(), check=True
            )
            seconds = time.perf_counter() - started
            print(
                f"generated {csv} ({csv.stat().st_size / 1e6:.0f} MB) in {seconds:.0f}s", flush=True
            )
        for engine in engines:
            point_at(folders[engine], csv)
            with open("/proc/loadavg") as handle:
                load = handle.read().split()[0]
            print(f"{engine} {label(rows)} rows (load average {load}) ...", flush=True)
            results[engine][rows] = run_size(folders[engine], rows)
            args.out.write_text(
                json.dumps({"machine": machine(), "results": results}, indent=2) + "\n"
            )
    print()
    report(results)
    return 0


def machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "java": subprocess.run(
            ["java", "-version"], capture_output=True, text=True
        ).stderr.splitlines()[0]
        if shutil.which("java")
        else None,
    }


if __name__ == "__main__":
    sys.exit(main())
