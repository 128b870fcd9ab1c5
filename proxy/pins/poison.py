"""Tool-poisoning checks on a definition: a small built-in fallback for the full content scanner.

`DefinitionScanner` is the protocol the pinning code uses (one tool definition in, findings out);
the content inspections in `proxy.content` can be adapted to it. The fallback here catches the
two classic cases, in every string of the definition (description, titles, schema text, keys):

- hidden instruction blocks: `<IMPORTANT>`-style tags and "do not tell the user" phrasing;
- ASCII smuggled in Unicode tag characters (U+E0000 to U+E007F), decoded into the finding.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, TypeAlias

from proxy.decision import Finding
from proxy.types import Severity

DefinitionScanner: TypeAlias = Callable[[dict[str, Any]], list[Finding]]
TextScanner: TypeAlias = Callable[[str, str], list[Finding]]  # (text, JSON path) -> findings

ATLAS_INDIRECT_INJECTION = "AML.T0051.001"
MAX_STRINGS = 10_000
EXCERPT_CHARS = 200

_TAG = re.compile(
    r"<\s*/?\s*(important|system|instructions?|hidden|secret|critical|admin|assistant|sudo|"
    r"note[\s_-]*to[\s_-]*(?:the[\s_-]*)?(?:ai|assistant|model|llm))\b[^>]{0,80}>", re.IGNORECASE)
_CONCEAL = re.compile(
    r"\b(?:do\s*n[o']?t|never|must\s+not|should\s+not)\s+(?:tell|mention|inform|reveal|show|notify|alert)"
    r"(?:\s+(?:this|it|anything|that))?(?:\s+(?:to|with))?\s+(?:the\s+)?user"
    r"|\bwithout\s+(?:telling|informing|notifying|alerting)\s+(?:the\s+)?user"
    r"|\b(?:hide|conceal|keep)\s+(?:this|it)\s+(?:secret\s+)?from\s+(?:the\s+)?user"
    r"|\bthe\s+user\s+(?:must|should)\s+not\s+(?:know|see|be\s+told)", re.IGNORECASE)
_TAG_CHARS = re.compile("[\U000e0000-\U000e007f]+")


def scan_definition(definition: dict[str, Any]) -> list[Finding]:
    """Findings for hidden instructions and tag smuggling anywhere in one tool definition."""
    findings: list[Finding] = []
    for path, text in _strings(definition, "$"):
        if _TAG_CHARS.search(text):
            decoded = decode_tag_characters(text)
            findings.append(Finding(
                detector="pins.poison.tag_smuggling", severity=Severity.SEV2, path=path,
                message="text hidden in Unicode tag characters (invisible to people, read by models)",
                excerpt=decoded[:EXCERPT_CHARS], atlas=ATLAS_INDIRECT_INJECTION, surface="tool_description"))
        if match := _TAG.search(text):
            findings.append(Finding(
                detector="pins.poison.hidden_instructions", severity=Severity.SEV2, path=path,
                message=f"instruction tag {match.group(0)[:40]!r} addressed to the model",
                excerpt=_around(text, match.start()), atlas=ATLAS_INDIRECT_INJECTION, surface="tool_description"))
        if match := _CONCEAL.search(text):
            findings.append(Finding(
                detector="pins.poison.concealment", severity=Severity.SEV2, path=path,
                message="asks the model to hide something from the user",
                excerpt=_around(text, match.start()), atlas=ATLAS_INDIRECT_INJECTION, surface="tool_description"))
    return findings


def definition_scanner(scan_text: TextScanner) -> DefinitionScanner:
    """Adapt a per-string scanner (e.g. the content inspections) to scan every string of a definition."""
    def scan(definition: dict[str, Any]) -> list[Finding]:
        return [f for path, text in _strings(definition, "$") for f in scan_text(text, path)]
    return scan


def decode_tag_characters(text: str) -> str:
    """The ASCII carried by tag characters (U+E0020 to U+E007E map to ' ' to '~'); other tags dropped."""
    return "".join(chr(ord(ch) - 0xE0000) for ch in text if 0xE0020 <= ord(ch) <= 0xE007E)


def at_or_above(findings: list[Finding], threshold: Severity) -> list[Finding]:
    """Findings at least as severe as `threshold` (SEV-1 is the most severe)."""
    return [f for f in findings if f.severity <= threshold]


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    stack: list[tuple[str, Any]] = [(path, value)]
    seen = 0
    while stack and seen < MAX_STRINGS:
        where, node = stack.pop()
        if isinstance(node, str):
            seen += 1
            yield where, node
        elif isinstance(node, dict):
            for key, child in node.items():
                if isinstance(key, str):
                    seen += 1
                    yield f"{where}<key>", key
                stack.append((f"{where}.{key}", child))
        elif isinstance(node, list):
            stack.extend((f"{where}[{i}]", child) for i, child in enumerate(node))


def _around(text: str, start: int) -> str:
    begin = max(0, start - 40)
    return text[begin:begin + EXCERPT_CHARS]
