"""Property-based API tests generated from the service's own OpenAPI schema (schemathesis).

Every operation but ``/admin/reload`` (which would reload the model on each
example) is called with schema-conforming and schema-violating requests
against a real server, once without API keys and once with keys (where
schemathesis also checks that requests without the key are refused); none
may answer 500, and the answers must match the documented status codes,
content types and response schemas.
"""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install 'sujian-router[serve]'")
pytest.importorskip("uvicorn", reason="the serve extra is not installed: pip install 'sujian-router[serve]'")
pytest.importorskip("prometheus_client", reason="the serve extra is not installed: pip install 'sujian-router[serve]'")
schemathesis = pytest.importorskip("schemathesis", reason="the test extra is not installed: pip install '.[test]'")

from hypothesis import HealthCheck, settings  # noqa: E402
from serve_harness import ThreadServer  # noqa: E402

from sujian_router.service import ServiceSettings, create_app  # noqa: E402


KEY = "schema-test-key"
_SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                            HealthCheck.data_too_large])


def _serve(saved_router, **extra):
    app = create_app(ServiceSettings(model=str(saved_router), max_body_bytes=256 * 1024, max_batch=20, **extra))
    server = ThreadServer(app).__enter__()
    server.wait_ready()
    return server


@pytest.fixture(scope="module")
def open_schema(saved_router):
    server = _serve(saved_router)
    yield schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    server.__exit__(None, None, None)


@pytest.fixture(scope="module")
def keyed_schema(saved_router, tmp_path_factory):
    key_file = tmp_path_factory.mktemp("schema_keys") / "keys.txt"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    server = _serve(saved_router, api_key_file=str(key_file))
    yield schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    server.__exit__(None, None, None)


open_api = schemathesis.pytest.from_fixture("open_schema").exclude(path="/admin/reload")
keyed_api = schemathesis.pytest.from_fixture("keyed_schema").exclude(path="/admin/reload")


def _excluded(case):
    """Checks that do not apply to this operation.

    The batch endpoint answers 413 (as documented) to more tickets than the published ``maxItems``;
    schemathesis's negative-data check knows only 400/422-style rejections, so it is replaced there
    by the assertion below that such a request is refused with a 4xx.
    """
    from schemathesis.checks import negative_data_rejection

    return [negative_data_rejection] if case.operation.path == "/v1/route/batch" else []


def _refused_if_too_many(case, response):
    tickets = case.body.get("tickets") if isinstance(case.body, dict) else None
    if isinstance(tickets, list) and len(tickets) > 20:
        assert response.status_code == 413


@open_api.parametrize()
@_SETTINGS
def test_without_keys_no_operation_answers_500_or_breaks_its_schema(case):
    response = case.call_and_validate(excluded_checks=_excluded(case))
    assert response.status_code < 500
    _refused_if_too_many(case, response)


@keyed_api.parametrize()
@_SETTINGS
def test_with_keys_no_operation_answers_500_or_breaks_its_schema(case):
    response = case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"}, excluded_checks=_excluded(case))
    assert response.status_code < 500
    _refused_if_too_many(case, response)
