"""GET /health and GET /ready (serving/routes/health.py)."""


def test_health_and_ready(client):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready", "backend": "onnx"}


def test_ready_is_503_until_the_model_is_loaded(make_client):
    test_client = make_client()  # not entered: the lifespan has not loaded the model
    response = test_client.get("/ready")
    assert response.status_code == 503
    assert "not loaded yet" in response.json()["detail"]
    assert test_client.get("/health").status_code == 200
