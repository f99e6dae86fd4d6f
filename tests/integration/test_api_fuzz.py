"""Schemathesis against the platform API's OpenAPI document (the governance API with the
platform's routes), over real HTTP on 127.0.0.1: whatever a client sends, never a 500."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.settings import DEFAULT_POLICY, Settings
from tests.api_fuzz import fuzz_openapi
from tests.asgi_server import ServedApp

DIGEST = "4" * 64


@pytest.fixture(scope="module")
def platform(tmp_path_factory) -> Iterator[tuple[str, str, dict]]:
    """The served platform API, a checker's bearer token and the app's OpenAPI document."""
    from aurora_pipelines.platform_api.app import create_platform_app

    root: Path = tmp_path_factory.mktemp("fuzz")
    settings_ = Settings(home=root, governance_url=f"sqlite:///{root / 'gov.db'}")
    store = GovernanceStore(settings_.governance_db_url, load_policy(DEFAULT_POLICY))
    store.request_approval("credit", "staging", "m", 1, DIGEST, "ds_alice")
    token, _ = store.create_token("validator_bob", "validator_bob")
    app = create_platform_app(settings_, store)
    try:
        with ServedApp(app) as served:
            yield served.url, token, app.openapi()
    finally:
        store.dispose()


def test_the_platform_api_answers_any_input_without_a_server_error(platform):
    url, token, document = platform
    fuzzed = fuzz_openapi(url, document, {"Authorization": f"Bearer {token}"}, examples=25)
    assert "POST /api/v1/approvals/{request_id}/decision" in fuzzed and len(fuzzed) >= 4


def test_anonymous_and_forged_callers_get_no_server_error_either(platform):
    url, _, document = platform
    fuzz_openapi(url, document, {}, examples=8)
    fuzz_openapi(url, document, {"Authorization": "Bearer aur_forged"}, examples=8)


def test_an_id_beyond_bigint_is_a_422_not_a_500(platform):
    """Found by the fuzzer: SQLite cannot bind a 2**70 id; the API now refuses it up front."""
    import httpx

    url, token, _ = platform
    response = httpx.get(
        f"{url}/api/v1/approvals/{2**70}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 422 and "request_id" in response.text
