"""`GET /v1/alerts`: the latest alerts and findings from this replica's audit files, filtered and bounded."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from proxy.admin.app import AdminDeps, build_admin_app
from proxy.admin.routes_alerts import tail_lines
from proxy.audit import system_event

from .conftest import AUTH

pytestmark = pytest.mark.anyio
INJECTION = {"detector": "injection.ignore_previous", "severity": "SEV-2", "message": "instruction override",
             "atlas": "AML.T0051.001"}
CANARY = {"detector": "canary.call", "severity": "SEV-1", "message": "canary tool called"}
BENIGN = {"detector": "unicode.bidi", "severity": "SEV-4", "message": "bidi control"}


def decision(principal: str, *findings: dict[str, Any]) -> dict[str, Any]:
    return system_event("decision", principal=principal, agent="copilot", session_id="s-1", client_key="s-1",
                        upstream="default", tool="read_file", verdict="deny" if findings else "allow",
                        findings=list(findings))


def alert(principal: str, detection: str, severity: str) -> dict[str, Any]:
    return system_event("alert", detection=detection, severity=severity, atlas="AML.T0051.001",
                        summary=f"{detection} fired", principal=principal, agent="copilot", session_id="s-1",
                        client_key="s-1", upstream="default", tool="read_file")


def write(path: Path, events: list[dict[str, Any]]) -> None:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))


async def feed(deps: AdminDeps, paths: list[Path], query: str = "") -> httpx.Response:
    app = build_admin_app(dataclasses.replace(deps, audit_paths=lambda: paths))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://admin", headers=AUTH) as c:
        return await c.get(f"/v1/alerts{query}")


async def test_alerts_and_findings_newest_first_across_rotated_files(deps: AdminDeps, tmp_path: Path) -> None:
    old, live = tmp_path / "audit.20261205T000000.000Z.jsonl", tmp_path / "audit.jsonl"
    write(old, [decision("alice", INJECTION), decision("alice")])
    write(live, [decision("bob"), alert("alice", "result_injection", "SEV-2"),
                 decision("mallory", BENIGN, CANARY, {**CANARY, "path": "structuredContent"})])
    r = await feed(deps, [old, live])
    assert r.status_code == 200
    items = r.json()["items"]
    assert [(i["kind"], i["detection"], i["principal"]) for i in items] == [
        ("finding", "canary.call", "mallory"), ("finding", "unicode.bidi", "mallory"),
        ("alert", "result_injection", "alice"), ("finding", "injection.ignore_previous", "alice")]
    assert items[0]["verdict"] == "deny" and items[2]["summary"] == "result_injection fired"


@pytest.mark.parametrize(("query", "expected"), [
    ("?severity=SEV-2", ["canary.call", "result_injection", "injection.ignore_previous"]),
    ("?severity=SEV-1", ["canary.call"]),
    ("?detection=injection.*", ["injection.ignore_previous"]),
    ("?detection=result_injection", ["result_injection"]),
    ("?principal=mallory", ["canary.call", "unicode.bidi"]),
    ("?limit=1", ["canary.call"]),
])
async def test_filters(deps: AdminDeps, tmp_path: Path, query: str, expected: list[str]) -> None:
    live = tmp_path / "audit.jsonl"
    write(live, [decision("alice", INJECTION), alert("alice", "result_injection", "SEV-2"),
                 decision("mallory", BENIGN, CANARY)])
    r = await feed(deps, [live], query)
    assert [i["detection"] for i in r.json()["items"]] == expected


@pytest.mark.parametrize("query", ["?limit=0", "?limit=5000", "?limit=x", "?severity=high", "?principal=" + "a" * 300])
async def test_bad_queries_are_400(deps: AdminDeps, tmp_path: Path, query: str) -> None:
    r = await feed(deps, [], query)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"


async def test_no_audit_file_is_an_empty_feed(deps: AdminDeps) -> None:
    r = await feed(deps, [])
    assert r.status_code == 200 and r.json()["items"] == []


def test_the_tail_is_bounded_and_starts_on_a_whole_line(tmp_path: Path) -> None:
    live = tmp_path / "audit.jsonl"
    live.write_bytes(b"".join(b'{"n":%d}\n' % n for n in range(1000)))
    lines = list(tail_lines([live], budget=100))
    assert lines[0] == b'{"n":999}' and len(lines) < 12
    assert all(orjson.loads(line)["n"] > 980 for line in lines)
