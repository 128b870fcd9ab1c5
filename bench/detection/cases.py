"""Our own hand-written cases (bench/detection/cases/*.jsonl)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from bench.detection.records import Record, record

CASES = Path(__file__).with_name("cases")


def records() -> Iterator[Record]:
    for path in sorted(CASES.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                family = row.get("family")
                category = f"cases.{family}" if row["label"] == "attack" else f"cases.benign.{row['surface']}"
                yield record("cases", category, row["label"], family, row["surface"], row["text"])
