"""spikee (Reversec, Apache-2.0): its jailbreak templates wrapped around its attack instructions and
placed into its documents, as indirect injections; the documents alone as benign results."""

from __future__ import annotations

import json
from collections.abc import Iterator

from bench.detection.cache import pip_package
from bench.detection.records import ATTACK, BENIGN, Record, record

VERSION = "0.9.2"


def _jsonl(path: object) -> list[dict[str, object]]:
    from pathlib import Path

    p = Path(str(path))
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


_COMMON = set(str.split("the a an to of and you your in is be this for with are it do not as on that what all any "
                        "please must "
               "following include response instructions ask i me my"))


def _english(text: str) -> bool:
    """Spikee translates its seeds into other languages; English patterns are measured on English ones."""
    words = [w.strip(".,:;!?*'\"()").lower() for w in text.replace("<INSTRUCTION>", " ").split()]
    words = [w for w in words if w]
    return not words or sum(w in _COMMON for w in words) >= 0.2 * len(words)


def records() -> Iterator[Record]:
    root = pip_package(f"spikee=={VERSION}")
    if root is None:
        return
    datasets = root / "spikee" / "data" / "workspace" / "datasets"
    jailbreaks: dict[str, dict[str, object]] = {}
    instructions: dict[str, dict[str, object]] = {}
    documents: list[tuple[str, str]] = []
    for folder in sorted(datasets.iterdir()):
        if any(word in folder.name for word in ("harmful", "toxic", "investment")):
            continue  # harmful-content and topical (investment advice) seeds test what a model says, not injection
        for row in _jsonl(folder / "jailbreaks.jsonl"):
            jailbreaks.setdefault(str(row.get("text")), row)
        for row in _jsonl(folder / "instructions.jsonl"):
            instructions.setdefault(str(row.get("instruction")), row)
        for row in _jsonl(folder / "base_user_inputs.jsonl"):
            doc, placeholder = str(row.get("document", "")), str(row.get("placeholder") or "")
            if len(doc) > 80:
                documents.append((doc, placeholder))
    if not documents:
        documents = [("Quarterly update: revenue grew and the team shipped two releases.", "")]
    inst = sorted(instructions.values(), key=lambda r: str(r.get("id")))
    english_inst = [i for i in inst if _english(str(i["instruction"]))] or inst
    for doc, placeholder in documents:
        yield record("spikee", "spikee.document", BENIGN, None, "tool_result",
                     doc.replace(placeholder, "") if placeholder else doc)
    for n, jb in enumerate(sorted(jailbreaks.values(), key=lambda r: str(r.get("id")))):
        english = _english(str(jb["text"]))
        pool = english_inst if english else inst
        for k in range(3):
            instruction = pool[(3 * n + k) % len(pool)]
            attack = str(jb["text"]).replace("<INSTRUCTION>", str(instruction["instruction"]))
            doc, placeholder = documents[(n + k) % len(documents)]
            text = doc.replace(placeholder, attack) if placeholder and placeholder in doc else f"{doc}\n{attack}"
            category = f"spikee.{jb.get('jailbreak_type', 'other')}" + ("" if english else ".non-english")
            yield record("spikee", category, ATTACK, "injection" if english else None, "tool_result", text)
