"""JSON-RPC 2.0 framing: parse once with limits, classify, and build error answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from proxy.errors import ErrorCode, MessageError
from proxy.types import JsonObject, MessageKind, RequestId


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds applied to every message before anything else looks at it."""

    max_body_bytes: int = 4 * 1024 * 1024
    max_depth: int = 64
    max_batch: int = 32


def parse_body(raw: bytes, limits: Limits) -> list[JsonObject] | JsonObject:
    """Decode one HTTP body or stdio line into a message or a batch, enforcing limits.

    Raises `MessageError` with the JSON-RPC code to answer with.
    """
    if len(raw) > limits.max_body_bytes:
        raise MessageError(ErrorCode.LIMIT_EXCEEDED, f"message exceeds {limits.max_body_bytes} bytes")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if any(word in str(exc).lower() for word in ("recursion", "depth")):
            raise MessageError(ErrorCode.LIMIT_EXCEEDED, "message nesting too deep") from None
        raise MessageError(ErrorCode.PARSE_ERROR, "parse error: body is not valid JSON") from None
    if isinstance(value, (dict, list)):
        check_depth(value, limits.max_depth)  # cost grows with the number of containers, not of bytes
    if isinstance(value, list):
        if not value:
            raise MessageError(ErrorCode.INVALID_REQUEST, "invalid request: empty batch")
        if len(value) > limits.max_batch:
            raise MessageError(ErrorCode.LIMIT_EXCEEDED, f"batch exceeds {limits.max_batch} messages")
        for item in value:
            validate_message(item)
        return value
    validate_message(value)
    return value  # type: ignore[no-any-return]


def check_depth(value: Any, max_depth: int) -> None:
    """Refuse containers nested deeper than `max_depth`; cost is linear in the number of containers."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise MessageError(ErrorCode.LIMIT_EXCEEDED, f"message nesting exceeds depth {max_depth}")
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))


def validate_message(value: Any) -> None:
    """Check the JSON-RPC 2.0 envelope shape; the body of params/result is not judged here."""
    if not isinstance(value, dict):
        raise MessageError(ErrorCode.INVALID_REQUEST, "invalid request: message is not a JSON object")
    if value.get("jsonrpc") != "2.0":
        raise MessageError(ErrorCode.INVALID_REQUEST, 'invalid request: "jsonrpc" must be "2.0"')
    has_id = "id" in value
    if has_id and not _valid_id(value["id"]) and not (value["id"] is None and "error" in value):
        raise MessageError(ErrorCode.INVALID_REQUEST, "invalid request: id must be a string or integer")
    if "method" in value:
        if not isinstance(value["method"], str) or not value["method"]:
            raise MessageError(ErrorCode.INVALID_REQUEST, "invalid request: method must be a non-empty string")
        params = value.get("params")
        if params is not None and not isinstance(params, (dict, list)):
            raise MessageError(ErrorCode.INVALID_REQUEST, "invalid request: params must be an object or array")
        return
    if not has_id:
        raise MessageError(ErrorCode.INVALID_REQUEST, "invalid request: neither method nor id")
    has_result, has_error = "result" in value, "error" in value
    if has_result == has_error:
        raise MessageError(ErrorCode.INVALID_REQUEST, "invalid response: needs exactly one of result, error")
    if has_error and not isinstance(value["error"], dict):
        raise MessageError(ErrorCode.INVALID_REQUEST, "invalid response: error must be an object")


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def kind_of(message: JsonObject) -> MessageKind:
    """Classify a validated message."""
    if "method" in message:
        return MessageKind.REQUEST if "id" in message else MessageKind.NOTIFICATION
    return MessageKind.ERROR if "error" in message else MessageKind.RESPONSE


def error_response(request_id: RequestId | None, code: int, message: str, data: Any = None) -> JsonObject:
    """A JSON-RPC error answer."""
    error: JsonObject = {"code": int(code), "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def dumps(value: Any) -> bytes:
    """Serialise compactly (used only when a message was rewritten or generated)."""
    return orjson.dumps(value)
