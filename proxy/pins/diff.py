"""Semantic diff of tool listings: added / removed / renamed tools, word diffs of prose, schema paths.

A rename is a removed tool and an added tool that are identical apart from the name, or that share
both description and input schema. Descriptions and titles are shown as a word diff
(`[-old-]{+new+}`, as `git diff --word-diff`); every other field as JSON-path changes
(`$.inputSchema.properties.city.type: "string" -> "number"`).
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from proxy.canonical import canonical_json
from proxy.pins.hashing import tool_sha256

PROSE_FIELDS = ("title", "description")
_TOKENS = re.compile(r"\s+|[^\s]+")
_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")
MAX_VALUE_CHARS = 120


@dataclass(frozen=True, slots=True)
class PathChange:
    """One JSON value that differs: `op` is added, removed or changed."""

    path: str
    op: str
    old: Any = None
    new: Any = None

    def render(self) -> str:
        if self.op == "added":
            return f"{self.path}: added {_short(self.new)}"
        if self.op == "removed":
            return f"{self.path}: removed (was {_short(self.old)})"
        return f"{self.path}: {_short(self.old)} -> {_short(self.new)}"

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "op": self.op, "old": self.old, "new": self.new}


@dataclass(frozen=True, slots=True)
class ToolDiff:
    """How one tool's definition changed: prose as word diffs, the rest by JSON path."""

    name: str
    old_sha256: str
    new_sha256: str
    prose: dict[str, str] = field(default_factory=dict)  # field -> word diff
    changes: tuple[PathChange, ...] = ()

    def summary(self) -> str:
        parts = [f"{f} changed" for f in self.prose]
        if self.changes:
            parts.append(f"{len(self.changes)} schema/field change{'s' if len(self.changes) != 1 else ''}")
        return f"tool {self.name!r}: " + (", ".join(parts) or "changed")

    def render(self) -> str:
        lines = [f"~ {self.name}  {self.old_sha256[:12]} -> {self.new_sha256[:12]}"]
        lines += [f"    {name}: {text}" for name, text in self.prose.items()]
        lines += [f"    {c.render()}" for c in self.changes]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "old_sha256": self.old_sha256, "new_sha256": self.new_sha256,
                "prose": dict(self.prose), "changes": [c.as_dict() for c in self.changes]}


@dataclass(frozen=True, slots=True)
class ListingDiff:
    """Differences between a pinned listing and the current one."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()  # (old name, new name)
    changed: tuple[ToolDiff, ...] = ()
    server: tuple[str, ...] = ()  # server identity drift (name, instructions)
    notes: tuple[str, ...] = ()  # reported but not drift (a new server version)

    @property
    def drift(self) -> bool:
        return bool(self.added or self.removed or self.renamed or self.changed or self.server)

    def render(self) -> str:
        lines = [f"! {s}" for s in self.server]
        lines += [f"+ {n}  (new tool)" for n in self.added]
        lines += [f"- {n}  (removed)" for n in self.removed]
        lines += [f"> {old} -> {new}  (renamed)" for old, new in self.renamed]
        lines += [d.render() for d in self.changed]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines) if lines else "no drift"

    def as_dict(self) -> dict[str, Any]:
        return {"added": list(self.added), "removed": list(self.removed),
                "renamed": [list(pair) for pair in self.renamed],
                "changed": [d.as_dict() for d in self.changed], "server": list(self.server),
                "notes": list(self.notes)}


def word_diff(old: str, new: str) -> str:
    """`[-removed-]{+added+}` marks over whitespace-separated tokens (whitespace kept).

    Invisible and control characters are shown as `<U+XXXX>` so nothing hides in a review.
    """
    a, b = _TOKENS.findall(visible(old)), _TOKENS.findall(visible(new))
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append("".join(a[i1:i2]))
        else:
            out.append(_marked("".join(a[i1:i2]), "".join(b[j1:j2])))
    return "".join(out)


def _marked(old: str, new: str) -> str:
    """Mark one changed span, keeping whitespace both sides share outside the marks."""
    texts = [t for t in (old, new) if t.strip()]
    if not texts:
        return (f"[-{old}-]" if old else "") + (f"{{+{new}+}}" if new else "")
    lead = min((t[:len(t) - len(t.lstrip())] for t in texts), key=len)
    trail = min((t[len(t.rstrip()):] for t in texts), key=len)
    if not all(t.startswith(lead) and t.endswith(trail) for t in (old, new) if t):
        lead = trail = ""
    core_old = old[len(lead):len(old) - len(trail)] if old else ""
    core_new = new[len(lead):len(new) - len(trail)] if new else ""
    return (lead + (f"[-{core_old}-]" if core_old else "") + (f"{{+{core_new}+}}" if core_new else "")
            + trail)


def json_changes(old: Any, new: Any, path: str = "$") -> list[PathChange]:
    """Every leaf-level difference between two JSON values, by JSON path (objects by key, arrays by index)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[PathChange] = []
        for key in sorted(set(old) | set(new)):
            sub = _child(path, key)
            if key not in new:
                out.append(PathChange(sub, "removed", old=old[key]))
            elif key not in old:
                out.append(PathChange(sub, "added", new=new[key]))
            else:
                out.extend(json_changes(old[key], new[key], sub))
        return out
    if isinstance(old, list) and isinstance(new, list):
        out = []
        for i in range(max(len(old), len(new))):
            sub = f"{path}[{i}]"
            if i >= len(new):
                out.append(PathChange(sub, "removed", old=old[i]))
            elif i >= len(old):
                out.append(PathChange(sub, "added", new=new[i]))
            else:
                out.extend(json_changes(old[i], new[i], sub))
        return out
    if canonical_json(old) == canonical_json(new):
        return []
    return [PathChange(path, "changed", old=old, new=new)]


