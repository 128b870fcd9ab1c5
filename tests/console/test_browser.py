"""The console in headless Chromium against a real `drawbridge serve` with its admin listener, the demo MCP
server upstream and the official SDK client as the agent: log in, see the live session, quarantine it and
watch the agent's next call fail, read the alerts feed and the timeline, export the evidence bundle, approve
a held call and watch it complete, approve a changed tool definition after reading its diff; an
anonymous visitor gets the login page, and a change without the CSRF token is refused and audited."""

from __future__ import annotations

import contextlib
import gzip
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from proxy.console.web import CSP
from tests.e2e.conftest import AUTH, IDENTITY
from tests.e2e.test_approvals import approval_policy
from tests.e2e.test_killswitch import QUARANTINED, refusal
from tests.e2e.test_pins_e2e import RUGPULL_SERVER, listed
from tests.support import rig
from tests.support.drawbridge import ADMIN_TOKEN, Drawbridge, run_drawbridge
from tests.support.sdk import sdk_client
from tests.support.servers.rugpull_server import CLEAN, RUGPULL

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
SECONDS = 120  # the most one browser test may take
VIEW = {"width": 1440, "height": 900}


@pytest.fixture
def proxy(demo_server: str, tmp_path: Path) -> Any:
    with run_drawbridge(tmp_path, {"default": demo_server}, extra={"identity": IDENTITY}, admin=True) as running:
        yield running


async def logged_in(chromium: Any, proxy: Drawbridge) -> Any:
    """A page of a fresh browser context, logged in to the console with the admin token."""
    context = await chromium.new_context(viewport=VIEW, accept_downloads=True)
    page = await context.new_page()
    page.set_default_timeout(20_000)
    await page.goto(f"{proxy.admin_url}/console/")
    await page.fill("#token", ADMIN_TOKEN)
    await page.click("#login")
    await page.locator("#actor", has_text="env-token").wait_for()
    return page


def csp_violations(page: Any) -> list[str]:
    """Console messages about a Content-Security-Policy violation (an inline script or style would be one)."""
    seen: list[str] = []
    page.on("console", lambda message: seen.append(message.text)
            if "Content Security Policy" in message.text else None)
    return seen


async def test_a_responder_contains_a_live_session_from_the_browser(chromium: Any, proxy: Drawbridge,
                                                                     screenshots: Path, tmp_path: Path) -> None:
    with anyio.fail_after(SECONDS):
        async with sdk_client(proxy.mcp_url(), mode="legacy", headers=AUTH) as agent:
            await agent.call_tool("get_weather", {"city": "Oslo"})
            with contextlib.suppress(MCPError):  # the planted note: refused, with an injection finding
                await agent.call_tool("search_notes", {"query": "vendor"})
            page = await logged_in(chromium, proxy)
            violations = csp_violations(page)
            row = page.locator('#sessions tr[data-principal="alice"]')
            await row.wait_for()
            await page.screenshot(path=screenshots / "sessions.png", full_page=True)

            await page.click('button[data-tab="alerts"]')
            await page.locator('#alerts tr[data-detection^="injection"]').first.wait_for()
            await page.screenshot(path=screenshots / "alerts.png", full_page=True)
            await page.select_option("#alert-severity", "SEV-1")
            await page.locator("#alerts-empty").wait_for()  # the filter applies: no SEV-1 here

            await page.click('button[data-tab="sessions"]')
            await page.fill("#reason", "prompt injection, exfiltration attempt")
            await page.fill("#ticket", "IR-7")
            await row.locator("select.kind").select_option("principal")
            await row.locator("select.mode").select_option("block")
            await row.locator("button.quarantine").click()
            await page.locator("#flash", has_text="quarantine: done").wait_for()
            with pytest.raises(MCPError):  # block mode ends the principal's sessions on every replica
                await agent.call_tool("get_weather", {"city": "Oslo"})
            await row.wait_for(state="detached")  # and the console's list follows
        again = await refusal(proxy, "get_weather", {"city": "Oslo"})  # a new session is refused too
        assert again is not None and again.error.code == QUARANTINED and "IR-7" in again.error.message

        [action] = proxy.events("containment_action")
        assert action["action"] == "quarantine" and action["actor"] == "env-token" and action["ticket"] == "IR-7"
        assert action["subject"] == "alice" and action["mode"] == "block"

        await page.click('button[data-tab="timeline"]')
        await page.fill("#tl-subject", "alice")
        await page.click("#tl-show")
        await page.locator("#timeline tr", has_text="quarantine").first.wait_for()
        await page.screenshot(path=screenshots / "timeline.png", full_page=True)
        async with page.expect_download() as download:
            await page.click("#tl-export")
        bundle = tmp_path / (await download.value).suggested_filename
        await (await download.value).save_as(bundle)
        assert bundle.name.startswith("incident-principal-") and gzip.decompress(bundle.read_bytes())
        assert [e["actor"] for e in proxy.events("incident_export")] == ["env-token"]
        assert violations == []


