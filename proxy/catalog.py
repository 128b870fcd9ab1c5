"""What each upstream's tools look like, learned from the tools/list answers that pass the proxy.

Inspections use it to know a tool's annotations (read-only, open-world) and input schema without
asking the server; the definition recorded is the one the agent was shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_TOOLS_PER_UPSTREAM = 4096


@dataclass(frozen=True, slots=True)
class ToolInfo:
    name: str
    input_schema: Any
    read_only: bool
    open_world: bool
    destructive: bool


class ToolCatalog:
    """Per-upstream tool definitions; replaced tool by tool as listings pass through."""

    def __init__(self) -> None:
        self._tools: dict[str, dict[str, ToolInfo]] = {}

    def learn(self, upstream: str, tools: list[Any]) -> None:
        known = self._tools.setdefault(upstream, {})
        for tool in tools:
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                continue
            if len(known) >= MAX_TOOLS_PER_UPSTREAM and tool["name"] not in known:
                continue
            raw_hints = tool.get("annotations")
            hints: dict[str, Any] = raw_hints if isinstance(raw_hints, dict) else {}
            known[tool["name"]] = ToolInfo(
                name=tool["name"], input_schema=tool.get("inputSchema"),
                read_only=hints.get("readOnlyHint") is True,
                # the MCP defaults: destructive and open-world unless the server says otherwise
                open_world=hints.get("openWorldHint") is not False,
                destructive=hints.get("destructiveHint") is not False and hints.get("readOnlyHint") is not True,
            )

    def get(self, upstream: str, name: str | None) -> ToolInfo | None:
        return self._tools.get(upstream, {}).get(name or "")

    def manifest(self) -> dict[str, list[str]]:
        """Tool names per upstream (for evidence snapshots)."""
        return {upstream: sorted(tools) for upstream, tools in self._tools.items()}
