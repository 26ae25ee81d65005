"""GET /metrics (serving/routes/metrics.py): Prometheus counters of requests and predictions."""

import re

from fastapi.testclient import TestClient


def metric(client: TestClient, api_key: str, name: str, **labels: str) -> float:
    """The value of one sample in /metrics (0 when it is not there yet)."""
    text = client.get("/metrics", headers={"X-API-Key": api_key}).text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(re.escape(name) + r"(?:\{(.*)\})? (\S+)", line)
        if match and ",".join(sorted((match.group(1) or "").split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def test_metrics_count_requests_latency_and_predicted_classes(client, card, task, api_key):
    labels = {"method": "POST", "route": "/predict", "status": "200"}
    before = metric(client, api_key, "http_requests_total", **labels)
    predicted = client.post("/predict", json={"instances": [card.example] * 3}).json()["predictions"]
    label = str(predicted[0]) if task == "classification" else "value"
    counted = metric(client, api_key, "model_predictions_total", **{"class": label})
    client.post("/predict", json={"instances": [card.example] * 3})
    assert metric(client, api_key, "http_requests_total", **labels) == before + 2
    assert metric(client, api_key, "model_predictions_total", **{"class": label}) == counted + 3
    duration = metric(client, api_key, "http_request_duration_seconds_count", method="POST", route="/predict")
    assert duration >= 2
    info = {"model": card.name, "version": card.version or "", "backend": "onnx"}
    assert metric(client, api_key, "model_info", **info) == 1
    bad = {"method": "POST", "route": "/predict", "status": "422"}
    refused = metric(client, api_key, "http_requests_total", **bad)
    client.post("/predict", json={"instances": []})
    assert metric(client, api_key, "http_requests_total", **bad) == refused + 1
