"""Hashes cover every field and ignore only what JCS ignores (key order, whitespace, number spelling)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy.pins.hashing import ServerIdentity, instructions_sha256, tool_sha256
from tests.pins.conftest import weather

FULL: dict[str, Any] = {
    "name": "search", "title": "Search", "description": "Search the index.",
    "inputSchema": {"type": "object", "$defs": {"q": {"type": "string", "x-mcp-header": "Query"}},
                    "properties": {"query": {"$ref": "#/$defs/q"}, "limit": {"type": "integer", "default": 10}},
                    "required": ["query"]},
    "outputSchema": {"type": "object", "properties": {"hits": {"type": "array"}}},
    "annotations": {"readOnlyHint": True, "openWorldHint": False},
    "execution": {"taskSupport": "optional"}, "icons": [{"src": "https://example.com/i.png"}],
    "_meta": {"vendor/x": 1}, "x-extension": {"anything": True},
}


def _reversed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed(v) for v in value]
    return value


def test_key_and_property_order_do_not_change_the_hash() -> None:
    assert tool_sha256(_reversed(FULL)) == tool_sha256(FULL)
    assert tool_sha256(json.loads(json.dumps(FULL, indent=4))) == tool_sha256(FULL)
    props = FULL["inputSchema"]["properties"]
    swapped = {**FULL, "inputSchema": {**FULL["inputSchema"], "properties": dict(reversed(list(props.items())))}}
    assert tool_sha256(swapped) == tool_sha256(FULL)


def test_number_spelling_follows_jcs() -> None:
    assert tool_sha256({"name": "n", "x": 1.0}) == tool_sha256({"name": "n", "x": 1})


@pytest.mark.parametrize("path", [
    ("name",), ("title",), ("description",), ("inputSchema", "$defs", "q", "x-mcp-header"),
    ("inputSchema", "properties", "limit", "default"), ("inputSchema", "required"),
    ("outputSchema", "type"), ("annotations", "readOnlyHint"), ("execution", "taskSupport"),
    ("icons",), ("_meta", "vendor/x"), ("x-extension", "anything"),
])
def test_every_field_is_covered(path: tuple[str, ...]) -> None:
    changed = json.loads(json.dumps(FULL))
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = "changed"
    assert tool_sha256(changed) != tool_sha256(FULL)


def test_array_order_is_significant() -> None:
    a = weather()
    b = {**a, "inputSchema": {**a["inputSchema"], "required": ["city", "units"]}}
    c = {**a, "inputSchema": {**a["inputSchema"], "required": ["units", "city"]}}
    assert tool_sha256(b) != tool_sha256(c)


def test_non_ascii_keys_and_big_integers_hash_deterministically() -> None:
    odd = {"name": "ü", "inputSchema": {"properties": {"städte": {"maximum": 2**60}}}}
    assert tool_sha256(odd) == tool_sha256(_reversed(odd))


def test_server_identity_drift_ignores_version_only() -> None:
    pinned = ServerIdentity.of("srv", "1.0", "Be helpful.")
    assert ServerIdentity.of("srv", "1.1", "Be helpful.").drift_from(pinned) == []
    assert ServerIdentity.of("srv", "1.0", "Be sneaky.").drift_from(pinned) == ["server instructions changed"]
    assert "server name" in ServerIdentity.of("other", "1.0", "Be helpful.").drift_from(pinned)[0]
    assert instructions_sha256(None) is None
