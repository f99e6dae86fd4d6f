"""The checker's web page in a real headless Chromium against `aurora governance serve` on
127.0.0.1: a validator signs in with a personal token, sees the request, reviews card, UAT,
metrics and the difference to the champion, and approves; the requester sees no approve button;
forged, cross-site, replayed and wrong-digest posts are refused with 403 and audited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.settings import DEFAULT_POLICY
from tests.browser import browser  # noqa: F401 — the fixture
from tests.governance_server import governance_server

D1, D2, D3 = "1" * 64, "2" * 64, "3" * 64


@dataclass
class Site:
    url: str
    store: GovernanceStore
    tokens: dict[str, str]
    home: Path


def _register_versions(tracking_uri: str) -> None:
    """credit_model v1 (the champion alias) and v2, each from a real MLflow run."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.create_experiment("credit")
    client.create_registered_model("credit_model")
    for auc, depth in ((0.80, "3"), (0.84, "5")):
        run = client.create_run(experiment)
        client.log_metric(run.info.run_id, "roc_auc", auc)
        client.log_param(run.info.run_id, "max_depth", depth)
        client.log_param(run.info.run_id, "algorithm", "hist_gradient_boosting")
        client.set_terminated(run.info.run_id)
        client.create_model_version(
            "credit_model", f"runs:/{run.info.run_id}/model", run.info.run_id
        )
    client.set_registered_model_alias("credit_model", "champion", "1")


def _evidence(home: Path) -> dict[str, str]:
    card = home / "reports" / "credit" / "model_card" / "v2" / "model_card.html"
    card.parent.mkdir(parents=True)
    card.write_text("<html><body><h1>Model card of credit_model v2</h1></body></html>")
    return {"model_card": str(card), "dagster_run_id": "run-123"}


@contextmanager
def _serve(tmp_path: Path, *, registry: bool) -> Iterator[Site]:
    home = tmp_path / "home"
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {
        "AURORA_HOME": str(home),
        "AURORA_GOVERNANCE_URL": f"sqlite:///{home / 'governance.db'}",
        "AURORA_POLICY": str(DEFAULT_POLICY),
        "AURORA_MLFLOW_TRACKING_URI": tracking,
    }
    store = GovernanceStore(env["AURORA_GOVERNANCE_URL"], load_policy(DEFAULT_POLICY))
    if registry:
        _register_versions(tracking)
    store.request_approval(
        "credit", "staging", "credit_model", 2, D2, "ds_alice", details=_evidence(home)
    )
    tokens = {u: store.create_token(u, u)[0] for u in ("validator_bob", "ds_alice")}
    with governance_server(env) as url:
        yield Site(url, store, tokens, home)
    store.dispose()


@pytest.fixture()
def site(tmp_path: Path) -> Iterator[Site]:
    """The server over a governance DB with one pending request and a real MLflow registry."""
    with _serve(tmp_path, registry=True) as served:
        yield served


@pytest.fixture()
def plain_site(tmp_path: Path) -> Iterator[Site]:
    """The same without registry runs (the page then shows the request's own evidence)."""
    with _serve(tmp_path, registry=False) as served:
        yield served


def _sign_in(browser, site: Site, user: str):  # noqa: F811 — the fixture
    context = browser.new_context(base_url=site.url)
    page = context.new_page()
    page.goto("/ui/login")
    page.fill("#token", site.tokens[user])
    page.click("#sign-in")
    page.wait_for_url("**/ui/queue")
    assert page.text_content("#whoami") == user
    return context, page


def _cookies(context) -> dict[str, str]:
    return {c["name"]: c["value"] for c in context.cookies()}


def _form(page) -> dict[str, str]:
    """The decision form's fields as the browser holds them."""
    return page.eval_on_selector(
        "#decide",
        "f => Object.fromEntries([...f.querySelectorAll('input[type=hidden]')]"
        ".map(i => [i.name, i.value]))",
    )


def _denials(store: GovernanceStore, action: str) -> list[dict]:
    return [
        row
        for row in store.read_audit(event="access_denied")
        if row["details"].get("action") == action
    ]


