"""The findings pinning reports, and the short texts that go with them (diffs clipped for events)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy.decision import Finding
from proxy.pins.diff import visible
from proxy.types import Severity

ATLAS_PLUGIN_COMPROMISE = "AML.T0053"  # LLM plugin compromise: a tool definition the agent trusts
EXCERPT_CHARS = 1000


def finding(detector: str, severity: Severity, message: str, *, path: str | None = None,
             excerpt: str | None = None) -> Finding:
    return Finding(detector=detector, severity=severity, message=message, path=path, excerpt=excerpt,
                   atlas=ATLAS_PLUGIN_COMPROMISE, surface="tool_description")


def change_finding(name: str, change: Mapping[str, Any], *, enforced: bool) -> Finding:
    kind = str(change.get("kind"))
    detector = {"new": "pins.new", "changed": "pins.drift", "poisoned": "pins.poisoned"}.get(kind, "pins.drift")
    severity = Severity.SEV2 if kind == "poisoned" else Severity.SEV3 if kind == "changed" else Severity.SEV4
    action = "hidden pending approval" if enforced else "passed (alert mode)"
    return finding(detector, severity, f"{label(name)}: {kind} definition sha256 {str(change.get('sha256'))[:12]} "
                    f"is not approved; {action}", path=f"tools/{name}", excerpt=clip(change.get("diff_text")))


def label(name: str) -> str:
    """How a pinned item is named in messages."""
    return "server instructions" if name == "@server" else f"tool {name!r}"


def render_new(name: str, tool: Mapping[str, Any]) -> str:
    lines = [f"+ {name}  (new tool)"]
    for key in ("title", "description"):
        if isinstance(tool.get(key), str):
            lines.append(f"    {key}: {visible(tool[key])}")
    schema = tool.get("inputSchema")
    props = schema.get("properties") if isinstance(schema, dict) else None
    if isinstance(props, dict):
        lines.append(f"    arguments: {', '.join(visible(str(k)) for k in props)}")
    return "\n".join(lines)


def clip(text: Any) -> str | None:
    if not isinstance(text, str) or not text:
        return None
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS - 1] + "…"
