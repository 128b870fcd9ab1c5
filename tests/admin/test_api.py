"""The admin API through httpx.ASGITransport: auth, every action, limits, OpenAPI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from proxy.admin.app import ENDPOINTS, AdminDeps
from proxy.evidence.recorder import EvidenceRecorder
from proxy.sessions import SessionEnding, SessionInfo
from proxy.state.sqlite import SQLiteStore

from .conftest import TOKEN

pytestmark = pytest.mark.anyio


def actions(audit: list[dict[str, Any]], action: str | None = None) -> list[dict[str, Any]]:
    return [e for e in audit if e["event_type"] == "containment_action" and action in (None, e["action"])]


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer wrong"}, {"authorization": f"Basic {TOKEN}"},
                                     {"authorization": "Bearer "}])
async def test_every_route_needs_a_valid_token(app: Starlette, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://admin") as anon:
        for ep in ENDPOINTS:
            path = ep.path.replace("{", "").replace("}", "")
            r = await anon.request(ep.method, path, headers=headers, json={})
            assert r.status_code == 401, (ep.method, ep.path)
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert r.json()["error"]["code"] == "unauthorized"
        assert (await anon.get("/nope", headers=headers)).status_code == 401


async def test_quarantine_seals_evidence_stores_and_audits(client: httpx.AsyncClient, store: SQLiteStore,
                                                           audit: list[dict[str, Any]],
                                                           recorder: EvidenceRecorder) -> None:
    r = await client.post("/v1/quarantines", json={"kind": "principal", "subject": "alice", "mode": "block",
                                                  "reason": "exfil via fetch", "ticket": "IR-2026-0142", "ttl": "72h"})
    assert r.status_code == 201, r.text
    body = r.json()
    q = store.state().quarantine_for("alice", None, None)
    assert q is not None and q.mode == "block" and q.actor == "oncall-alice" and q.ticket == "IR-2026-0142"
    assert q.expires is not None and abs(q.expires - q.created - 72 * 3600) < 1
    assert body["quarantine"]["expires_in"] > 71 * 3600 and body["token_revocation"] == "not_configured"
    report = recorder.show(body["evidence_id"])
    assert report.verified, report.problems
    assert report.record.subject == "alice" and report.record.exchanges == 2
    assert report.context["policy_version"] == "p-42"
    [event] = actions(audit, "quarantine")
    assert event["actor"] == "oncall-alice" and event["reason"] == "exfil via fetch"
    assert event["ticket"] == "IR-2026-0142" and event["ttl_seconds"] == 72 * 3600 and event["mode"] == "block"
    assert event["evidence_id"] == body["evidence_id"]
    assert event["evidence_sha256"] == report.record.manifest_sha256
    assert TOKEN not in json.dumps(audit)


async def test_evidence_is_frozen_before_the_store_changes_or_sessions_die(
        client: httpx.AsyncClient, store: SQLiteStore, ender: SessionEnding, ended: list[SessionInfo],
        recorder: EvidenceRecorder, broadcasts: list[dict[str, Any]]) -> None:
    order: list[str] = []
    capture = recorder.captures

    def spying_captures(kind: Any, subject: str) -> Any:
        order.append("frozen")
        return capture(kind, subject)

    recorder.captures = spying_captures  # type: ignore[method-assign]
    store.on_change(lambda state: order.append("store"))
    ender.on_ended = lambda info: (order.append("kill"), ended.append(info))  # type: ignore[assignment, func-returns-value]
    r = await client.post("/v1/quarantines", json={"kind": "agent", "subject": "copilot", "reason": "injected",
                                                  "kill_sessions": True})
    assert r.status_code == 201 and r.json()["killed_sessions"] == 2
    assert order[0] == "frozen" and "store" in order and order.index("store") < order.index("kill")
    assert len(recorder.list()) == 1 and r.json()["evidence_id"] == recorder.list()[0].id
    assert sorted(info.client_key for info in ended) == ["s-1", "s-3"]
    assert broadcasts[-1] == {"event": "sessions_kill", "agent": "copilot"}


async def test_evidence_failure_never_blocks_containment(client: httpx.AsyncClient, store: SQLiteStore,
                                                         deps: AdminDeps, audit: list[dict[str, Any]]) -> None:
    deps.evidence.evidence_dir = Path("/proc/definitely/not/writable")
    r = await client.post("/v1/quarantines", json={"kind": "session", "subject": "s-1", "reason": "r"})
    assert r.status_code == 201 and r.json()["evidence_id"] is None
    assert store.state().quarantine_for("x", None, "s-1") is not None
    assert [e["event_type"] for e in audit][:1] == ["evidence_snapshot_failed"]


async def test_store_outage_is_503_and_audited(client: httpx.AsyncClient, store: SQLiteStore,
                                               audit: list[dict[str, Any]]) -> None:
    await store.close()  # a real outage: every write now fails
    r = await client.post("/v1/quarantines", json={"kind": "principal", "subject": "alice", "reason": "r"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
    assert [e["event_type"] for e in audit] == ["containment_action_failed"]
    assert not actions(audit)
    assert (await client.get("/v1/healthz")).status_code == 503


async def test_release_steps_down_then_lifts(client: httpx.AsyncClient, store: SQLiteStore,
                                             audit: list[dict[str, Any]]) -> None:
    await client.post("/v1/quarantines", json={"kind": "principal", "subject": "alice", "reason": "r", "ttl": "1d"})
    r = await client.post("/v1/quarantines", json={"kind": "principal", "subject": "alice", "reason": "r",
                                                  "mode": "monitor"})
    assert r.status_code == 409 and "release --to-mode" in r.json()["error"]["message"]
    r = await client.post("/v1/quarantines/release", json={"kind": "principal", "subject": "alice",
                                                          "to_mode": "read-only", "reason": "scoped recovery",
                                                          "ticket": "IR-1"})
    assert r.status_code == 200, r.text
    q = store.state().quarantine_for("alice", None, None)
    assert q is not None and q.mode == "read-only" and q.expires is not None  # inherits the expiry
    r = await client.post("/v1/quarantines/release", json={"kind": "principal", "subject": "alice",
                                                          "to_mode": "block", "reason": "x"})
    assert r.status_code == 409
    r = await client.post("/v1/quarantines/release", json={"kind": "principal", "subject": "alice", "reason": "ok"})
    assert r.status_code == 200 and store.state().quarantine_for("alice", None, None) is None
    r = await client.post("/v1/quarantines/release", json={"kind": "principal", "subject": "alice", "reason": "ok"})
    assert r.status_code == 404
    modes = [(e["previous_mode"], e["mode"]) for e in actions(audit, "release")]
    assert modes == [("block", "read-only"), ("read-only", None)]


async def test_status_lists_entries_with_expiry(client: httpx.AsyncClient) -> None:
    await client.post("/v1/quarantines", json={"kind": "session", "subject": "s-9", "reason": "r", "ttl": "30m"})
    await client.post("/v1/deny-tools", json={"agent": "copilot", "tools": ["shell.exec", "iam.*"], "reason": "r"})
    await client.post("/v1/egress-denies", json={"host": "Attacker.Example", "reason": "r", "ttl": 3600})
    status = (await client.get("/v1/status")).json()
    assert status["store_healthy"] is True
    [q] = status["quarantines"]
    assert q["subject"] == "s-9" and q["expires"].endswith("Z") and 1790 <= q["expires_in"] <= 1800
    assert status["deny_tools"][0]["tools"] == ["shell.exec", "iam.*"]
    assert status["deny_tools"][0]["expires"] is None
    assert status["egress_denies"][0]["host"] == "attacker.example"
    assert [x["subject"] for x in (await client.get("/v1/quarantines?kind=session")).json()["quarantines"]] == ["s-9"]


async def test_deny_tools_round_trip(client: httpx.AsyncClient, store: SQLiteStore,
                                     audit: list[dict[str, Any]]) -> None:
    r = await client.post("/v1/deny-tools", json={"principal": "alice", "tools": ["fs.delete"], "reason": "r",
                                                 "ticket": "IR-7", "ttl": "7d"})
    assert r.status_code == 201
    entry = r.json()["deny_tools"]
    assert entry["kind"] == "principal" and entry["expires_in"] > 6 * 86400
    assert [o.id for o in store.state().deny_overlays] == [entry["id"]]
    listed = (await client.get("/v1/deny-tools")).json()["deny_tools"]
    assert [x["id"] for x in listed] == [entry["id"]]
    r = await client.request("DELETE", f"/v1/deny-tools/{entry['id']}", json={"reason": "fixed"})
    assert r.status_code == 200 and store.state().deny_overlays == ()
    r = await client.request("DELETE", f"/v1/deny-tools/{entry['id']}", json={"reason": "again"})
    assert r.status_code == 404
    assert [e["action"] for e in actions(audit)] == ["deny_tools", "deny_tools_removed"]
    bad = await client.post("/v1/deny-tools", json={"agent": "a", "principal": "p", "tools": ["x"], "reason": "r"})
    assert bad.status_code == 400 and "exactly one" in bad.json()["error"]["message"]


async def test_egress_round_trip_and_host_validation(client: httpx.AsyncClient, store: SQLiteStore) -> None:
    r = await client.post("/v1/egress-denies", json={"host": "*.Bücher.example", "agent": "copilot", "reason": "r"})
    assert r.status_code == 201, r.text
    deny = r.json()["egress_deny"]
    assert deny["host"] == "*.xn--bcher-kva.example" and deny["agent"] == "copilot"
    assert (await client.get("/v1/egress-denies")).json()["egress_denies"][0]["id"] == deny["id"]
    r = await client.request("DELETE", f"/v1/egress-denies/{deny['id']}", json={"reason": "done"})
    assert r.status_code == 200 and store.state().egress_denies == ()
    for host in ("https://evil.example/x", "evil.example:443", "a..b", "ev*il.example", ""):
        r = await client.post("/v1/egress-denies", json={"host": host, "reason": "r"})
        assert r.status_code == 400, host
    r = await client.post("/v1/egress-denies", json={"host": "::1", "reason": "r"})
    assert r.status_code == 201 and r.json()["egress_deny"]["host"] == "::1"


async def test_sessions_list_and_kill(client: httpx.AsyncClient, ended: list[SessionInfo],
                                      audit: list[dict[str, Any]], recorder: EvidenceRecorder) -> None:
    rows = (await client.get("/v1/sessions", params={"principal": "alice"})).json()["sessions"]
    assert sorted(r["session_id"] for r in rows) == ["s-1", "s-2"] and rows[0]["started"].endswith("Z")
    assert {(r["client_key"], r["calls"], r["bytes_in"], r["bytes_out"]) for r in rows} == {
        ("s-1", 3, 100, 2000), ("s-2", 3, 100, 2000)}
    r = await client.post("/v1/sessions/kill", json={"principal": "alice", "reason": "contain", "ticket": "IR-9"})
    assert r.status_code == 200 and r.json()["killed"] == 2
    assert sorted(info.client_key for info in ended) == ["s-1", "s-2"]
    rows = (await client.get("/v1/sessions")).json()["sessions"]
    assert [r["session_id"] for r in rows] == ["s-3"]  # ended sessions are gone from the shared store
    assert recorder.show(r.json()["evidence_id"]).record.exchanges == 2
    [event] = actions(audit, "sessions_kill")
    assert event["killed_sessions"] == 2 and event["ticket"] == "IR-9"
    r = await client.post("/v1/sessions/kill", json={"reason": "contain"})
    assert r.status_code == 400


async def test_body_limits_and_strict_keys(client: httpx.AsyncClient) -> None:
    big = {"kind": "principal", "subject": "alice", "reason": "x" * (70 * 1024)}
    r = await client.post("/v1/quarantines", json=big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"

    async def chunks() -> Any:  # no content-length: the limit holds while streaming
        for _ in range(80):
            yield b" " * 1024

    r = await client.post("/v1/quarantines", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    r = await client.post("/v1/quarantines", json={"kind": "principal", "subject": "a", "reason": "r", "force": 1})
    assert r.status_code == 400 and r.json()["error"]["message"] == "force: unknown field"
    r = await client.post("/v1/quarantines", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    r = await client.post("/v1/quarantines", content=b"[]", headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = await client.post("/v1/quarantines", content=b"{}", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    r = await client.post("/v1/quarantines", json={"kind": "principal", "subject": "a", "reason": "r", "ttl": "3y"})
    assert r.status_code == 400 and "ttl" in r.json()["error"]["message"]
    r = await client.post("/v1/quarantines", json={"kind": "principal", "subject": "a", "reason": "  "})
    assert r.status_code == 400


async def test_openapi_documents_every_route(client: httpx.AsyncClient, app: Starlette) -> None:
    doc = (await client.get("/v1/openapi.json")).json()
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    served = {(m, r.path) for r in app.routes if isinstance(r, Route) for m in (r.methods or ()) if m != "HEAD"}
    assert documented == served and len(served) == len(ENDPOINTS)
    body = doc["paths"]["/v1/quarantines"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schema = doc["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert schema["additionalProperties"] is False and "reason" in schema["required"]
    assert doc["components"]["securitySchemes"]["adminToken"]["scheme"] == "bearer"


async def test_evidence_endpoints_report_tampering(client: httpx.AsyncClient, recorder: EvidenceRecorder) -> None:
    r = await client.post("/v1/quarantines", json={"kind": "principal", "subject": "bob", "reason": "r"})
    evidence_id = r.json()["evidence_id"]
    listed = (await client.get("/v1/evidence")).json()["evidence"]
    assert [e["id"] for e in listed] == [evidence_id]
    shown = (await client.get(f"/v1/evidence/{evidence_id}", params={"exchanges": "true"})).json()
    assert shown["verified"] is True and shown["exchanges"][0]["principal"] == "bob"
    path = recorder.evidence_dir / evidence_id / "exchanges.jsonl"
    path.chmod(0o644)
    path.write_text('{"forged": true}\n')
    shown = (await client.get(f"/v1/evidence/{evidence_id}")).json()
    assert shown["verified"] is False and any("exchanges.jsonl was modified" in p for p in shown["problems"])
    assert (await client.get("/v1/evidence/..%2F..%2Fetc")).status_code == 404
    assert (await client.get("/v1/evidence/20260101T000000Z-deadbeef")).status_code == 404


async def test_healthz_and_unknown_routes(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/healthz")).json() == {"status": "ok", "store_healthy": True}
    r = await client.get("/v1/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = await client.put("/v1/status")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


async def test_failing_session_kill_is_audited_and_never_hides_the_quarantine(
        client: httpx.AsyncClient, ender: SessionEnding, audit: list[dict[str, Any]]) -> None:
    async def boom(kind: str, subject: str) -> int:
        raise RuntimeError("data plane gone")

    ender.end_matching = boom  # type: ignore[method-assign]
    r = await client.post("/v1/sessions/kill", json={"session_id": "s-1", "reason": "r"})
    assert r.status_code == 502 and r.json()["error"]["code"] == "kill_failed"
    r = await client.post("/v1/quarantines", json={"kind": "session", "subject": "s-1", "reason": "r",
                                                  "kill_sessions": True})
    assert r.status_code == 201 and r.json()["killed_sessions"] is None
    assert [e["event_type"] for e in audit].count("containment_kill_failed") == 2
    [event] = actions(audit, "quarantine")
    assert event["killed_sessions"] is None


async def test_websockets_are_refused(app: Starlette) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/v1/status", "headers": [], "query_string": b""}
    await app(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