def test_validator_signs_in_reviews_and_approves(browser, site: Site, tmp_path: Path) -> None:  # noqa: F811
    context, page = _sign_in(browser, site, "validator_bob")
    request_id = site.store.list_requests()[0].id
    row = page.locator(f"#to-decide tr[data-request='{request_id}']")
    assert "credit_model" in row.text_content()
    row.locator("a").click()
    page.wait_for_url(f"**/ui/requests/{request_id}")

    assert page.text_content("#digest") == D2
    metrics = page.text_content("#metrics")
    assert "roc_auc" in metrics and "0.8400" in metrics and "0.8000" in metrics
    assert "0.0400" in metrics  # the difference to champion v1
    assert "champion v1" in page.text_content("#champion-note")
    assert "max_depth" in page.text_content("#params")
    card = page.frame_locator("#model-card").locator("h1")
    assert card.text_content() == "Model card of credit_model v2"
    page.screenshot(path=str(tmp_path / "request.png"), full_page=True)

    page.fill("#comment", "validated: AUC up 0.04 on the holdout")
    page.click("#approve")
    page.wait_for_selector("#flash")
    assert page.text_content("#status") == "approved"
    assert site.store.verify_approval("staging", "credit_model", 2, D2).ok
    decided = site.store.read_audit(event="approval_approved")[-1]
    assert decided["actor"] == "validator_bob"
    assert site.store.read_audit(event="web_login")[-1]["actor"] == "validator_bob"
    context.close()


def test_requester_sees_no_approve_button_and_a_forged_post_is_refused(browser, site: Site) -> None:  # noqa: F811
    request_id = site.store.list_requests()[0].id
    context, page = _sign_in(browser, site, "ds_alice")
    assert page.locator("#to-decide").count() == 0
    assert page.locator(f"#mine tr[data-request='{request_id}']").count() == 1
    page.goto(f"/ui/requests/{request_id}")
    assert page.locator("#approve").count() == 0
    assert page.locator("#decide").count() == 0
    assert "maker-checker" in page.text_content("#refusal")

    # A hand-made post with her own valid session cookie, but no CSRF or form token.
    forged = httpx.post(
        f"{site.url}/ui/requests/{request_id}/decision",
        data={"decision": "approve", "model_version": "2", "model_digest": D2},
        cookies=_cookies(context),
    )
    assert forged.status_code == 403
    assert "CSRF" in forged.text
    denial = _denials(site.store, "web_decision")[-1]
    assert (denial["actor"], denial["target"]) == ("ds_alice", f"approval_request/{request_id}")
    assert site.store.get_request(request_id).status == "pending"
    context.close()


def test_cross_site_form_cannot_decide_for_a_signed_in_validator(browser, site: Site) -> None:  # noqa: F811
    request_id = site.store.list_requests()[0].id
    context, page = _sign_in(browser, site, "validator_bob")
    evil = context.new_page()
    evil.set_content(
        f"<form method=post action='{site.url}/ui/requests/{request_id}/decision'>"
        "<input name=decision value=approve><input name=model_version value=2>"
        f"<input name=model_digest value={D2}><button id=go>win a prize</button></form>"
    )
    with evil.expect_navigation():
        evil.click("#go")
    assert "without a valid session" in evil.text_content("#message")
    assert site.store.get_request(request_id).status == "pending"
    assert _denials(site.store, "web_decision")[-1]["actor"] == "<anonymous>"
    context.close()


def test_replayed_and_wrong_digest_posts_are_refused(browser, site: Site) -> None:  # noqa: F811
    site.store.request_approval("credit", "staging", "other_model", 7, D3, "ds_alice")
    first, second = site.store.list_requests()
    context, page = _sign_in(browser, site, "validator_bob")

    # The digest the checker saw is posted with the decision; another version's is refused.
    page.goto(f"/ui/requests/{second.id}")
    page.eval_on_selector("input[name=model_digest]", f"i => i.value = '{D1}'")
    page.click("#approve")
    assert "checker was shown" in page.text_content("#message")
    assert site.store.get_request(second.id).status == "pending"
    wrong = _denials(site.store, "web_decision")[-1]
    assert wrong["target"] == f"approval_request/{second.id}"

    # A captured post, replayed after it was used, is refused before the approval engine.
    page.goto(f"/ui/requests/{first.id}")
    fields = {**_form(page), "decision": "request_changes", "comment": "add a calibration plot"}
    page.fill("#comment", "add a calibration plot")
    page.click("#request_changes")
    page.wait_for_selector("#flash")
    replay = httpx.post(
        f"{site.url}/ui/requests/{first.id}/decision", data=fields, cookies=_cookies(context)
    )
    assert replay.status_code == 403
    assert "replayed" in replay.text
    assert "replayed" in _denials(site.store, "web_decision")[-1]["details"]["reason"]
    context.close()


