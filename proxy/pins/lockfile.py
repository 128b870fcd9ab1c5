"""The lock file: one upstream's reviewed tool definitions, committed next to the policies.

    {"drawbridge_pins": 1, "upstream": NAME,
     "server": {"name": …, "version": …, "instructions_sha256": …, "instructions": "…", "findings": [...]?},
     "tools": {TOOL: {"sha256": …, "definition": {…}, "findings": [...]?}}}

Written with sorted keys, two-space indent and ASCII escapes (`ensure_ascii`), so a review diff is
stable and invisible characters (zero-width, Unicode tags) show up as `\\uXXXX` instead of hiding.
The instructions text is kept beside its hash so reviewers can read what the model will read.
On load every hash is recomputed from its text or definition: a hand edit is an error.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxy.errors import ConfigError
from proxy.pins.hashing import ServerIdentity, instructions_sha256, tool_sha256

FORMAT_VERSION = 1
SERVER_KEY = "@server"  # the server instructions, wherever tools are keyed by name


@dataclass(frozen=True, slots=True)
class ToolPin:
    sha256: str
    definition: dict[str, Any]
    findings: tuple[dict[str, Any], ...] = ()  # findings accepted with --allow-findings (for reviewers)


@dataclass(frozen=True, slots=True)
class Lockfile:
    upstream: str
    server: ServerIdentity
    tools: dict[str, ToolPin] = field(default_factory=dict)
    instructions: str | None = None
    server_findings: tuple[dict[str, Any], ...] = ()  # instruction findings accepted with --allow-findings

    @classmethod
    def build(cls, upstream: str, server: ServerIdentity, definitions: Iterable[Mapping[str, Any]],
              findings: Mapping[str, Iterable[dict[str, Any]]] | None = None,
              instructions: str | None = None) -> Lockfile:
        """Pin a listing (tools without a string name are skipped; the caller reports them)."""
        tools: dict[str, ToolPin] = {}
        for definition in definitions:
            name = definition.get("name")
            if isinstance(name, str):
                tools[name] = ToolPin(tool_sha256(definition), dict(definition),
                                      tuple((findings or {}).get(name, ())))
        return cls(upstream, server, dict(sorted(tools.items())), instructions,
                   tuple((findings or {}).get(SERVER_KEY, ())))

    def definitions(self) -> dict[str, dict[str, Any]]:
        return {name: pin.definition for name, pin in self.tools.items()}

    def hashes(self) -> dict[str, str]:
        return {name: pin.sha256 for name, pin in self.tools.items()}

    def to_json(self) -> dict[str, Any]:
        tools: dict[str, Any] = {}
        for name, pin in sorted(self.tools.items()):
            entry: dict[str, Any] = {"sha256": pin.sha256, "definition": pin.definition}
            if pin.findings:
                entry["findings"] = list(pin.findings)
            tools[name] = entry
        server = self.server.as_dict()
        if self.instructions is not None:
            server["instructions"] = self.instructions
        if self.server_findings:
            server["findings"] = list(self.server_findings)
        return {"drawbridge_pins": FORMAT_VERSION, "upstream": self.upstream, "server": server, "tools": tools}


def dumps(lock: Lockfile) -> str:
    """The file text: sorted keys, two-space indent, ASCII escapes, trailing newline."""
    return json.dumps(lock.to_json(), indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def write(path: Path, lock: Lockfile) -> None:
    """Replace `path` atomically (write a sibling temporary file, then rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(dumps(lock))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def loads(text: str, source: str = "lock file") -> Lockfile:
    """Parse and verify lock-file text; `ConfigError` with one line naming what is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or data.get("drawbridge_pins") != FORMAT_VERSION:
        raise ConfigError(f"{source}: not a drawbridge pins file (expected \"drawbridge_pins\": {FORMAT_VERSION})")
    upstream, server, tools = data.get("upstream"), data.get("server"), data.get("tools")
    if not isinstance(upstream, str) or not isinstance(server, dict) or not isinstance(tools, dict):
        raise ConfigError(f"{source}: needs \"upstream\" (string), \"server\" and \"tools\" (objects)")
    identity = ServerIdentity(_opt_str(server, "name", source), _opt_str(server, "version", source),
                              _opt_str(server, "instructions_sha256", source))
    instructions = _opt_str(server, "instructions", source)
    if instructions is not None and instructions_sha256(instructions) != identity.instructions_sha256:
        raise ConfigError(f"{source}: server.instructions_sha256 does not match server.instructions (edited by hand?)")
    pins: dict[str, ToolPin] = {}
    for name, entry in tools.items():
        definition = entry.get("definition") if isinstance(entry, dict) else None
        if not isinstance(definition, dict) or not isinstance(entry.get("sha256"), str):
            raise ConfigError(f"{source}: tool {name!r} needs \"sha256\" and a \"definition\" object")
        if definition.get("name") != name:
            raise ConfigError(f"{source}: tool {name!r} has a definition named {definition.get('name')!r}")
        if tool_sha256(definition) != entry["sha256"]:
            raise ConfigError(f"{source}: tool {name!r}: sha256 does not match its definition (edited by hand? "
                              "re-run drawbridge pin)")
        found = entry.get("findings", [])
        if not isinstance(found, list) or not all(isinstance(f, dict) for f in found):
            raise ConfigError(f"{source}: tool {name!r}: \"findings\" must be a list of objects")
        pins[name] = ToolPin(entry["sha256"], definition, tuple(found))
    server_findings = server.get("findings", [])
    if not isinstance(server_findings, list) or not all(isinstance(f, dict) for f in server_findings):
        raise ConfigError(f"{source}: server.findings must be a list of objects")
    return Lockfile(upstream, identity, dict(sorted(pins.items())), instructions, tuple(server_findings))


def load(path: Path) -> Lockfile:
    """Read and verify a lock file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read pins file {path} ({exc.strerror or exc.__class__.__name__})") from None
    return loads(text, str(path))


def _opt_str(data: dict[str, Any], key: str, source: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{source}: server.{key} must be a string or null")
    return value
