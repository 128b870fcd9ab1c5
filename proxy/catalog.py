"""What each upstream's tools look like, learned from the tools/list answers that pass the proxy.

Learned once, after the decision, for every transport (the runtime does it, never a transport), and
shared through the store: a `read-only` or `no-egress` quarantine asks `lookup`, which reads what any
replica learned, so every replica decides the same. The local copy serves what only needs to be
best-effort here (the input schema for modern-era header checks). The definition recorded is the one
the agent was shown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from proxy.state.codec import StoreUnavailable
from proxy.state.model import Store

log = logging.getLogger("drawbridge.catalog")
MAX_TOOLS_PER_UPSTREAM = 4096
NAMESPACE = "catalog:"


@dataclass(frozen=True, slots=True)
class ToolInfo:
    name: str
    input_schema: Any
    read_only: bool
    open_world: bool
    destructive: bool

    @classmethod
    def from_listing(cls, tool: dict[str, Any]) -> ToolInfo:
        raw_hints = tool.get("annotations")
        hints: dict[str, Any] = raw_hints if isinstance(raw_hints, dict) else {}
        return cls(
            name=tool["name"], input_schema=tool.get("inputSchema"),
            read_only=hints.get("readOnlyHint") is True,
            # the MCP defaults: destructive and open-world unless the server says otherwise
            open_world=hints.get("openWorldHint") is not False,
            destructive=hints.get("destructiveHint") is not False and hints.get("readOnlyHint") is not True,
        )


class ToolCatalog:
    """Per-upstream tool definitions: a local copy, written through to the store when they change."""

    def __init__(self, store: Store | None = None) -> None:
        self._tools: dict[str, dict[str, ToolInfo]] = {}
        self._store = store
        self._writes: set[asyncio.Task[None]] = set()

    def learn(self, upstream: str, tools: list[Any]) -> list[ToolInfo]:
        """Record a listing's tools; returns those that are new or changed (and schedules their store write)."""
        known = self._tools.setdefault(upstream, {})
        changed: list[ToolInfo] = []
        for tool in tools:
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                continue
            if len(known) >= MAX_TOOLS_PER_UPSTREAM and tool["name"] not in known:
                continue
            info = ToolInfo.from_listing(tool)
            if known.get(info.name) != info:
                known[info.name] = info
                changed.append(info)
        if changed and self._store is not None:
            task = asyncio.get_running_loop().create_task(self._publish(upstream, changed))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)
        return changed

    async def _publish(self, upstream: str, tools: list[ToolInfo]) -> None:
        assert self._store is not None
        try:
            for info in tools:
                await self._store.kv_put(NAMESPACE + upstream, info.name, asdict(info))
        except StoreUnavailable as exc:
            log.warning("could not share the tool catalog of %s: %s", upstream, exc)

    async def flush(self) -> None:
        """Wait for pending store writes (tests, shutdown)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    def get(self, upstream: str, name: str | None) -> ToolInfo | None:
        """What this process learned (no I/O)."""
        return self._tools.get(upstream, {}).get(name or "")

    async def lookup(self, upstream: str, name: str | None) -> ToolInfo | None:
        """What any replica learned, from the store (StoreUnavailable propagates: callers fail closed)."""
        if self._store is None or not name:
            return self.get(upstream, name)
        data = await self._store.kv_get(NAMESPACE + upstream, name)
        if data is None:
            return None
        try:
            return ToolInfo(**data)
        except TypeError:
            log.error("unreadable catalog entry for %s/%s", upstream, name)
            return None

    async def manifest(self, upstreams: Iterable[str] = ()) -> dict[str, list[str]]:
        """Tool names per upstream, as every replica learned them (for evidence snapshots)."""
        out = {upstream: sorted(tools) for upstream, tools in self._tools.items()}
        if self._store is not None:
            for upstream in upstreams:
                try:
                    shared = await self._store.kv_list(NAMESPACE + upstream)
                except StoreUnavailable:
                    continue
                out[upstream] = sorted(set(out.get(upstream, [])) | set(shared))
        return {k: v for k, v in out.items() if v}
