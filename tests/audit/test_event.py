"""The audit event schema: every field, hashes instead of values, never a secret."""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from proxy.audit import SCHEMA_VERSION, decision_event, system_event
from proxy.decision import ALLOW, Decision, Finding, deny
from proxy.errors import ErrorCode
from proxy.exchange import Exchange
from proxy.pipeline import Pipeline
from proxy.policy import PolicyHolder
from proxy.testing import make_exchange, request_message, tool_call
from proxy.testing.factories import registry_for
from proxy.types import Direction, Era, Severity, Transport, Verdict

DOCUMENTED_FIELDS = {
    "schema_version", "event_id", "timestamp", "event_type", "direction", "era", "upstream", "session_id",
    "principal", "agent", "client_address", "jsonrpc", "tool", "arguments_sha256", "request_bytes",
    "result_bytes", "destinations", "verdict", "rule_ids", "findings", "severity", "policy_version", "latency_ms",
    "origin", "client_key", "call_id", "trace_id", "http", "rewrites",
}
DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "policies" / "default"
SECRET = "sk-live-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def written(ex: Exchange, decision: Decision, policy_version: str = "v") -> dict[str, Any]:
    """The event as a sink receives it: serialised to JSON the way the Auditor does."""
    event: dict[str, Any] = orjson.loads(orjson.dumps(decision_event(ex, decision, policy_version)))
    return event


def test_every_documented_field_is_present_for_a_request() -> None:
    ex = tool_call("get_weather", {"city": "Paris"}, request_id=7, principal="alice", agent="claude",
                   upstream="notes", session_id="s-1", era=Era.HANDSHAKE, client_address="10.0.0.5")
    ex.notes["destinations"] = ["api.example.com"]
    decision = Decision(Verdict.ALLOW, rule_ids=("read-only-tools",), check="policy")
    event = written(ex, decision, "sha256:abc")
    assert set(event) >= DOCUMENTED_FIELDS
    assert event["schema_version"] == SCHEMA_VERSION == "1.1"
    assert uuid.UUID(event["event_id"]).version == 4
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["timestamp"])
    assert event["event_type"] == "decision"
    assert event["direction"] == "to_server"
    assert event["era"] == "handshake"
    assert event["transport"] == "http"
    assert event["upstream"] == "notes"
    assert event["session_id"] == "s-1"
    assert event["principal"] == "alice"
    assert event["agent"] == "claude"
    assert event["client_address"] == "10.0.0.5"
    assert event["jsonrpc"] == {"kind": "request", "method": "tools/call", "id": 7}
    assert event["tool"] == "get_weather"
    assert event["arguments_sha256"] == sha(b'{"city":"Paris"}')
    assert event["request_bytes"] == ex.raw_size
    assert event["result_bytes"] is None
    assert event["destinations"] == ["api.example.com"]
    assert event["verdict"] == "allow"
    assert event["rule_ids"] == ["read-only-tools"]
    assert event["findings"] == []
    assert event["origin"] == "agent" and event["http"] is None and event["rewrites"] == []
    assert uuid.UUID(event["call_id"]) and event["trace_id"] is None
    assert event["severity"] == "none"
    assert event["policy_version"] == "sha256:abc"
    assert isinstance(event["latency_ms"], float) and event["latency_ms"] >= 0
    assert event["error_code"] is None


def test_event_ids_are_unique() -> None:
    ex = make_exchange("ping")
    assert len({written(ex, ALLOW)["event_id"] for _ in range(100)}) == 100


def test_deny_event_carries_code_reason_findings_and_severity() -> None:
    finding = Finding("secrets", Severity.SEV2, "credential in arguments", path="arguments.q", atlas="AML.T0057")
    decision = deny("forbidden by policy rule r", rule_ids=("r",), findings=(finding,), check="policy")
    event = written(tool_call("t", {"q": "x"}), decision)
    assert event["verdict"] == "deny"
    assert event["error_code"] == ErrorCode.POLICY_DENIED
    assert event["error_code"] == -32050
    assert event["reason"] == "forbidden by policy rule r"
    assert event["check"] == "policy"
    assert event["findings"] == [{"detector": "secrets", "severity": "SEV-2", "message": "credential in arguments",
                                  "path": "arguments.q", "atlas": "AML.T0057"}]
    assert event["severity"] == "SEV-2"


def test_response_event_counts_result_bytes_and_has_no_argument_hash() -> None:
    request = request_message("tools/call", {"name": "t", "arguments": {"a": 1}}, "r1")
    ex = make_exchange(None, request=request, result={"content": []}, direction=Direction.TO_CLIENT,
                       era=Era.MODERN, transport=Transport.STDIO)
    event = written(ex, ALLOW)
    assert event["direction"] == "to_client"
    assert event["era"] == "modern"
    assert event["transport"] == "stdio"
    assert event["jsonrpc"] == {"kind": "response", "method": "tools/call", "id": "r1"}
    assert event["tool"] == "t"
    assert event["arguments_sha256"] is None
    assert event["request_bytes"] is None
    assert event["result_bytes"] == ex.raw_size
    assert event["destinations"] == []


def test_no_argument_hash_without_arguments() -> None:
    assert written(make_exchange("tools/list", params={}), ALLOW)["arguments_sha256"] is None
    assert written(tool_call("t"), ALLOW)["arguments_sha256"] is None
    assert written(tool_call("t", {}), ALLOW)["arguments_sha256"] == sha(b"{}")


def test_prompt_arguments_are_hashed() -> None:
    ex = make_exchange("prompts/get", params={"name": "p", "arguments": {"who": "bob"}})
    event = written(ex, ALLOW)
    assert event["arguments_sha256"] == sha(b'{"who":"bob"}')
    assert event["tool"] is None
    assert event["target"] == "p"


