"""GET /, GET /docs and /static (serving/routes/pages.py): both pages work offline."""

import re


def test_docs_use_local_assets_only(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/static/") for a in assets), assets
    assert "http://" not in page.text and "https://" not in page.text
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
    assert len(client.get("/static/swagger-ui/swagger-ui-bundle.js").content) > 500_000


def test_demo_page_is_self_contained(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "<form" in page.text
    assert "http://" not in page.text and "https://" not in page.text


def test_pages_stay_out_of_the_openapi(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert not {"/", "/docs", "/favicon.ico"} & set(paths)
