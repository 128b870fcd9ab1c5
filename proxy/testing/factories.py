"""Factories for tests: exchanges, listing answers, policy directories and a recording audit hook.

Nothing here opens a socket; these build the values the pipeline and inspections work on.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from proxy.decision import Decision
from proxy.exchange import Exchange
from proxy.mcp_methods import LISTINGS
from proxy.pipeline import Inspection
from proxy.policy import PolicyHolder
from proxy.state.model import Store
from proxy.types import Direction, Era, JsonObject, RequestId, Transport

DEFAULT_PRINCIPAL = "alice"
DEFAULT_UPSTREAM = "default"


def request_message(method: str, params: JsonObject | None = None, request_id: RequestId | None = 1) -> JsonObject:
    """A JSON-RPC request, or a notification when `request_id` is None."""
    message: JsonObject = {"jsonrpc": "2.0", "method": method}
    if request_id is not None:
        message["id"] = request_id
    if params is not None:
        message["params"] = params
    return message


def response_message(request: JsonObject, result: Any) -> JsonObject:
    """A JSON-RPC result answering `request`."""
    return {"jsonrpc": "2.0", "id": request.get("id"), "result": result}


def make_exchange(
    method: str | None = "tools/call",
    *,
    direction: Direction = Direction.TO_SERVER,
    principal: str = DEFAULT_PRINCIPAL,
    agent: str | None = None,
    upstream: str = DEFAULT_UPSTREAM,
    params: JsonObject | None = None,
    request: JsonObject | None = None,
    result: Any = None,
    message: JsonObject | None = None,
    request_id: RequestId | None = 1,
    era: Era = Era.HANDSHAKE,
    session_id: str | None = None,
    client_address: str | None = "127.0.0.1",
    transport: Transport = Transport.HTTP,
    credential_hash: str | None = None,
    notes: Mapping[str, Any] | None = None,
) -> Exchange:
    """Build an Exchange the way a transport adapter would.

    - `message` given: used as is.
    - `request` given: the message is the answer to it (`result`, default `{}`); direction defaults
      to TO_SERVER, so pass `direction=Direction.TO_CLIENT` for an upstream's answer.
    - otherwise: a request for `method` with `params` (a notification when `request_id` is None).
    """
    if message is None:
        if request is not None:
            message = response_message(request, {} if result is None else result)
        else:
            if method is None:
                raise ValueError("make_exchange needs a method, a request to answer, or a message")
            message = request_message(method, params, request_id)
    return Exchange(
        direction=direction, message=message, raw_size=len(orjson.dumps(message)), upstream=upstream,
        principal=principal, agent=agent, session_id=session_id, era=era, transport=transport,
        client_address=client_address, request=request, credential_hash=credential_hash,
        notes=dict(notes or {}),
    )


def tool_call(name: str, arguments: JsonObject | None = None, **kwargs: Any) -> Exchange:
    """A `tools/call` request to the server; keyword arguments go to `make_exchange`."""
    params: JsonObject = {"name": name}
    if arguments is not None:
        params["arguments"] = arguments
    return make_exchange("tools/call", params=params, **kwargs)


def listing_response(method: str, items: Iterable[JsonObject], *, extra: JsonObject | None = None,
                     request_id: RequestId = 1, **kwargs: Any) -> Exchange:
    """An upstream's answer to a listing (`tools/list`, `prompts/list`, `resources/list`)."""
    key = LISTINGS[method][0]
    request = request_message(method, {}, request_id)
    result: JsonObject = {key: list(items), **(extra or {})}
    kwargs.setdefault("direction", Direction.TO_CLIENT)
    return make_exchange(None, request=request, result=result, **kwargs)


def tool_item(name: str, input_schema: JsonObject | None = None) -> JsonObject:
    return {"name": name, "description": f"the {name} tool",
            "inputSchema": input_schema or {"type": "object", "properties": {}}}


def tools_list_response(*names: str, extra: JsonObject | None = None, **kwargs: Any) -> Exchange:
    """An upstream's `tools/list` answer listing tools with these names."""
    return listing_response("tools/list", [tool_item(n) for n in names], extra=extra, **kwargs)


def prompts_list_response(*names: str, **kwargs: Any) -> Exchange:
    return listing_response("prompts/list", [{"name": n} for n in names], **kwargs)


def resources_list_response(*uris: str, **kwargs: Any) -> Exchange:
    return listing_response("resources/list", [{"uri": u, "name": u.rsplit("/", 1)[-1]} for u in uris], **kwargs)


def write_policy(directory: Path, yaml_text: str, name: str = "policy.yaml") -> Path:
    """Write one policy (or `*.test.yaml`) file, dedented; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(yaml_text), encoding="utf-8")
    return path


def policy_holder(directory: Path, yaml_text: str, name: str = "policy.yaml") -> PolicyHolder:
    """Write a one-file policy directory and load it."""
    write_policy(directory, yaml_text, name)
    return PolicyHolder(directory)


@dataclass
class RecordingAudit:
    """An audit hook that remembers each (exchange, decision) it was given."""

    calls: list[tuple[Exchange, Decision]] = field(default_factory=list)

    def __call__(self, ex: Exchange, decision: Decision) -> None:
        self.calls.append((ex, decision))

    @property
    def decisions(self) -> list[Decision]:
        return [d for _, d in self.calls]


async def registry_for(holder: PolicyHolder) -> list[Inspection]:
    """The real inspection registry over a started in-memory SQLite store and an empty tool catalog."""
    from proxy.catalog import ToolCatalog
    from proxy.inspections.registry import build_registry
    from proxy.state.factory import open_store

    store = open_store("sqlite::memory:", poll_interval=0)
    await store.start()
    return build_registry(holder, store, ToolCatalog(store))


def memory_store() -> Store:
    """A started in-memory SQLite store, for synchronous fixtures (not inside a running event loop)."""
    import asyncio

    from proxy.state.sqlite import SQLiteStore

    store = SQLiteStore(":memory:", poll_interval=0)
    asyncio.run(store.start())
    return store