@pytest.mark.parametrize(("arguments", "canonical"), [
    ({"b": 1, "a": "x"}, b'{"a":"x","b":1}'),
    ({"z": [3, {"y": True, "x": None}], "é": "東京"}, '{"z":[3,{"x":null,"y":true}],"é":"東京"}'.encode()),
    ({"n": 1.5, "m": 10.0, "e": 1e21}, b'{"e":1e+21,"m":10,"n":1.5}'),
    ({"\u20ac": 1, "\r": 2, "1": 3}, '{"\\r":2,"1":3,"\u20ac":1}'.encode()),
    # JCS sorts keys by UTF-16 code units: U+20AC < U+1F600 (surrogate D83D) < U+FB33, unlike UTF-8 byte order
    ({"\ufb33": 2, "\U0001f600": 1, "\u20ac": 3}, '{"\u20ac":3,"\U0001f600":1,"\ufb33":2}'.encode()),
    ({"big": 2**53 - 1, "neg": -(2**53 - 1)}, b'{"big":9007199254740991,"neg":-9007199254740991}'),
])
def test_arguments_sha256_is_sha256_of_rfc8785_json(arguments: dict[str, object], canonical: bytes) -> None:
    assert written(tool_call("t", arguments), ALLOW)["arguments_sha256"] == sha(canonical)


def test_arguments_hash_is_independent_of_key_order() -> None:
    one = tool_call("t", {"a": 1, "b": {"c": 2, "d": [1, 2]}})
    two = tool_call("t", {"b": {"d": [1, 2], "c": 2}, "a": 1})
    assert written(one, ALLOW)["arguments_sha256"] == written(two, ALLOW)["arguments_sha256"]
    three = tool_call("t", {"b": {"d": [2, 1], "c": 2}, "a": 1})
    assert written(three, ALLOW)["arguments_sha256"] != written(one, ALLOW)["arguments_sha256"]


def test_large_integer_arguments_still_produce_an_event() -> None:
    event = written(tool_call("t", {"n": 2**53 + 1}), ALLOW)
    assert re.fullmatch(r"[0-9a-f]{64}", event["arguments_sha256"])


def test_secret_argument_never_appears_in_the_event() -> None:
    ex = tool_call("get_weather", {"city": "Paris", "api_key": SECRET, "nested": {"token": SECRET}},
                   credential_hash=sha(b"agent-bearer-token"))
    for decision in (ALLOW, deny("forbidden by policy rule r", rule_ids=("r",))):
        raw = orjson.dumps(written(ex, decision))
        assert SECRET.encode() not in raw
        assert b"agent-bearer-token" not in raw


@pytest.mark.anyio
async def test_secret_never_appears_in_events_of_a_real_pipeline() -> None:
    """Through the registry with the shipped default policy, allowed and denied calls alike."""
    holder = PolicyHolder(DEFAULT_POLICY)
    events: list[bytes] = []

    def audit(ex: Exchange, decision: Decision) -> None:
        events.append(orjson.dumps(decision_event(ex, decision, holder.policy.version)))

    pipeline = Pipeline(await registry_for(holder), audit)
    calls = [
        tool_call("search_notes", {"query": f"password {SECRET}"}),  # forbidden by no-secrets-in-search
        tool_call("get_weather", {"city": SECRET}),  # allowed
        tool_call("delete_note", {"note_id": SECRET}),  # default deny
    ]
    verdicts = [(await pipeline.run(ex)).verdict for ex in calls]
    assert verdicts == [Verdict.DENY, Verdict.ALLOW, Verdict.DENY]
    assert len(events) == 3
    for raw in events:
        assert SECRET.encode() not in raw
    assert orjson.loads(events[0])["rule_ids"] == ["no-secrets-in-search"]
    assert orjson.loads(events[2])["rule_ids"] == ["default-deny"]


def test_system_event() -> None:
    event = system_event("policy_reload", ok=False, policy_version="sha256:1", detail="bad")
    assert event["schema_version"] == SCHEMA_VERSION
    assert event["event_type"] == "policy_reload"
    assert event["ok"] is False and event["policy_version"] == "sha256:1" and event["detail"] == "bad"
    uuid.UUID(event["event_id"])


def test_call_id_joins_a_request_to_its_answer_and_trace_ids_are_read() -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    ex = tool_call("t", {"a": 1}, request_id=3)
    ex.params["_meta"] = {"traceparent": traceparent}
    request_event = written(ex, ALLOW)
    answer = make_exchange(direction=Direction.TO_CLIENT, request=ex.message, result={"content": []}, request_id=3)
    answer.call_id = ex.call_id
    answer_event = written(answer, ALLOW)
    assert request_event["call_id"] == answer_event["call_id"] and request_event["event_id"] != answer_event["event_id"]
    assert request_event["trace_id"] == answer_event["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert written(tool_call("t"), ALLOW)["call_id"] != request_event["call_id"]
    for bad in ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", "ff-" + traceparent[3:], "garbage", 7):
        ex = tool_call("t")
        ex.params["_meta"] = {"traceparent": bad}
        assert written(ex, ALLOW)["trace_id"] is None


def test_a_rewrite_names_every_check_that_changed_the_message() -> None:
    rewrites = ({"check": "content", "removed": [{"path": "$.result.content[0].text", "detector": "secrets.aws",
                                                  "action": "redacted"}]},
                {"check": "listing_filter", "hidden": ["delete_note"], "hidden_count": 1})
    event = written(tool_call("t"), Decision(Verdict.REWRITE, message={}, check="listing_filter", rewrites=rewrites))
    assert event["verdict"] == "rewrite" and event["check"] == "listing_filter"
    assert [r["check"] for r in event["rewrites"]] == ["content", "listing_filter"]
