"""Corpus records: {id, source, category, label, family, surface, text}."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from typing import Any

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
