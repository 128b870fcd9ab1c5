"""Tool shadowing: two upstreams exposing the same tool name, or names a model would confuse.

Names are folded to a skeleton: NFKC, case-fold, common Cyrillic/Greek/symbol homoglyphs mapped to
Latin, invisible characters dropped, and `-` / `.` / space treated as `_`. Two names with the
same skeleton on different upstreams collide; the kind says how close they are.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

CollisionKind = Literal["exact", "case", "confusable"]

# Homoglyphs that survive NFKC + casefold, and their Latin reading (Cyrillic, Greek, digits, dashes),
# written as escapes so this file itself shows no look-alikes.
_CONFUSABLES = str.maketrans(
    "\u0430\u0432\u0441\u0501\u0435\u0451\u04bb\u0456\u0457\u0458\u043a\u04cf\u043c\u043d"
    "\u043e\u0440\u051b\u0455\u0442\u0446\u0475\u051d\u0445\u0443\u0433\u044c\u043f"
    "\u03b1\u03b2\u03b5\u03b7\u03b9\u03ba\u03bd\u03bf\u03c1\u03c4\u03c5\u03c7\u03b3\u03c9\u03f2\u03f3"
    "\u0131\u0142\u00f801|"
    "\u2010\u2011\u2012\u2013\u2014\u2212-. ",
    "abcdeehiijklmh"
    "opqstuvwxyrbn"
    "abenikvoptuxywcj"
    "ilooll"
    "_________",
)
_INVISIBLE = dict.fromkeys(
    cp for cp in (0x00AD, 0x034F, 0x061C, 0x180E, *range(0x200B, 0x2010), *range(0x202A, 0x202F),
                  *range(0x2060, 0x2070), 0xFEFF))


def skeleton(name: str) -> str:
    """The confusable-folded form of a tool name."""
    folded = unicodedata.normalize("NFKC", name).translate(_INVISIBLE).casefold()
    folded = "".join(ch for ch in unicodedata.normalize("NFD", folded) if unicodedata.category(ch) != "Mn")
    return folded.translate(_CONFUSABLES)


@dataclass(frozen=True, slots=True)
class Collision:
    """Tools on different upstreams whose names collide; `members` are (upstream, name), sorted."""

    skeleton: str
    kind: CollisionKind
    members: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        who = ", ".join(f"{name!r} on {upstream}" for upstream, name in self.members)
        return f"{self.kind} tool-name collision: {who}"


def _kind(names: Iterable[str]) -> CollisionKind:
    distinct = set(names)
    if len(distinct) == 1:
        return "exact"
    return "case" if len({n.casefold() for n in distinct}) == 1 else "confusable"


def find_collisions(names_by_upstream: Mapping[str, Iterable[str]]) -> list[Collision]:
    """Every skeleton claimed by more than one upstream."""
    groups: dict[str, set[tuple[str, str]]] = {}
    for upstream, names in names_by_upstream.items():
        for name in names:
            groups.setdefault(skeleton(name), set()).add((upstream, name))
    out = []
    for key, members in sorted(groups.items()):
        if len({upstream for upstream, _ in members}) > 1:
            ordered = tuple(sorted(members))
            out.append(Collision(key, _kind(n for _, n in ordered), ordered))
    return out


def collisions_for(upstream: str, names: Iterable[str],
                   others: Mapping[str, Iterable[str]]) -> dict[str, Collision]:
    """For each of `upstream`'s names, the collision it takes part in (if any) with the other upstreams."""
    mine = list(names)
    table = {u: list(n) for u, n in others.items() if u != upstream}
    table[upstream] = mine
    found: dict[str, Collision] = {}
    for collision in find_collisions(table):
        for member_upstream, name in collision.members:
            if member_upstream == upstream:
                found[name] = collision
    return found


def winner(collision: Collision, priority: Iterable[str]) -> str | None:
    """The upstream that keeps the name under a priority order (earlier wins); None if none is ranked."""
    ranked = list(priority)
    present = [u for u in ranked if any(m[0] == u for m in collision.members)]
    return present[0] if present else None
