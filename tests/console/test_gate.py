"""The console's cookie path through the real admin app: login, session cookie, CSRF, the login page for
anonymous page requests, and bearer clients exactly as before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from proxy.console.web import COOKIE, CSP, CSRF_COOKIE
from proxy.state.sqlite import SQLiteStore
from tests.admin.conftest import AUTH, TOKEN

pytestmark = pytest.mark.anyio
QUARANTINE = {"kind": "principal", "subject": "alice", "mode": "block", "reason": "exfiltration"}


@pytest.fixture
async def browser(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-less HTTP client on the loopback address, as a browser on the responder's host."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app, client=("127.0.0.1", 50123)),
                                 base_url="http://127.0.0.1:8081") as c:
        yield c


async def log_in(browser: httpx.AsyncClient, token: str = TOKEN) -> dict[str, str]:
    """Post the login form; the cookies it sets."""
    r = await browser.post("/console/login", data={"token": token})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/console/"
    return {name: r.cookies[name] for name in (COOKIE, CSRF_COOKIE)}


def jar(cookies: dict[str, str]) -> dict[str, str]:
    return {"cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}


def console_events(audit: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [e for e in audit if e["event_type"] == "console_access" and e["action"] == action]


async def test_login_sets_strict_http_only_cookies_and_audits(browser: httpx.AsyncClient, store: SQLiteStore,
                                                              audit: list[dict[str, Any]]) -> None:
    r = await browser.post("/console/login", data={"token": TOKEN})
    assert r.status_code == 303
    session, csrf = (h for h in r.headers.get_list("set-cookie"))
    assert session.startswith(f"{COOKIE}=") and "HttpOnly" in session and "SameSite=Strict" in session
    assert "Path=/" in session and "Max-Age=28800" in session and "Secure" not in session  # plain-HTTP loopback
    assert csrf.startswith(f"{CSRF_COOKIE}=") and "HttpOnly" not in csrf and "SameSite=Strict" in csrf
    [event] = console_events(audit, "login")
    assert event["actor"] == "oncall-alice" and event["client_address"] == "127.0.0.1:50123"
    # The store keeps digests only: neither the cookie nor the CSRF token, nor the admin token.
    records = await store.rec_list("console_sessions")
    assert len(records) == 1 and r.cookies[COOKIE] not in str(records) and TOKEN not in str(records)
    assert r.cookies[CSRF_COOKIE] not in str(records)


async def test_cookies_are_secure_off_loopback(app: Starlette) -> None:
    for base in ("https://127.0.0.1:8443", "http://10.0.0.7:8081"):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=base) as remote:
            r = await remote.post("/console/login", data={"token": TOKEN})
            assert all("Secure" in h for h in r.headers.get_list("set-cookie")), base


async def test_a_wrong_token_gets_the_login_page_again(browser: httpx.AsyncClient,
                                                       audit: list[dict[str, Any]]) -> None:
    r = await browser.post("/console/login", data={"token": "not-a-token<script>"})
    assert r.status_code == 401 and "set-cookie" not in r.headers
    assert "not an admin token" in r.text and "<script>" not in r.text
    assert console_events(audit, "login_refused")[0]["actor"] is None
    for cross_site in ({"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site", "origin": "null"}):
        assert (await browser.post("/console/login", data={"token": TOKEN}, headers=cross_site)).status_code == 401


async def test_unauthenticated_pages_get_the_login_page_and_the_api_401_json(browser: httpx.AsyncClient) -> None:
    for path in ("/console", "/console/", "/console/session"):
        r = await browser.get(path)
        assert r.status_code == 401 and r.headers["content-type"].startswith("text/html"), path
        assert 'action="/console/login"' in r.text and r.headers["content-security-policy"] == CSP
    r = await browser.get("/v1/sessions")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    forged = await browser.get("/v1/sessions", headers=jar({COOKIE: "made-up"}))
    assert forged.status_code == 401


async def test_a_session_reads_the_api_and_acts_with_its_csrf_token(browser: httpx.AsyncClient, store: SQLiteStore,
                                                                    audit: list[dict[str, Any]]) -> None:
    cookies = await log_in(browser)
    r = await browser.get("/v1/sessions", headers=jar(cookies))
    assert r.status_code == 200 and {s["session_id"] for s in r.json()["sessions"]} == {"s-1", "s-2", "s-3"}
    me = (await browser.get("/console/session", headers=jar(cookies))).json()
    assert me["actor"] == "oncall-alice"
    r = await browser.post("/v1/quarantines", json=QUARANTINE,
                           headers={**jar(cookies), "x-csrf-token": cookies[CSRF_COOKIE]})
    assert r.status_code == 201, r.text
    assert r.json()["quarantine"]["actor"] == "oncall-alice"  # audited as the responder
    [action] = [e for e in audit if e["event_type"] == "containment_action"]
    assert action["actor"] == "oncall-alice" and action["action"] == "quarantine"


@pytest.mark.parametrize("csrf", [None, "", "wrong", "cookie-only"])
async def test_a_change_without_the_csrf_token_is_refused_and_audited(browser: httpx.AsyncClient,
                                                                      store: SQLiteStore,
                                                                      audit: list[dict[str, Any]],
                                                                      csrf: str | None) -> None:
    cookies = await log_in(browser)
    headers = jar(cookies)
    if csrf == "cookie-only":  # a header that matches a forged cookie but not the session
        headers = jar({**cookies, CSRF_COOKIE: "forged"})
        headers["x-csrf-token"] = "forged"
    elif csrf is not None:
        headers["x-csrf-token"] = csrf
    r = await browser.post("/v1/quarantines", json=QUARANTINE, headers=headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_required"
    assert store.state().quarantines == ()
    [event] = console_events(audit, "csrf_refused")
    assert event["actor"] == "oncall-alice" and event["path"] == "/v1/quarantines" and event["method"] == "POST"
    assert not [e for e in audit if e["event_type"] == "containment_action"]


async def test_another_sessions_csrf_token_does_not_count(browser: httpx.AsyncClient) -> None:
    first, second = await log_in(browser), await log_in(browser)
    headers = {**jar({COOKIE: first[COOKIE], CSRF_COOKIE: second[CSRF_COOKIE]}), "x-csrf-token": second[CSRF_COOKIE]}
    assert (await browser.post("/v1/quarantines", json=QUARANTINE, headers=headers)).status_code == 403


async def test_logout_ends_the_session_everywhere(browser: httpx.AsyncClient, audit: list[dict[str, Any]]) -> None:
    cookies = await log_in(browser)
    assert (await browser.post("/console/logout", headers=jar(cookies))).status_code == 403  # CSRF here too
    r = await browser.post("/console/logout", headers={**jar(cookies), "x-csrf-token": cookies[CSRF_COOKIE]})
    assert r.status_code == 200 and all("Max-Age=0" in h for h in r.headers.get_list("set-cookie"))
    assert console_events(audit, "logout")[0]["actor"] == "oncall-alice"
    assert (await browser.get("/v1/sessions", headers=jar(cookies))).status_code == 401


async def test_bearer_clients_need_no_csrf_and_ignore_cookies(client: httpx.AsyncClient,
                                                              browser: httpx.AsyncClient) -> None:
    r = await client.post("/v1/quarantines", json=QUARANTINE)
    assert r.status_code == 201
    cookies = await log_in(browser)
    wrong_bearer = {**jar(cookies), "authorization": "Bearer wrong"}
    assert (await browser.get("/v1/sessions", headers=wrong_bearer)).status_code == 401
    assert (await browser.get("/console/session", headers=AUTH)).json()["actor"] == "oncall-alice"
