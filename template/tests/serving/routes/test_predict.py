"""POST /predict (serving/routes/predict.py): predictions, and 4xx answers that name the problem.

Body-size limits are in tests/serving/test_limits.py, the prediction timeout in test_service.py.
"""

import json

import pytest


def test_predict_one_instance_and_a_batch(client, card, task):
    one = client.post("/predict", json={"instance": card.example})
    batch = client.post("/predict", json={"instances": [card.example, card.example]})
    assert one.status_code == 200, one.text
    assert batch.status_code == 200, batch.text
    assert len(one.json()["predictions"]) == 1
    assert batch.json()["predictions"] == one.json()["predictions"] * 2
    if task == "classification":
        assert one.json()["predictions"][0] in card.classes
        probabilities = one.json()["probabilities"][0]
        assert set(probabilities) == set(card.classes)
        assert abs(sum(probabilities.values()) - 1) < 1e-4
    else:
        assert isinstance(one.json()["predictions"][0], float)
        assert one.json()["probabilities"] is None


def test_missing_optional_values_are_imputed(client, card):
    instance = {k: (None if k == "size_cm" else v) for k, v in card.example.items()}
    assert client.post("/predict", json={"instance": instance}).status_code == 200


# ---- bad input: 4xx that name the problem ------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "field", "expected"),
    [
        (lambda x: {**x, "unknown": 1}, "instances.0.unknown", "Extra inputs are not permitted"),
        (lambda x: {**x, "colour": "purple"}, "instances.0.colour", "'red'"),
        (lambda x: {**x, "weight_g": "heavy"}, "instances.0.weight_g", "valid number"),
        (lambda x: {**x, "weight_g": 1e12}, "instances.0.weight_g", "less than or equal"),
        (lambda x: {**x, "colour": 3}, "instances.0.colour", "Input should be"),
    ],
)
def test_bad_instances_get_422_naming_the_field(client, card, mutate, field, expected):
    response = client.post("/predict", json={"instances": [mutate(card.example)]})
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [e["field"] for e in errors] == [field], errors
    assert expected in errors[0]["msg"]
    assert errors[0]["loc"] == ["body", "instances", 0, field.rsplit(".", 1)[-1]]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused(client, card, literal):
    instance = {**card.example, "weight_g": 0}
    payload = json.dumps({"instance": instance}).replace('"weight_g": 0', f'"weight_g": {literal}')
    response = client.post("/predict", content=payload, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "instance.weight_g"
    assert "finite" in response.json()["detail"][0]["msg"]


def test_empty_and_oversized_batches(client, card):
    empty = client.post("/predict", json={"instances": []})
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["field"] == "instances"
    too_many = client.post("/predict", json={"instances": [card.example] * 51})
    assert too_many.status_code == 422
    assert "at most 50" in too_many.json()["detail"][0]["msg"]


@pytest.mark.parametrize("body", [{}, {"rows": []}, [], "text"])
def test_a_body_of_neither_shape_says_what_to_send(client, body):
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["type"] == "request_shape"
    assert (
        'send one row as {"instance": <row>} or up to 50 rows as {"instances": [<row>, ...]}' in error["msg"]
    )


def test_invalid_json_is_a_422(client):
    response = client.post("/predict", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


# ---- the OpenAPI documents the generated request model ------------------------------------------


def test_openapi_documents_both_request_shapes(client, card):
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    refs = {option["$ref"].rsplit("/", 1)[-1] for option in body["schema"]["oneOf"]}
    assert refs == {"SingleRequest", "BatchRequest"}
    instance = schema["components"]["schemas"]["Instance"]
    assert instance["additionalProperties"] is False
    assert set(instance["properties"]) == {f.name for f in card.features}
    assert set(body["examples"]) == {"one", "batch"}
    assert set(schema["paths"]["/predict"]["post"]["responses"]) >= {"200", "413", "422", "503"}
    assert "up to 20000 bytes" in schema["info"]["description"]
