"""The tool catalog remembers what listings showed, with the MCP defaults for missing hints, and shares it
through the store so every replica decides read-only / no-egress containment the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.catalog import ToolCatalog
from proxy.state.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio


async def test_hints_and_defaults() -> None:
    catalog = ToolCatalog()
    catalog.learn("notes", [
        {"name": "read", "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": True,
                                                                            "openWorldHint": False}},
        {"name": "fetch", "inputSchema": {"type": "object"}},
        "not a tool", {"name": 3},
    ])
    read, fetch = catalog.get("notes", "read"), catalog.get("notes", "fetch")
    assert read is not None and read.read_only and not read.open_world and not read.destructive
    assert fetch is not None and not fetch.read_only and fetch.open_world and fetch.destructive
    assert catalog.get("notes", "missing") is None and catalog.get("other", "read") is None
    assert await catalog.manifest() == {"notes": ["fetch", "read"]}


async def test_a_new_listing_replaces_the_definition() -> None:
    catalog = ToolCatalog()
    assert [t.name for t in catalog.learn("u", [{"name": "t", "annotations": {"readOnlyHint": True}}])] == ["t"]
    assert catalog.learn("u", [{"name": "t", "annotations": {"readOnlyHint": True}}]) == []  # unchanged: no write
    catalog.learn("u", [{"name": "t", "annotations": {"readOnlyHint": False}}])
    tool = catalog.get("u", "t")
    assert tool is not None and not tool.read_only


async def test_what_one_replica_learns_another_looks_up(tmp_path: Path) -> None:
    a_store, b_store = SQLiteStore(tmp_path / "s.db", poll_interval=0), SQLiteStore(tmp_path / "s.db", poll_interval=0)
    await a_store.start()
    await b_store.start()
    try:
        a, b = ToolCatalog(a_store), ToolCatalog(b_store)
        a.learn("notes", [{"name": "read", "annotations": {"readOnlyHint": True}}, {"name": "send"}])
        await a.flush()
        assert b.get("notes", "read") is None  # b never saw the listing itself …
        read = await b.lookup("notes", "read")  # … but the shared catalog has it
        send = await b.lookup("notes", "send")
        assert read is not None and read.read_only and send is not None and send.open_world
        assert await b.lookup("notes", "missing") is None
        a.learn("notes", [{"name": "read", "annotations": {"readOnlyHint": False}}])  # a rug pull is shared too
        await a.flush()
        changed = await b.lookup("notes", "read")
        assert changed is not None and not changed.read_only
        assert await b.manifest(["notes"]) == {"notes": ["read", "send"]}
    finally:
        await a_store.close()
        await b_store.close()
