"""Canonical hashes of tool definitions and of the server identity they come with.

A tool's pin is SHA-256 over the RFC 8785 (JCS) canonical JSON of the **whole tool object as the
server sent it** — nothing is projected away, because every field can reach the agent's model or
change what a call does:

| field            | why it is hashed                                                              |
|------------------|-------------------------------------------------------------------------------|
| `name`           | what the model calls; a rename is a different tool                            |
| `title`          | shown to the user and often to the model                                      |
| `description`    | read by the model: the main prompt-injection (tool poisoning) surface         |
| `inputSchema`    | argument names, types, `description`s, `default`s, `enum`s, `$ref`/`$defs`,   |
|                  | and the 2026-07-28 `x-mcp-header` markers that copy arguments into headers    |
| `outputSchema`   | validates and shapes results the model reads                                  |
| `annotations`    | read-only / destructive / open-world hints that clients and policy act on     |
| `execution`      | task support changes how a call runs                                          |
| `_meta`          | vendor extensions some clients pass to the model                              |
| `icons`          | fetched by clients (a changed URL can be a beacon or a `data:` payload)       |
| anything else    | unknown fields pass the proxy untouched, so they are pinned too               |

JCS makes the hash independent of key order at every depth (so reordering schema `properties`
or top-level keys changes nothing) and of insignificant whitespace; array order *is* significant
(`required: ["a","b"]` and `["b","a"]` hash differently — a conservative choice: drift, never a
silent pass). Numbers follow JCS (ECMAScript) formatting, so `1.0` and `1` are the same.

The server's identity is pinned beside the tools: its `serverInfo.name`, `version` and the SHA-256
of its `instructions` (also read by the model). A change of name or instructions is drift; a new
`version` alone is reported but is not drift (upgrades that keep every definition need no review).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from proxy.canonical import canonical_sha256

__all__ = ["ServerIdentity", "instructions_sha256", "tool_sha256"]


def tool_sha256(definition: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the JCS canonical form of one tool definition (every field)."""
    return canonical_sha256(dict(definition))


def instructions_sha256(instructions: str | None) -> str | None:
    """Hex SHA-256 of the UTF-8 instructions text; None when the server sends none."""
    if instructions is None:
        return None
    return hashlib.sha256(instructions.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class ServerIdentity:
    """Who answered: `serverInfo` name and version, and the hash of the instructions."""

    name: str | None
    version: str | None
    instructions_sha256: str | None

    @classmethod
    def of(cls, name: str | None, version: str | None, instructions: str | None) -> ServerIdentity:
        return cls(name, version, instructions_sha256(instructions))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "instructions_sha256": self.instructions_sha256}

    def drift_from(self, pinned: ServerIdentity) -> list[str]:
        """What changed that needs review (name, instructions); a version change alone is not drift."""
        out = []
        if self.name != pinned.name:
            out.append(f"server name {pinned.name!r} -> {self.name!r}")
        if self.instructions_sha256 != pinned.instructions_sha256:
            out.append("server instructions changed")
        return out