def _http_sign_in(site: Site, user: str) -> httpx.Client:
    """Sign in over plain HTTP as a browser would: login page, then the form post."""
    client = httpx.Client(base_url=site.url, timeout=30)
    page = client.get("/ui/login")
    nonce = re.search(r'name="login_nonce" value="([0-9a-f]+)"', page.text).group(1)
    response = client.post("/ui/login", data={"login_nonce": nonce, "token": site.tokens[user]})
    assert response.status_code == 303 and response.headers["location"] == "/ui/queue"
    return client


def test_revoking_the_token_ends_its_page_session(plain_site: Site) -> None:
    client = _http_sign_in(plain_site, "validator_bob")
    assert client.get("/ui/queue").status_code == 200
    token_id = plain_site.store.list_tokens("validator_bob")[0].id
    plain_site.store.revoke_token(token_id, "validator_bob")
    response = client.get("/ui/queue")
    assert (response.status_code, response.headers["location"]) == (303, "/ui/login")


def test_tampered_session_cookie_is_not_a_session(plain_site: Site) -> None:
    client = _http_sign_in(plain_site, "ds_alice")
    body, mac = client.cookies["aurora_session"].split(".")
    forged = httpx.get(f"{plain_site.url}/ui/queue", cookies={"aurora_session": f"{body}x.{mac}"})
    assert forged.status_code == 303  # back to the login page


def test_login_with_an_unknown_token_is_refused_and_audited(plain_site: Site) -> None:
    client = httpx.Client(base_url=plain_site.url, timeout=30)
    page = client.get("/ui/login")
    nonce = re.search(r'name="login_nonce" value="([0-9a-f]+)"', page.text).group(1)
    response = client.post("/ui/login", data={"login_nonce": nonce, "token": "aur_guess"})
    assert response.status_code == 401 and "unknown bearer token" in response.text
    denial = plain_site.store.read_audit(event="access_denied")[-1]
    assert denial["target"] == "web:POST /ui/login"
    assert "aurora_session" not in client.cookies


def test_logged_out_session_cookie_cannot_decide(plain_site: Site) -> None:
    client = _http_sign_in(plain_site, "validator_bob")
    request_id = plain_site.store.list_requests()[0].id
    page = client.get(f"/ui/requests/{request_id}").text
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))
    cookie = client.cookies["aurora_session"]
    client.post("/ui/logout", data={"csrf": fields["csrf"]})
    response = httpx.post(
        f"{plain_site.url}/ui/requests/{request_id}/decision",
        data={**fields, "decision": "approve"},
        cookies={"aurora_session": cookie},
    )
    assert response.status_code == 403 and "without a valid session" in response.text
    assert plain_site.store.get_request(request_id).status == "pending"


def test_page_without_registry_shows_the_request_evidence(plain_site: Site) -> None:
    client = _http_sign_in(plain_site, "validator_bob")
    request_id = plain_site.store.list_requests()[0].id
    page = client.get(f"/ui/requests/{request_id}")
    assert page.status_code == 200 and "no champion yet" in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # no script may run
    card = client.get(f"/ui/requests/{request_id}/evidence/model_card")
    assert "Model card of credit_model v2" in card.text
    assert card.headers["content-security-policy"].startswith("sandbox")
    assert client.get(f"/ui/requests/{request_id}/evidence/uat_report").status_code == 404


def test_queue_lists_only_what_the_caller_may_decide(plain_site: Site) -> None:
    carol = plain_site.store.create_token("mrm_carol", "mrm_carol")[0]
    plain_site.tokens["mrm_carol"] = carol
    production = plain_site.store.request_approval(
        "credit", "production", "credit_model", 2, D2, "ds_alice"
    )
    page = _http_sign_in(plain_site, "mrm_carol").get("/ui/queue").text
    listed = re.findall(r'<tr data-request="(\d+)">', page)
    assert listed == [str(production.id)]  # the staging request is for model validators
