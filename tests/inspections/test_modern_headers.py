"""Modern era: Mcp-* routing headers must agree with the body (else -32020)."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.errors import ErrorCode
from proxy.exchange import Exchange
from proxy.inspections.modern_headers import (
    HEADERS_NOTE,
    PROTOCOL_VERSION_META_KEY,
    RULE,
    SCHEMA_NOTE,
    ModernHeaderCheck,
    header_problem,
)
from proxy.testing import make_exchange, request_message
from proxy.types import Direction, Era, Verdict

VERSION = "2026-07-28"
SCHEMA = {"type": "object", "properties": {
    "region": {"type": "string", "x-mcp-header": "Region"},
    "count": {"type": "integer", "x-mcp-header": "Count"},
    "note": {"type": "string"},
}}
CHECK = ModernHeaderCheck()


def modern(method: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
           schema: dict[str, Any] | None = None, request_id: int | None = 1) -> Exchange:
    notes: dict[str, Any] = {}
    if headers is not None:
        notes[HEADERS_NOTE] = headers
    if schema is not None:
        notes[SCHEMA_NOTE] = schema
    return make_exchange(method, params=params, era=Era.MODERN, notes=notes, request_id=request_id)


def call(name: str, headers: dict[str, str], arguments: dict[str, Any] | None = None) -> Exchange:
    return modern("tools/call", {"name": name, "arguments": arguments or {}},
                  {"mcp-protocol-version": VERSION, **headers}, schema=None)


def problem(ex: Exchange) -> str | None:
    assert CHECK.applies(ex)
    decision = CHECK.inspect(ex)
    if decision is None:
        return None
    assert decision.verdict is Verdict.DENY
    assert decision.code is ErrorCode.HEADER_MISMATCH
    assert int(decision.code) == -32020
    assert decision.rule_ids == (RULE,)
    assert decision.check == "modern_headers"
    return decision.reason


def test_matching_headers_pass() -> None:
    ex = call("get_weather", {"mcp-method": "tools/call", "mcp-name": "get_weather"}, {"city": "Rome"})
    assert problem(ex) is None


def test_method_mismatch() -> None:
    ex = call("get_weather", {"mcp-method": "tools/list", "mcp-name": "get_weather"})
    assert problem(ex) == "Mcp-Method header does not match the body's method"


def test_missing_method_header_on_request() -> None:
    assert problem(call("get_weather", {"mcp-name": "get_weather"})) == (
        "Mcp-Method header is required in the 2026-07-28 protocol")


def test_notification_without_method_header_passes_but_with_a_wrong_one_fails() -> None:
    note = modern("notifications/initialized", headers={"mcp-protocol-version": VERSION}, request_id=None)
    assert problem(note) is None
    wrong = modern("notifications/initialized", headers={"mcp-method": "ping"}, request_id=None)
    assert problem(wrong) == "Mcp-Method header does not match the body's method"


def test_name_mismatch() -> None:
    ex = call("delete_note", {"mcp-method": "tools/call", "mcp-name": "get_weather"})
    assert problem(ex) == "Mcp-Name header does not match the body's 'name'"


def test_missing_name_header() -> None:
    assert problem(call("delete_note", {"mcp-method": "tools/call"})) == (
        "Mcp-Name header does not match the body's 'name'")


@pytest.mark.parametrize(("method", "key", "value"), [
    ("resources/read", "uri", "file:///notes/a.md"),
    ("prompts/get", "name", "greet"),
])
def test_name_bearing_methods(method: str, key: str, value: str) -> None:
    ok = modern(method, {key: value}, {"mcp-method": method, "mcp-name": value})
    assert problem(ok) is None
    bad = modern(method, {key: value}, {"mcp-method": method, "mcp-name": value + "x"})
    assert problem(bad) == f"Mcp-Name header does not match the body's {key!r}"


def test_base64_sentinel_name_is_decoded() -> None:
    # "héllo wörld" is not a plain header value; clients send =?base64?<utf-8 base64>?=
    ok = call("héllo wörld", {"mcp-method": "tools/call", "mcp-name": "=?base64?aMOpbGxvIHfDtnJsZA==?="})
    assert problem(ok) is None
    other = call("héllo", {"mcp-method": "tools/call", "mcp-name": "=?base64?aMOpbGxvIHfDtnJsZA==?="})
    assert problem(other) is not None


@pytest.mark.parametrize("header", ["=?base64?!!!?=", "=?base64?aGk?=", "=?base64?/w==?="])
def test_malformed_base64_sentinel_never_matches(header: str) -> None:
    # invalid base64, non-canonical (missing padding), and not UTF-8
    assert problem(call("hi", {"mcp-method": "tools/call", "mcp-name": header})) is not None


def test_literal_sentinel_looking_name_must_be_encoded() -> None:
    ex = call("=?base64?aGk=?=", {"mcp-method": "tools/call", "mcp-name": "=?base64?aGk=?="})
    assert problem(ex) is not None  # the header decodes to "hi", which is not the body's name


def test_protocol_version_mismatch() -> None:
    params = {"name": "t", "_meta": {PROTOCOL_VERSION_META_KEY: VERSION}}
    bad = modern("tools/call", params, {"mcp-method": "tools/call", "mcp-name": "t",
                                        "mcp-protocol-version": "2025-11-25"})
    assert problem(bad) == "MCP-Protocol-Version header does not match the body's protocol version"
    missing = modern("tools/call", params, {"mcp-method": "tools/call", "mcp-name": "t"})
    assert problem(missing) is not None
    ok = modern("tools/call", params, {"mcp-method": "tools/call", "mcp-name": "t", "mcp-protocol-version": VERSION})
    assert problem(ok) is None


def param_call(arguments: dict[str, Any], params: dict[str, str] | None = None,
               schema: dict[str, Any] | None = SCHEMA) -> Exchange:
    headers = {"mcp-method": "tools/call", "mcp-name": "route", "mcp-protocol-version": VERSION, **(params or {})}
    return modern("tools/call", {"name": "route", "arguments": arguments}, headers, schema=schema)


def test_param_headers_matching_the_schema_pass() -> None:
    ex = param_call({"region": "eu", "count": 3, "note": "x"}, {"mcp-param-region": "eu", "mcp-param-count": "3"})
    assert problem(ex) is None


def test_param_header_value_mismatch() -> None:
    reason = problem(param_call({"region": "eu"}, {"mcp-param-region": "us"}))
    assert reason is not None and "Mcp-Param-Region" in reason and "'region'" in reason


def test_param_header_missing_while_argument_present() -> None:
    reason = problem(param_call({"region": "eu"}))
    assert reason is not None and "missing" in reason


def test_param_header_present_while_argument_absent() -> None:
    reason = problem(param_call({}, {"mcp-param-count": "3"}))
    assert reason is not None and "absent" in reason


def test_param_header_base64_value() -> None:
    assert problem(param_call({"region": "zürich"}, {"mcp-param-region": "=?base64?esO8cmljaA==?="})) is None


def test_param_headers_without_known_schema_are_left_to_the_upstream() -> None:
    assert problem(param_call({"region": "eu"}, {"mcp-param-region": "us"}, schema=None)) is None


def test_applies_only_to_modern_requests_with_headers() -> None:
    headers = {"mcp-method": "tools/list"}
    assert CHECK.applies(modern("tools/list", {}, headers))
    assert not CHECK.applies(modern("tools/list", {}, None))
    handshake = make_exchange("tools/list", params={}, era=Era.HANDSHAKE, notes={HEADERS_NOTE: headers})
    assert not CHECK.applies(handshake)
    answer = make_exchange(None, request=request_message("tools/list"), direction=Direction.TO_CLIENT,
                           era=Era.MODERN, notes={HEADERS_NOTE: headers})
    assert not CHECK.applies(answer)
    back = make_exchange("ping", direction=Direction.TO_CLIENT, era=Era.MODERN, notes={HEADERS_NOTE: headers})
    assert not CHECK.applies(back)


def test_header_problem_function_directly() -> None:
    ex = modern("tools/list", {}, {})
    assert header_problem(ex, {"mcp-method": "tools/list"}) is None
    assert header_problem(ex, {"mcp-method": "tools/call"}) is not None
