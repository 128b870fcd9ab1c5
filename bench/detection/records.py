"""Corpus records: {id, source, category, label, family, surface, text}."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

Record = dict[str, Any]
ATTACK, BENIGN = "attack", "benign"


def record(source: str, category: str, label: str, family: str | None, surface: str, text: str) -> Record:
    digest = hashlib.sha256(f"{source}|{category}|{surface}|{text}".encode("utf-8", "surrogatepass")).hexdigest()
    return {"id": f"{source}:{digest[:12]}", "source": source, "category": category, "label": label,
            "family": family, "surface": surface, "text": text}


def capped(records: Iterable[Record], per_category: int, seed: int = 7) -> list[Record]:
    """Deduplicate, then keep at most `per_category` records of each category (deterministic sample)."""
    by_category: dict[str, dict[str, Record]] = {}
    for r in records:
        by_category.setdefault(r["category"], {}).setdefault(r["id"], r)
    out: list[Record] = []
    rng = random.Random(seed)  # noqa: S311 - reproducible sampling, not cryptography
    for category in sorted(by_category):
        items = sorted(by_category[category].values(), key=lambda r: r["id"])
        if len(items) > per_category:
            items = rng.sample(items, per_category)
        out.extend(items)
    return out


PER_SOURCE = 400  # cap of records per source for the sources that apply one (set by --per-source)
T = TypeVar("T")


def fair_sample(groups: dict[str, list[T]], cap: int, seed: str) -> list[tuple[str, T]]:
    """At most `cap` items, taken round-robin over the groups (e.g. languages) after a seeded shuffle of
    each, so every group is represented and the same inputs always give the same sample."""
    pools: dict[str, list[T]] = {}
    for name in sorted(groups):
        items = list(groups[name])
        random.Random(f"{seed}|{name}").shuffle(items)  # noqa: S311 - reproducible sampling
        if items:
            pools[name] = items
    out: list[tuple[str, T]] = []
    depth = 0
    while len(out) < cap and pools:
        for name in list(pools):
            if depth < len(pools[name]):
                out.append((name, pools[name][depth]))
                if len(out) == cap:
                    break
            else:
                del pools[name]
        depth += 1
    return out


def chunks(lines: Iterable[str], size: int = 1200, sep: str = "\n") -> Iterator[str]:
    """Join consecutive pieces into texts of about `size` characters (a long piece stands alone)."""
    parts: list[str] = []
    length = 0
    for line in lines:
        if parts and length + len(line) > size:
            yield sep.join(parts)
            parts, length = [], 0
        parts.append(line)
        length += len(line) + len(sep)
    if parts:
        yield sep.join(parts)
