"""The OpenAPI document, the docs page and the metrics endpoint."""

from openapi_spec_validator import validate


def test_the_openapi_document_is_valid_openapi_3(client):
    spec = client.get("/openapi.json").json

    validate(spec)
    assert spec["openapi"].startswith("3.")


def test_every_api_route_is_documented_with_its_methods(app, client):
    paths = client.get("/openapi.json").json["paths"]

    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/", "/health/")):
            continue
        path = rule.rule.replace("<int:", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths[path], f"{method} {path} is not documented"


def test_request_and_response_schemas_come_from_the_marshmallow_schemas(client):
    spec = client.get("/openapi.json").json
    schemas = spec["components"]["schemas"]
    sign_up = spec["paths"]["/api/users"]["post"]

    assert sign_up["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SignUp"
    }
    assert set(schemas["SignUp"]["required"]) == {"email", "name", "password"}
    assert "password" not in schemas["User"]["properties"]
    assert sign_up["responses"]["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_admin_routes_document_the_bearer_scheme_and_403(client):
    operation = client.get("/openapi.json").json["paths"]["/api/products"]["post"]

    assert operation["security"] == [{"bearerAuth": []}]
    assert {"401", "403"} <= set(operation["responses"])


def test_the_docs_page_is_served_with_its_assets_locally(client):
    page = client.get("/docs")
    script = client.get("/docs/static/swagger-ui-bundle.js")

    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "/openapi.json" in page.get_data(as_text=True)
    assert "http" not in page.get_data(as_text=True).replace("http-equiv", "")
    assert script.status_code == 200 and len(script.data) > 100_000


def test_metrics_count_requests_by_route_and_status(client):
    client.get("/health/live")
    client.get("/no/such/page")

    text = client.get("/metrics").get_data(as_text=True)

    assert (
        'gateway_http_requests_total{method="GET",route="/health/live",status="200"} 1.0' in text
    )
    assert 'route="<unmatched>",status="404"' in text
    assert "gateway_http_request_duration_seconds_bucket" in text
    assert 'gateway_http_errors_total{code="NOT_FOUND"' in text
