"""Score the corpus: recall per expected family and surface, false-positive rate per benign category,
per source, per surface and per kind of text; each for the whole corpus or one split of it."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.detection.records import ATTACK, Record
from bench.detection.splits import kind_of, split_of
from proxy.content.model import Hit
from proxy.content.scanner import Scanner

TARGETS = {"unicode": 0.95, "escapes": 0.95, "encoded": 0.95, "injection": 0.90}
FPR_TARGETS = {"unicode": 0.005, "escapes": 0.005, "encoded": 0.005, "injection": 0.01}
EXAMPLES_PER_DETECTOR = 4


@dataclass
class Tally:
    total: int = 0
    flagged: int = 0  # any finding
    family_hit: int = 0  # a finding of the expected family
    detectors: Counter[str] = field(default_factory=Counter)
    misses: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.flagged / self.total if self.total else 0.0


@dataclass(frozen=True)
class Scored:
    record: Record
    hits: tuple[Hit, ...]

    @property
    def detectors(self) -> list[str]:
        return [h.detector for h in self.hits]


@dataclass(frozen=True)
class FalsePositive:
    source: str
    category: str
    hit: Hit
    text: str


@dataclass
class Results:
    attacks: dict[tuple[str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))  # (family, surface)
    by_category: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    benign: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    benign_family: Counter[str] = field(default_factory=Counter)  # benign records flagged, by finding family
    benign_total: int = 0
    benign_surface: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    benign_kind: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    source_benign: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    source_attack: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    false_positives: dict[str, list[FalsePositive]] = field(default_factory=lambda: defaultdict(list))
    out_of_scope: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    seconds: float = 0.0
    records: int = 0
    bytes: int = 0


def scan(scanner: Scanner, corpus: list[Record]) -> tuple[list[Scored], float]:
    """Every record scanned once (findings the settings act on); and the seconds it took."""
    started = time.perf_counter()
    scored = [Scored(r, tuple(h for h, _ in scanner.scan_text(r["text"], r["surface"]).hits)) for r in corpus]
    return scored, time.perf_counter() - started


def aggregate(scored: list[Scored], seconds: float = 0.0,
              keep: Callable[[Record], bool] = lambda r: True) -> Results:
    res = Results(seconds=seconds)
    for s in scored:
        r = s.record
        if not keep(r):
            continue
        families = {h.family for h in s.hits}
        detectors = s.detectors
        res.records += 1
        res.bytes += len(r["text"].encode("utf-8", "surrogatepass"))
        if r["label"] == ATTACK:
            tallies = [res.by_category[r["category"]]]
            if r["family"] is None:
                tallies = [res.out_of_scope[r["category"]]]
            else:
                tallies += [res.attacks[(r["family"], r["surface"])], res.source_attack[r["source"]]]
            for t in tallies:
                t.total += 1
                t.flagged += bool(detectors)
                t.family_hit += r["family"] in families
                t.detectors.update(detectors)
                if not detectors and len(t.misses) < 3:
                    t.misses.append(r["text"][:160])
        else:
            res.benign_total += 1
            res.benign_family.update(families)
            for t in (res.benign[r["category"]], res.benign_surface[r["surface"]], res.source_benign[r["source"]],
                      res.benign_kind[kind_of(r["source"])]):
                t.total += 1
                t.flagged += bool(detectors)
                t.detectors.update(detectors)
            t = res.benign[r["category"]]
            if detectors and len(t.misses) < 3:
                t.misses.append(f"{detectors}: {r['text'][:160]}")
            for hit in s.hits:
                examples = res.false_positives[hit.detector]
                if len(examples) < EXAMPLES_PER_DETECTOR and all(e.source != r["source"] or e.category != r["category"]
                                                                 for e in examples):
                    examples.append(FalsePositive(r["source"], r["category"], hit, r["text"]))
    return res


def run(scanner: Scanner, corpus: list[Record]) -> Results:
    scored, seconds = scan(scanner, corpus)
    return aggregate(scored, seconds)


def by_split(scored: list[Scored], seconds: float) -> dict[str, Results]:
    """The whole corpus ("all"), then each split on its own."""
    out = {"all": aggregate(scored, seconds)}
    for split in ("dev", "held-out"):
        out[split] = aggregate(scored, keep=lambda r, split=split: split_of(r["source"]) == split)  # type: ignore[misc]
    return out


def summary(res: Results) -> dict[str, Any]:
    """Per family: recall (any finding / expected family) and FPR over all benign records."""
    out: dict[str, Any] = {}
    families = sorted({f for f, _ in res.attacks} | set(FPR_TARGETS))
    for family in families:
        total = sum(t.total for (f, _), t in res.attacks.items() if f == family)
        flagged = sum(t.flagged for (f, _), t in res.attacks.items() if f == family)
        hit = sum(t.family_hit for (f, _), t in res.attacks.items() if f == family)
        fp = res.benign_family.get(family, 0)
        out[family] = {"attacks": total, "recall": flagged / total if total else None,
                       "recall_family": hit / total if total else None,
                       "benign_flagged": fp, "fpr_family": fp / res.benign_total if res.benign_total else 0.0}
    flagged_benign = sum(t.flagged for t in res.benign.values())
    fpr = flagged_benign / res.benign_total if res.benign_total else 0.0
    out["_benign"] = {"records": res.benign_total, "flagged": flagged_benign, "fpr_any": fpr}
    out["_kinds"] = {k: {"records": t.total, "flagged": t.flagged, "fpr": t.rate}
                     for k, t in sorted(res.benign_kind.items())}
    out["_surfaces"] = {k: {"records": t.total, "flagged": t.flagged, "fpr": t.rate}
                        for k, t in sorted(res.benign_surface.items())}
    return out


def sources(res: Results) -> dict[str, Any]:
    """Per source: FPR of its benign records, recall of its attacks (with counts and top detectors)."""
    out: dict[str, Any] = {}
    for name in sorted(set(res.source_benign) | set(res.source_attack)):
        row: dict[str, Any] = {"split": split_of(name), "kind": kind_of(name)}
        if name in res.source_benign:
            t = res.source_benign[name]
            row["benign"] = {"records": t.total, "flagged": t.flagged, "fpr": t.rate,
                             "detectors": dict(t.detectors.most_common(5))}
        if name in res.source_attack:
            t = res.source_attack[name]
            row["attacks"] = {"records": t.total, "flagged": t.flagged, "recall": t.rate,
                              "detectors": dict(t.detectors.most_common(5))}
        out[name] = row
    return out
