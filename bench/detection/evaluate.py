"""Score the corpus: recall per expected family and surface, false-positive rate per benign category."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from bench.detection.records import ATTACK, Record
from proxy.content.scanner import Scanner

TARGETS = {"unicode": 0.95, "escapes": 0.95, "encoded": 0.95, "injection": 0.90}
FPR_TARGETS = {"unicode": 0.005, "escapes": 0.005, "encoded": 0.005, "injection": 0.01}


@dataclass
class Tally:
    total: int = 0
    flagged: int = 0  # any finding
    family_hit: int = 0  # a finding of the expected family
    detectors: Counter[str] = field(default_factory=Counter)
    misses: list[str] = field(default_factory=list)


@dataclass
class Results:
    attacks: dict[tuple[str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))  # (family, surface)
    by_category: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    benign: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    benign_family: Counter[str] = field(default_factory=Counter)  # benign records flagged, by finding family
    benign_total: int = 0
    out_of_scope: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    seconds: float = 0.0
    records: int = 0
    bytes: int = 0


def run(scanner: Scanner, corpus: list[Record]) -> Results:
    res = Results()
    started = time.perf_counter()
    for r in corpus:
        outcome = scanner.scan_text(r["text"], r["surface"])
        families = {h.family for h, _ in outcome.hits}
        detectors = [h.detector for h, _ in outcome.hits]
        res.records += 1
        res.bytes += len(r["text"].encode("utf-8", "surrogatepass"))
        if r["label"] == ATTACK:
            tallies = [res.by_category[r["category"]]]
            if r["family"] is None:
                tallies = [res.out_of_scope[r["category"]]]
            else:
                tallies.append(res.attacks[(r["family"], r["surface"])])
            for t in tallies:
                t.total += 1
                t.flagged += bool(detectors)
                t.family_hit += r["family"] in families
                t.detectors.update(detectors)
                if not detectors and len(t.misses) < 3:
                    t.misses.append(r["text"][:160])
        else:
            t = res.benign[r["category"]]
            res.benign_total += 1
            t.total += 1
            t.flagged += bool(detectors)
            t.detectors.update(detectors)
            res.benign_family.update(families)
            if detectors and len(t.misses) < 3:
                t.misses.append(f"{detectors}: {r['text'][:160]}")
    res.seconds = time.perf_counter() - started
    return res


def summary(res: Results) -> dict[str, Any]:
    """Per family: recall (any finding / expected family) and FPR over all benign records."""
    out: dict[str, Any] = {}
    families = sorted({f for f, _ in res.attacks})
    for family in families:
        total = sum(t.total for (f, _), t in res.attacks.items() if f == family)
        flagged = sum(t.flagged for (f, _), t in res.attacks.items() if f == family)
        hit = sum(t.family_hit for (f, _), t in res.attacks.items() if f == family)
        fp = res.benign_family.get(family, 0)
        out[family] = {"attacks": total, "recall": flagged / total if total else 0.0,
                       "recall_family": hit / total if total else 0.0,
                       "fpr_family": fp / res.benign_total if res.benign_total else 0.0}
    flagged_benign = sum(t.flagged for t in res.benign.values())
    fpr = flagged_benign / res.benign_total if res.benign_total else 0.0
    out["_benign"] = {"records": res.benign_total, "fpr_any": fpr}
    return out
