"""JSON-RPC framing: envelopes, limits, classification and error answers."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.errors import ErrorCode, MessageError
from proxy.jsonrpc import Limits, check_depth, dumps, error_response, kind_of, parse_body
from proxy.types import MessageKind

LIMITS = Limits()


def parse(value: Any, limits: Limits = LIMITS) -> Any:
    return parse_body(orjson.dumps(value), limits)


def refusal(raw: bytes, limits: Limits = LIMITS) -> MessageError:
    with pytest.raises(MessageError) as info:
        parse_body(raw, limits)
    return info.value


def nested(depth: int) -> bytes:
    """A request whose params hold lists nested so the whole message is `depth` containers deep."""
    inner = depth - 2  # the envelope object and params object are two levels
    return (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":' + b"[" * inner + b"]" * inner + b"}}")


# --- valid messages -------------------------------------------------------------------------

@pytest.mark.parametrize(("message", "kind"), [
    ({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, MessageKind.REQUEST),
    ({"jsonrpc": "2.0", "id": "abc", "method": "tools/call", "params": {"name": "t"}}, MessageKind.REQUEST),
    ({"jsonrpc": "2.0", "id": 0, "method": "m", "params": [1, 2]}, MessageKind.REQUEST),
    ({"jsonrpc": "2.0", "id": -5, "method": "m"}, MessageKind.REQUEST),
    ({"jsonrpc": "2.0", "method": "notifications/initialized"}, MessageKind.NOTIFICATION),
    ({"jsonrpc": "2.0", "id": 1, "result": {}}, MessageKind.RESPONSE),
    ({"jsonrpc": "2.0", "id": 1, "result": None}, MessageKind.RESPONSE),
    ({"jsonrpc": "2.0", "id": "x", "error": {"code": -32601, "message": "nope"}}, MessageKind.ERROR),
    ({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}, MessageKind.ERROR),
])
def test_valid_messages_parse_and_classify(message: dict[str, Any], kind: MessageKind) -> None:
    parsed = parse(message)
    assert parsed == message
    assert kind_of(parsed) is kind


def test_batch_parses_to_list() -> None:
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "method": "notifications/x"}]
    assert parse(batch) == batch


def test_unicode_strings_survive() -> None:
    message = {"jsonrpc": "2.0", "id": "é-1", "method": "tools/call",
               "params": {"name": "météo", "arguments": {"city": "東京 🚀", "q": "\u0000\u2028"}}}
    assert parse(message) == message


def test_huge_string_under_limit_is_fine() -> None:
    text = "x" * (3 * 1024 * 1024)
    parsed = parse({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"arguments": {"blob": text}}})
    assert parsed["params"]["arguments"]["blob"] == text


def test_body_exactly_at_limit_passes_and_one_byte_over_fails() -> None:
    raw = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert parse_body(raw, Limits(max_body_bytes=len(raw))) == orjson.loads(raw)
    err = refusal(raw, Limits(max_body_bytes=len(raw) - 1))
    assert err.code is ErrorCode.LIMIT_EXCEEDED
    assert str(len(raw) - 1) in err.message


# --- invalid envelopes ----------------------------------------------------------------------

@pytest.mark.parametrize(("message", "fragment"), [
    ({"id": 1, "method": "ping"}, '"jsonrpc" must be "2.0"'),
    ({"jsonrpc": "1.0", "id": 1, "method": "ping"}, '"jsonrpc" must be "2.0"'),
    ({"jsonrpc": 2.0, "id": 1, "method": "ping"}, '"jsonrpc" must be "2.0"'),
    ({"jsonrpc": "2.0", "id": True, "method": "ping"}, "id must be a string or integer"),
    ({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}, "id must be a string or integer"),
    ({"jsonrpc": "2.0", "id": 1.0, "method": "ping"}, "id must be a string or integer"),
    ({"jsonrpc": "2.0", "id": [1], "method": "ping"}, "id must be a string or integer"),
    ({"jsonrpc": "2.0", "id": None, "method": "ping"}, "id must be a string or integer"),
    ({"jsonrpc": "2.0", "id": None, "result": {}}, "id must be a string or integer"),
    ({"jsonrpc": "2.0", "id": 1, "method": "m", "params": 5}, "params must be an object or array"),
    ({"jsonrpc": "2.0", "id": 1, "method": "m", "params": "text"}, "params must be an object or array"),
    ({"jsonrpc": "2.0", "id": 1, "method": ""}, "method must be a non-empty string"),
    ({"jsonrpc": "2.0", "id": 1, "method": 7}, "method must be a non-empty string"),
    ({"jsonrpc": "2.0"}, "neither method nor id"),
    ({"jsonrpc": "2.0", "result": {}}, "neither method nor id"),
    ({"jsonrpc": "2.0", "id": 1}, "exactly one of result, error"),
    ({"jsonrpc": "2.0", "id": 1, "result": {}, "error": {"code": 1, "message": "m"}}, "exactly one of result, error"),
    ({"jsonrpc": "2.0", "id": 1, "error": "boom"}, "error must be an object"),
])
def test_invalid_envelopes_are_invalid_request(message: dict[str, Any], fragment: str) -> None:
    err = refusal(orjson.dumps(message))
    assert err.code is ErrorCode.INVALID_REQUEST
    assert fragment in err.message


@pytest.mark.parametrize("raw", [b"[1]", b'["a", {"jsonrpc": "2.0"}]', b'"text"', b'""'])
def test_non_object_messages_are_invalid_request(raw: bytes) -> None:
    assert refusal(raw).code is ErrorCode.INVALID_REQUEST


@pytest.mark.parametrize("raw", [b"42", b"null", b"true", b"1.5", b" 7 ", b'"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["'])
def test_scalar_bodies_are_invalid_request(raw: bytes) -> None:
    assert refusal(raw).code is ErrorCode.INVALID_REQUEST


@pytest.mark.parametrize("raw", [
    b"", b"{", b'{"jsonrpc": "2.0",}', b"not json", b"\xff\xfe", b'"\\ud800"', b"NaN", b"1e400",
    b'{"jsonrpc":"2.0","id":1,"method":"ping"} trailing',
])
def test_bad_json_is_parse_error(raw: bytes) -> None:
    err = refusal(raw)
    assert err.code is ErrorCode.PARSE_ERROR
    assert err.message == "parse error: body is not valid JSON"


def test_invalid_member_of_batch_refuses_the_batch() -> None:
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": True, "method": "ping"}]
    assert refusal(orjson.dumps(batch)).code is ErrorCode.INVALID_REQUEST


# --- limits ---------------------------------------------------------------------------------

def test_empty_batch_is_invalid_request() -> None:
    err = refusal(b"[]")
    assert err.code is ErrorCode.INVALID_REQUEST
    assert "empty batch" in err.message


def test_batch_over_limit() -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    assert parse([ping] * 3, Limits(max_batch=3)) == [ping] * 3
    err = refusal(orjson.dumps([ping] * 4), Limits(max_batch=3))
    assert err.code is ErrorCode.LIMIT_EXCEEDED
    assert "batch exceeds 3" in err.message


def test_depth_limit_is_configurable() -> None:
    raw = nested(10)
    assert parse(orjson.loads(raw), Limits(max_depth=10))["method"] == "x"
    err = refusal(raw, Limits(max_depth=9))
    assert err.code is ErrorCode.LIMIT_EXCEEDED
    assert "depth 9" in err.message


def test_default_depth_limit_refuses_moderate_nesting() -> None:
    assert parse(orjson.loads(nested(64)))["method"] == "x"
    assert refusal(nested(65)).code is ErrorCode.LIMIT_EXCEEDED


def test_depth_counts_batch_and_objects() -> None:
    batch = b'[{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":{"b":{}}}}]'  # 5 containers deep
    assert parse_body(batch, Limits(max_depth=5))
    assert refusal(batch, Limits(max_depth=4)).code is ErrorCode.LIMIT_EXCEEDED


def test_scalar_body_with_many_brackets_is_invalid_request_under_a_small_depth_limit() -> None:
    assert refusal(b'"' + b"[" * 100 + b'"', Limits(max_depth=4)).code is ErrorCode.INVALID_REQUEST


def test_check_depth_handles_wide_values() -> None:
    check_depth({"a": [[1]] * 10_000, "b": {"c": {}}}, 4)
    with pytest.raises(MessageError):
        check_depth({"a": [[[1]]]}, 3)


@pytest.mark.parametrize("depth", [1100, 100_000])
def test_extreme_nesting_is_limit_exceeded(depth: int) -> None:
    err = refusal(b"[" * depth + b"]" * depth, Limits(max_body_bytes=1024 * 1024))
    assert err.code is ErrorCode.LIMIT_EXCEEDED


@pytest.mark.parametrize("depth", [1100, 100_000])
def test_extreme_nesting_is_refused_without_crashing(depth: int) -> None:
    """Whatever the code, a very deep body is a MessageError, never RecursionError or a crash."""
    for raw in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        with pytest.raises(MessageError):
            parse_body(raw, Limits(max_body_bytes=1024 * 1024))


# --- answers --------------------------------------------------------------------------------

def test_error_response_shape() -> None:
    assert error_response(7, ErrorCode.POLICY_DENIED, "denied") == {
        "jsonrpc": "2.0", "id": 7, "error": {"code": -32050, "message": "denied"}}
    answer = error_response(None, ErrorCode.PARSE_ERROR, "bad", data={"rule_ids": ["r"]})
    assert answer["id"] is None
    assert answer["error"] == {"code": -32700, "message": "bad", "data": {"rule_ids": ["r"]}}
    assert type(answer["error"]["code"]) is int
    # an error answer is itself a valid message
    assert kind_of(parse(answer)) is MessageKind.ERROR


def test_dumps_is_compact_json() -> None:
    assert dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()
