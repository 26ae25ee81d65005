"""GET /model (serving/routes/model.py): the model card's description of the served model."""


def test_model_metadata(client, card):
    body = client.get("/model").json()
    assert body["name"] == card.name
    assert body["trained_at"] == card.created_at.isoformat()
    assert [f["name"] for f in body["features"]] == [f.name for f in card.features]
    assert body["features"] == [f.model_dump(mode="json") for f in card.features]
    assert body["target"] == card.target.model_dump(mode="json")
    assert body["example"] == card.example
    assert body["metrics"]
    assert body["backend"] == "onnx"
    assert body["max_batch_size"] == 50
