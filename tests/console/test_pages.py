"""The console's pages and static files: shipped in the package, served with the strict security headers,
and the page holds no inline script or style (the CSP would refuse it)."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette

from proxy.console.pages import STATIC_TYPES, static_file
from proxy.console.web import CSP

pytestmark = pytest.mark.anyio
HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
           "cache-control": "no-store"}


def assert_console_headers(response: httpx.Response) -> None:
    for name, value in HEADERS.items():
        assert response.headers[name] == value, name


async def test_static_files_are_public_with_their_types(app: Starlette) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://admin") as anon:
        for name, media_type in STATIC_TYPES.items():
            r = await anon.get(f"/console/static/{name}")
            assert r.status_code == 200 and r.headers["content-type"] == media_type and r.content
            assert_console_headers(r)
        for name in ("console.html", "../__init__.py", "nope.js"):
            assert (await anon.get(f"/console/static/{name}")).status_code in (401, 404), name
        login = await anon.get("/console/login")
        assert login.status_code == 200 and 'name="token"' in login.text
        assert_console_headers(login)


async def test_the_page_and_whoami_for_a_logged_in_responder(client: httpx.AsyncClient) -> None:
    page = await client.get("/console/")
    assert page.status_code == 200 and '<script src="/console/static/console.js"' in page.text
    assert_console_headers(page)
    me = await client.get("/console/session")
    assert me.json()["actor"] == "oncall-alice" and me.json()["upstreams"] == []
    assert_console_headers(me)


def test_no_inline_script_style_or_handler_in_what_ships() -> None:
    page = static_file("console.html").decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)  # every script is a file
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", page)
    script = static_file("console.js").decode()
    assert "innerHTML" not in script and "eval(" not in script and "http://" not in script
    assert "https://" not in script and "https://" not in page  # no CDN: works offline