def diff_definitions(old: Mapping[str, Any], new: Mapping[str, Any]) -> ToolDiff:
    """One tool's changes: word diffs for title/description, JSON paths for everything else."""
    prose: dict[str, str] = {}
    rest_old, rest_new = dict(old), dict(new)
    for name in PROSE_FIELDS:
        a, b = rest_old.get(name), rest_new.get(name)
        if isinstance(a, str) and isinstance(b, str):
            rest_old.pop(name), rest_new.pop(name)
            if a != b:
                prose[name] = word_diff(a, b)
    tool = new.get("name") if isinstance(new.get("name"), str) else old.get("name")
    return ToolDiff(str(tool), tool_sha256(old), tool_sha256(new), prose,
                    tuple(json_changes(rest_old, rest_new)))


def diff_listings(old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]) -> ListingDiff:
    """Compare two {name: definition} maps (pinned vs current)."""
    removed = sorted(set(old) - set(new))
    added = sorted(set(new) - set(old))
    renamed: list[tuple[str, str]] = []
    for gone in list(removed):
        match = next((n for n in added if _same_but_name(old[gone], new[n])), None)
        if match is not None:
            renamed.append((gone, match))
            removed.remove(gone)
            added.remove(match)
    changed = tuple(diff_definitions(old[n], new[n]) for n in sorted(set(old) & set(new))
                    if tool_sha256(old[n]) != tool_sha256(new[n]))
    return ListingDiff(tuple(added), tuple(removed), tuple(renamed), changed)


def _same_but_name(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    strip = ("name", "title")
    if tool_sha256({k: v for k, v in a.items() if k not in strip}) == tool_sha256(
            {k: v for k, v in b.items() if k not in strip}):
        return True
    description = a.get("description")
    return (isinstance(description, str) and bool(description.strip()) and description == b.get("description")
            and tool_sha256({"s": a.get("inputSchema")}) == tool_sha256({"s": b.get("inputSchema")}))


def visible(text: str) -> str:
    """`text` with control, format (zero-width, bidi, tag) and unassigned characters as `<U+XXXX>`."""
    if text.isprintable() and text.isascii():
        return text
    return "".join(ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else f"<U+{ord(ch):04X}>"
                   for ch in text)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if _IDENT.match(key) else f"{path}[{json.dumps(key, ensure_ascii=True)}]"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True, sort_keys=True)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"
