"""The secrets exposure list: every credential the audit stream saw go by, in masked and hashed form.

Secret findings carry the credential's masked form and SHA-256 (`proxy.content.secrets.mask`), never the
credential itself, so the list says what must be rotated without holding anything usable.
"""

from __future__ import annotations

import re
from typing import Any

_HASH = re.compile(r" sha256:([0-9a-f]{64})\]$")


def exposures(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per credential (by SHA-256, or masked form when older events carry no hash), first seen first."""
    found: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.get("event_type") != "decision":
            continue
        for finding in event.get("findings") or ():
            detector = str(finding.get("detector", ""))
            if not detector.startswith("secrets."):
                continue
            excerpt = str(finding.get("excerpt") or "")
            match = _HASH.search(excerpt)
            sha256 = match.group(1) if match else None
            key = sha256 or excerpt or f"{event.get('event_id')}:{detector}"
            entry = found.get(key)
            if entry is not None:
                entry["seen"] += 1
                entry["last_seen"] = event.get("timestamp")
                continue
            found[key] = {
                "type": detector.removeprefix("secrets."), "masked": _HASH.sub("]", excerpt), "sha256": sha256,
                "direction": event.get("direction"),
                "surface": finding.get("surface"), "path": finding.get("path"), "tool": event.get("tool"),
                "principal": event.get("principal"), "agent": event.get("agent"), "verdict": event.get("verdict"),
                "first_seen": event.get("timestamp"), "last_seen": event.get("timestamp"), "seen": 1,
                "event_id": event.get("event_id")}
    return list(found.values())


def markdown(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return "No credential was seen in the audited arguments or results.\n"
    lines = ["| type | masked | SHA-256 | direction | tool | first seen | times | verdict |",
             "|---|---|---|---|---|---|---:|---|"]
    lines += [f"| {e['type']} | `{e['masked']}` | `{(e['sha256'] or '-')[:16]}…` | {e['direction']} | "
              f"{e['tool'] or '-'} | {e['first_seen']} | {e['seen']} | {e['verdict']} |" for e in entries]
    return "\n".join(lines) + "\n"
