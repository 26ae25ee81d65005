"""Benchmark an image project: upload-to-prediction latency, training time, runtime size.

    uv run python bench/image/run.py                      # render digits, dvc repro, benchmark
    uv run python bench/image/run.py --project /path/p    # reuse a project whose pipeline has run

Side by side, in one run, on the same PNG (a digit from data/raw/images/):
- `POST /predict` over HTTP (multipart upload, one keep-alive connection, one request in flight)
  against the generated service (ONNX Runtime), run from a runtime-only environment (no torch);
- the same through a minimal FastAPI app that serves the torch model directly (same preprocess,
  torch forward pass, one thread), run from the project's full environment;
- the in-process floor: `preprocess` + ONNX Runtime, no HTTP;
- training time per epoch (from models/model.json) and the pipeline's wall time when this script
  ran it;
- the installed size of the runtime environment, and of the same environment plus torch.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
PACKAGE = "image_classifier"
BOUNDARY = "mlfoliobench"

FLOOR = """
import json, sys, time
from pathlib import Path
import numpy as np, onnxruntime as ort
from {package}.images.card import read_card
from {package}.images.preprocess import Shape, preprocess
card = read_card(Path("models/model.json"))
options = ort.SessionOptions(); options.intra_op_num_threads = 1; options.inter_op_num_threads = 1
session = ort.InferenceSession("models/model.onnx", options, providers=["CPUExecutionProvider"])
data = Path(sys.argv[1]).read_bytes(); shape = Shape(card.input.size, card.input.channels)
times = []
for i in range({n} + 200):
    t = time.perf_counter()
    session.run(None, {{"pixels": preprocess(data, shape, card.max_pixels)[np.newaxis]}})
    if i >= 200: times.append((time.perf_counter() - t) * 1000)
print(json.dumps(sorted(times)))
"""

# The torch model served directly: the same architecture with fresh weights (latency does not
# depend on the weights), answering /predict with the same preprocess and a torch forward pass.
TORCH_APP = """
import json
from pathlib import Path
import numpy as np, torch
from fastapi import FastAPI, Request
from {package}.images.card import read_card
from {package}.images.cnn import Probabilities, SmallCNN
from {package}.images.preprocess import Shape, preprocess
torch.set_num_threads(1)
card = read_card(Path("models/model.json"))
shape = Shape(card.input.size, card.input.channels)
cnn = SmallCNN(card.input.channels, card.input.size, len(card.classes), 16, 0.3, 0.3)
model = Probabilities(cnn).eval()
app = FastAPI()

@app.get("/health")
async def health():
    return {{"status": "ok"}}

@app.post("/predict")
async def predict(request: Request):
    form = await request.form()
    data = await form["file"].read()
    with torch.inference_mode():
        p = model(torch.from_numpy(preprocess(data, shape, card.max_pixels)[np.newaxis]))[0].numpy()
    probabilities = dict(zip(card.classes, p.tolist()))
    return {{"prediction": card.classes[int(p.argmax())], "probabilities": probabilities}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def multipart(png: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="d.png"\r\n'
            f"Content-Type: image/png\r\n\r\n"
        ).encode()
        + png
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("no /health")


def http_latencies(
    argv: list[str], cwd: Path, png: bytes, n: int, env: dict[str, str]
) -> list[float]:
    """Start the server, send `n` uploads one after another on one connection; milliseconds each."""
    port = free_port()
    process = subprocess.Popen(
        [*argv, "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(port, process)
        body = multipart(png)
        headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        times = []
        for i in range(n + 200):
            started = time.perf_counter()
            conn.request("POST", "/predict", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            if response.status != 200:
                raise RuntimeError(f"{response.status}: {payload[:200]!r}")
            if i >= 200:
                times.append((time.perf_counter() - started) * 1000)
        return sorted(times)
    finally:
        process.terminate()
        process.wait(timeout=15)


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def megabytes(path: Path) -> float:
    return (
        sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6
    )


def main() -> int:
    from tests.conftest import clean_env, render

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--project", type=Path, help="a piped image project (default: render one)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    env = clean_env()
    uv = "uv"
    pipeline_seconds = None
    project = args.project
    if project is None:
        project = Path(tempfile.mkdtemp(prefix="bench-image-")) / "project"
        render(project, modality="image")
        subprocess.run([uv, "sync", "-q"], cwd=project, env=env, check=True)
        started = time.perf_counter()
        subprocess.run(
            [uv, "run", "dvc", "repro"], cwd=project, env=env, check=True, capture_output=True
        )
        pipeline_seconds = time.perf_counter() - started
    card = json.loads((project / "models" / "model.json").read_text())
    png_path = sorted((project / "data" / "raw" / "images").glob("*/*.png"))[0]
    png = png_path.read_bytes()

    runtime = project.parent / "runtime-venv"
    sync = [uv, "sync", "-q", "--frozen", "--no-default-groups", "--no-editable"]
    subprocess.run(
        sync, cwd=project, env={**env, "UV_PROJECT_ENVIRONMENT": str(runtime)}, check=True
    )
    runtime_mb = megabytes(runtime)
    torch_dirs = [
        p
        for p in (project / ".venv").glob("lib/python*/site-packages/*")
        if p.name.startswith(("torch", "nvidia", "triton", "sympy", "networkx", "mpmath"))
    ]
    torch_mb = sum(megabytes(p) if p.is_dir() else p.stat().st_size / 1e6 for p in torch_dirs)

    floor_file = project / ".bench_floor.py"
    floor_file.write_text(FLOOR.format(package=PACKAGE, n=args.requests))
    floor = json.loads(
        subprocess.run(
            [str(project / ".venv" / "bin" / "python"), str(floor_file), str(png_path)],
            cwd=project,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    ours = http_latencies(
        [str(runtime / "bin" / PACKAGE), "serve"], project, png, args.requests, env
    )
    torch_file = project / "bench_torch_app.py"
    torch_file.write_text(TORCH_APP.format(package=PACKAGE))
    served_torch = http_latencies(
        [
            str(project / ".venv" / "bin" / "python"),
            "-m",
            "uvicorn",
            "bench_torch_app:app",
            "--log-level",
            "warning",
        ],
        project,
        png,
        args.requests,
        env,
    )
    figures = {
        "image_size": card["input"]["size"],
        "requests": args.requests,
        "onnx_http_ms": {"p50": pct(ours, 0.5), "p99": pct(ours, 0.99)},
        "torch_http_ms": {"p50": pct(served_torch, 0.5), "p99": pct(served_torch, 0.99)},
        "onnx_in_process_ms": {"p50": pct(floor, 0.5), "p99": pct(floor, 0.99)},
        "seconds_per_epoch": card["training"]["seconds_per_epoch"],
        "epochs_run": card["training"]["epochs_run"],
        "pipeline_seconds": pipeline_seconds,
        "runtime_mb": round(runtime_mb, 1),
        "runtime_plus_torch_mb": round(runtime_mb + torch_mb, 1),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(figures, indent=2))
    p50 = figures["onnx_http_ms"]["p50"]
    print(f"upload-to-prediction p50 {p50:.2f} ms: {'met' if p50 < 5 else 'MISSED'} (goal < 5 ms)")
    if pipeline_seconds is not None:
        print(
            f"pipeline {pipeline_seconds:.0f} s: "
            f"{'met' if pipeline_seconds < 180 else 'MISSED'} (goal < 180 s)"
        )
    print(
        f"ours / floor (p50): {p50 / figures['onnx_in_process_ms']['p50']:.1f}x; "
        f"torch served / ours (p50): {figures['torch_http_ms']['p50'] / p50:.2f}x"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
