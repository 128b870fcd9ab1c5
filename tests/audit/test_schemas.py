"""The published JSON Schemas (proxy/audit/schemas/): every event the proxy writes fits its schema, and an
event that does not is reported with the field and the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from jsonschema import Draft202012Validator

from proxy.audit import Auditor, system_event
from proxy.audit.schemas import event_types, main, schema_for, validate_event
from tests.audit.real_events import SAMPLES, pipeline_decisions, runtime_lines, sample, webhook_failure
from tests.e2e.conftest import AUTH, IDENTITY
from tests.support.drawbridge import DEFAULT_POLICY, audit_events
from tests.support.inprocess import RecordingUpstream, handshake, inprocess_proxy, serve_asgi

SCHEMAS = Path(__file__).resolve().parents[2] / "proxy" / "audit" / "schemas"
CHAIN = {"host": "proxy-7f9c", "replica_id": "r-0123abcd", "seq": 42, "prev_sha256": "0" * 64}


def test_every_schema_file_is_a_valid_2020_12_schema_and_listed_in_the_index() -> None:
    listed = set(event_types().values())
    on_disk = {p.name for p in SCHEMAS.glob("*.schema.json")} - {"defs.schema.json"}
    assert listed == on_disk
    for event_type in event_types():
        schema = schema_for(event_type)
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["properties"]["event_type"] == {"const": event_type}
    assert {"decision", "alert", "audit_checkpoint", "audit_gap", "proxy_started", "proxy_stopped",
            "policy_reload", "containment_action"} <= set(event_types())


@pytest.mark.anyio
async def test_decisions_of_the_real_pipeline_fit_the_schema() -> None:
    events = await pipeline_decisions()
    assert {e["verdict"] for e in events} == {"allow", "deny", "rewrite"}
    assert any(f.get("atlas") for e in events for f in e["findings"])
    for event in events:
        assert validate_event(event) == [], event


def test_a_runtime_audit_file_fits_the_schema_line_by_line(tmp_path: Path) -> None:
    lines = runtime_lines(tmp_path)
    assert [e["event_type"] for e in lines] == ["policy_reload", "policy_reload", "proxy_stopped", "audit_checkpoint"]
    assert [e["ok"] for e in lines[:2]] == [True, False]
    for event in lines:
        assert {"host", "replica_id", "seq", "prev_sha256"} <= set(event)
        assert validate_event(event) == [], event


@pytest.mark.anyio
async def test_a_webhook_failure_fits_the_schema() -> None:
    event = await webhook_failure()
    assert event["event_type"] == "containment_webhook_failed" and validate_event(event) == []


@pytest.mark.anyio
async def test_every_line_of_an_http_session_fits_the_schema(tmp_path: Path) -> None:
    """The in-process proxy, default policy: allowed, refused and filtered traffic, a bad body, a DELETE."""
    upstream = RecordingUpstream()
    async with serve_asgi(upstream.app) as base, \
            inprocess_proxy(tmp_path, f"{base}/mcp", policy=DEFAULT_POLICY, extra={"identity": IDENTITY}) as proxy, \
            httpx.AsyncClient(timeout=10) as http:
        url = proxy.mcp_url()
        live = await handshake(http, url, AUTH)
        for n, (method, params) in enumerate([("tools/list", {}), ("tools/call", {"name": "get_weather", "arguments":
                                              {"city": "Oslo"}}), ("tools/call", {"name": "delete_all"})], 1):
            await http.post(url, json={"jsonrpc": "2.0", "id": n, "method": method, "params": params}, headers=live)
        await http.post(url, content=b"{not json", headers=live)
        await http.delete(url, headers=live)
        await http.post(url, json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"})  # no credential
        lines = [orjson.loads(line) for line in proxy.audit_path.read_bytes().splitlines()]
    assert {e.get("verdict") for e in lines} >= {"allow", "deny", "rewrite"}
    assert {e["jsonrpc"]["kind"] for e in lines if e["event_type"] == "decision"} >= {"request", "response", "invalid"}
    for event in lines:
        assert validate_event(event) == [], event


def test_an_egress_deny_as_the_auditor_writes_it_fits_the_schema() -> None:
    """The Auditor stamps `host` (the writer), so the event's own `host` (the denied one) becomes `event_host`."""
    lines: list[bytes] = []
    sink = type("Lines", (), {"write": lambda self, line: lines.append(line), "close": lambda self: None})()
    Auditor([sink], host="proxy-7f9c", replica_id="r-1").emit(sample("containment_action"))
    written = orjson.loads(lines[0])
    assert (written["host"], written["event_host"]) == ("proxy-7f9c", "evil.example")
    assert validate_event(written) == []


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_every_event_type_fits_as_its_call_site_shapes_it_with_or_without_the_sink_fields(event_type: str) -> None:
    assert validate_event(sample(event_type)) == []
    assert validate_event({**sample(event_type), **CHAIN}) == []


def test_every_system_event_type_has_a_sample() -> None:
    assert set(SAMPLES) == set(event_types()) - {"decision"}


@pytest.mark.anyio
async def test_an_event_off_its_schema_is_reported_with_the_field_and_the_problem() -> None:
    decision = (await pipeline_decisions())[0]
    assert validate_event({**decision, "verdict": "maybe"}) == [
        "$.verdict: 'maybe' is not one of ['allow', 'rewrite', 'deny', 'quarantine']"]
    assert validate_event({**decision, "password": "x"}) == [
        "$: Unevaluated properties are not allowed ('password' was unexpected)"]
    missing = {k: v for k, v in decision.items() if k != "policy_version"}
    assert validate_event(missing) == ["$: 'policy_version' is a required property"]
    assert validate_event({**decision, "seq": 0}) == ["$.seq: 0 is less than the minimum of 1"]
    assert validate_event({**decision, "verdict": "deny", "error_code": None}) != []  # a refusal has its code
    assert validate_event(system_event("no_such_event")) == ["event_type: unknown 'no_such_event'"]
    assert validate_event({"timestamp": "now"}) == ["event_type: missing or not a string"]
    late = sample("alert") | {"severity": "none", "atlas": "T1059"}
    assert validate_event(late) == ["$.atlas: 'T1059' does not match '^AML\\\\.T[0-9]{4}(\\\\.[0-9]{3})?$'",
                                    "$.severity: 'none' is not one of ['SEV-1', 'SEV-2', 'SEV-3', 'SEV-4']"]


def test_the_command_line_checks_a_file_and_names_each_bad_line(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = sample("proxy_stopped"), sample("audit_gap") | {"lost": "many"}
    trail = tmp_path / "audit.jsonl"
    trail.write_bytes(orjson.dumps(good) + b"\n" + orjson.dumps(bad) + b"\n")
    assert main([str(trail)]) == 1
    assert capsys.readouterr().out == f"{trail}:2: $.lost: 'many' is not of type 'integer'\n"
    trail.write_bytes(orjson.dumps(good) + b"\n")
    assert main([str(trail)]) == 0


def test_tests_that_read_an_audit_file_fail_on_an_event_off_its_schema(tmp_path: Path) -> None:
    trail = tmp_path / "audit.jsonl"
    event: dict[str, Any] = sample("policy_reload") | {"ok": "yes"}
    trail.write_bytes(orjson.dumps(event) + b"\n")
    with pytest.raises(pytest.fail.Exception, match=r"(?s)line 1: 'policy_reload' event does not fit.*\$\.ok"):
        audit_events(trail, None)