async def test_anonymous_visitors_get_the_login_page_and_csrf_is_enforced(chromium: Any,
                                                                          proxy: Drawbridge) -> None:
    with anyio.fail_after(SECONDS):
        context = await chromium.new_context(viewport=VIEW)
        page = await context.new_page()
        page.set_default_timeout(20_000)
        answer = await page.goto(f"{proxy.admin_url}/console/")
        assert answer is not None and answer.status == 401
        assert (await answer.all_headers())["content-security-policy"] == CSP
        await page.locator("#token").wait_for()
        api = await page.goto(f"{proxy.admin_url}/v1/sessions")
        assert api is not None and api.status == 401 and (await api.json())["error"]["code"] == "unauthorized"
        await page.goto(f"{proxy.admin_url}/console/login")
        await page.fill("#token", "not-the-token")
        await page.click("#login")
        await page.locator(".error", has_text="not an admin token").wait_for()

        page = await logged_in(chromium, proxy)
        status = await page.evaluate("""() => fetch('/v1/quarantines', {method: 'POST',
            headers: {'content-type': 'application/json'},
            body: JSON.stringify({kind: 'principal', subject: 'alice', reason: 'forged'})}).then(r => r.status)""")
        assert status == 403
        refused = [e for e in proxy.events("console_access") if e["action"] == "csrf_refused"]
        assert [(e["actor"], e["path"]) for e in refused] == [("env-token", "/v1/quarantines")]
        assert proxy.events("containment_action") == []
        assert {e["action"] for e in proxy.events("console_access")} == {"login", "login_refused", "csrf_refused"}


async def test_a_responder_approves_a_held_call_in_the_browser(chromium: Any, demo_server: str, tmp_path: Path,
                                                               screenshots: Path) -> None:
    with anyio.fail_after(SECONDS), run_drawbridge(tmp_path, {"default": demo_server},
                                                   policy=approval_policy(tmp_path),
                                                   extra={"identity": IDENTITY}, admin=True) as proxy:
        answers: list[str] = []

        async def agent() -> None:
            async with sdk_client(proxy.mcp_url(), mode="legacy", headers=AUTH, read_timeout=60) as client:
                result = await client.call_tool("get_weather", {"city": "Oslo"})
                answers.append("".join(getattr(c, "text", "") for c in result.content))

        async with anyio.create_task_group() as group:
            group.start_soon(agent)
            page = await logged_in(chromium, proxy)
            await page.click('button[data-tab="approvals"]')
            card = page.locator("article.approval", has_text="get_weather on default")
            await card.wait_for()
            assert '"city": "Oslo"' in await card.locator("pre.arguments").inner_text()
            await page.fill("#reason", "checked with the user")
            await page.screenshot(path=screenshots / "approvals.png", full_page=True)
            assert answers == []  # still held
            await card.locator("button.approve").click()
        assert answers and answers[0].startswith("Oslo:")  # the upstream's answer reached the agent
        await page.locator("#approvals-empty").wait_for()
        [approved] = [e for e in proxy.events("approval") if e["action"] == "approved"]
        assert approved["actor"] == "env-token" and approved["reason"] == "checked with the user"


async def test_a_reviewer_approves_a_changed_tool_definition_in_the_browser(chromium: Any, tmp_path: Path,
                                                                            screenshots: Path) -> None:
    with anyio.fail_after(SECONDS), rig.start_python_server(RUGPULL_SERVER, None, "--port", "{port}") as server, \
            run_drawbridge(tmp_path, {"wx": server}, extra={"pins": {"upstreams": {"wx": {"mode": "tofu"}}}},
                           admin=True) as proxy:
        assert (await listed(proxy))["weather"] == CLEAN  # first sight: pinned as served
        assert "weather" not in await listed(proxy)  # the rug pull: withheld, pending review
        page = await logged_in(chromium, proxy)
        await page.click('button[data-tab="pins"]')
        card = page.locator("article.pin", has_text="weather on wx")
        await card.wait_for()
        assert "air quality" in await card.locator("pre.diff").inner_text()  # the semantic diff
        await page.fill("#reason", "reviewed the new description")
        await page.screenshot(path=screenshots / "tool-changes.png", full_page=True)
        await card.locator("button.approve").click()
        await page.locator("#pins-empty").wait_for()
        assert (await listed(proxy))["weather"] == RUGPULL
        [approved] = proxy.events("pin_approved")
        assert approved["approver"] == "env-token" and approved["reason"] == "reviewed the new description"
