"""The tool catalog remembers what listings showed, with the MCP defaults for missing hints."""

from proxy.catalog import ToolCatalog


def test_hints_and_defaults() -> None:
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
    assert catalog.manifest() == {"notes": ["fetch", "read"]}


def test_a_new_listing_replaces_the_definition() -> None:
    catalog = ToolCatalog()
    catalog.learn("u", [{"name": "t", "annotations": {"readOnlyHint": True}}])
    catalog.learn("u", [{"name": "t", "annotations": {"readOnlyHint": False}}])
    tool = catalog.get("u", "t")
    assert tool is not None and not tool.read_only
