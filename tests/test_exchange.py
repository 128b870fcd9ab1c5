"""The Exchange: what inspections read about one message in flight."""

from __future__ import annotations

import pytest

from proxy.exchange import Exchange
from proxy.testing import make_exchange, request_message, tool_call
from proxy.types import Direction, Era, MessageKind, Transport


def test_request_exposes_method_id_params_and_tool() -> None:
    ex = tool_call("get_weather", {"city": "Paris"}, request_id="req-1")
    assert ex.kind is MessageKind.REQUEST
    assert ex.method == "tools/call"
    assert ex.id == "req-1"
    assert ex.params == {"name": "get_weather", "arguments": {"city": "Paris"}}
    assert ex.target_name == ex.tool_name == "get_weather"
    assert ex.arguments == {"city": "Paris"}
    assert ex.result is None


def test_notification_has_no_id() -> None:
    ex = make_exchange("notifications/initialized", request_id=None)
    assert ex.kind is MessageKind.NOTIFICATION
    assert ex.id is None
    assert ex.params == {}
    assert ex.target_name is None


@pytest.mark.parametrize(("method", "params", "target"), [
    ("prompts/get", {"name": "greet", "arguments": {"who": "bob"}}, "greet"),
    ("resources/read", {"uri": "file:///notes/a.txt"}, "file:///notes/a.txt"),
    ("resources/subscribe", {"uri": "file:///x"}, "file:///x"),
    ("resources/unsubscribe", {"uri": "file:///x"}, "file:///x"),
    ("tools/list", {}, None),
    ("tools/call", {"name": 5}, None),
])
def test_target_name_per_method(method: str, params: dict[str, object], target: str | None) -> None:
    ex = make_exchange(method, params=params)
    assert ex.target_name == target
    assert ex.tool_name is None or method == "tools/call"


def test_tool_name_only_for_tools_call() -> None:
    assert make_exchange("prompts/get", params={"name": "greet"}).tool_name is None


def test_prompt_arguments_are_exposed_but_not_other_methods() -> None:
    assert make_exchange("prompts/get", params={"name": "p", "arguments": {"a": "1"}}).arguments == {"a": "1"}
    assert make_exchange("completion/complete", params={"arguments": {"a": 1}}).arguments == {}


@pytest.mark.parametrize("arguments", [None, [1, 2], "text", 3])
def test_non_object_arguments_read_as_empty(arguments: object) -> None:
    ex = make_exchange("tools/call", params={"name": "t", "arguments": arguments})
    assert ex.arguments == {}


def test_non_object_params_read_as_empty() -> None:
    ex = make_exchange(message={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": ["t"]})
    assert ex.params == {}
    assert ex.target_name is None


def test_response_takes_method_params_from_its_request() -> None:
    request = request_message("tools/call", {"name": "search_notes", "arguments": {"query": "q"}}, 9)
    ex = make_exchange(None, request=request, result={"content": []}, direction=Direction.TO_CLIENT)
    assert ex.kind is MessageKind.RESPONSE
    assert ex.method == "tools/call"
    assert ex.id == 9
    assert ex.tool_name == "search_notes"
    assert ex.arguments == {"query": "q"}
    assert ex.result == {"content": []}


def test_error_response_kind_and_unknown_method_without_request() -> None:
    ex = make_exchange(message={"jsonrpc": "2.0", "id": 3, "error": {"code": -1, "message": "m"}},
                       direction=Direction.TO_CLIENT)
    assert ex.kind is MessageKind.ERROR
    assert ex.method is None
    assert ex.params == {}


def test_defaults_and_notes_are_per_exchange() -> None:
    a = Exchange(direction=Direction.TO_SERVER, message={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                 raw_size=10, upstream="u", principal="p")
    b = Exchange(direction=Direction.TO_SERVER, message={"jsonrpc": "2.0", "id": 2, "method": "ping"},
                 raw_size=10, upstream="u", principal="p")
    assert a.era is Era.UNKNOWN
    assert a.transport is Transport.HTTP
    assert a.agent is None and a.session_id is None and a.request is None
    a.notes["x"] = 1
    assert b.notes == {}


def test_factory_builds_raw_size_from_the_message() -> None:
    ex = make_exchange("ping", params={})
    assert ex.raw_size == len(b'{"jsonrpc":"2.0","method":"ping","id":1,"params":{}}')
