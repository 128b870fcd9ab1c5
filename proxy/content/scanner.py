"""Run the detector families over one text, then apply the surface's actions.

`detect` is pure detection (all requested families); `Scanner.scan_text` keeps the findings the
settings act on and works out the rewrite (strip / redact) or block for one surface.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.content import (
    ascii_art,
    binary,
    ciphers,
    encoded,
    escapes,
    exfil,
    homoglyphs,
    injection,
    respelled,
    rot13,
    scrambled,
    secrets,
    substitution,
    triggers,
    unicode,
)
from proxy.content.model import ENCODED, ESCAPES, EXFIL, INJECTION, SECRETS, UNICODE, Hit
from proxy.content.normalize import folding
from proxy.content.runs import TextView
from proxy.content.settings import ContentSettings

INNER = frozenset({UNICODE, ESCAPES, INJECTION, ENCODED, SECRETS})


def detect(text: str, families: frozenset[str], depth: int = 0, gated: bool = True,
           hyperlinks: bool = True) -> list[Hit]:
    """Every finding of the given families in `text` (decoded payloads are scanned again).

    One RE2 pass (`triggers`) tells which patterns and detectors can match; `gated=False` runs them
    all (the reference the gates are tested against). `hyperlinks=False` reports every OSC 8 link
    (text that is no terminal output: see `escapes.scan`).
    """
    hits: list[Hit] = []
    if not text:
        return hits
    view = TextView(text)
    if UNICODE in families and not view.is_ascii:
        if unicode.worth_scanning(view.non_ascii):
            hits += unicode.scan(text)
        if homoglyphs.worth_scanning(view.non_ascii):
            hits += homoglyphs.scan(text)
    needs_gates = families & {ESCAPES, INJECTION, ENCODED, SECRETS, EXFIL}
    low, disguised = folding(text, view.non_ascii) if needs_gates else ("", False)
    fired = triggers.fired(low, view) if needs_gates and gated else triggers.EVERYTHING
    if ESCAPES in families and ("escapes.controls" in fired or not view.is_ascii) and escapes.has_controls(view):
        hits += escapes.scan(text, hyperlinks)
    if INJECTION in families:
        hits += injection.scan(low, fired)
    if families & {ENCODED, SECRETS, EXFIL}:
        found = secrets.scan(text, view.runs, fired)
        if SECRETS in families:
            hits += found
        if ENCODED in families:
            def rescan(decoded: str, level: int) -> list[Hit]:
                return detect(decoded, INNER, level, gated, hyperlinks)
            hits += encoded.scan(view, rescan, fired, depth)
            hits += rot13.scan(text, low, rescan, fired, depth, encoded.MAX_DEPTH)
            hits += respelled.scan(text, view, rescan, fired, depth, low if disguised else None)
            hits += ciphers.scan(text, view, rescan, fired, depth)
            hits += scrambled.scan(text, view, rescan, fired, depth)
            hits += ascii_art.scan(text, fired)
            hits += substitution.scan(text, rescan, fired, depth)
        if EXFIL in families:
            hits += exfil.scan(text, low, [span for h in found for span in h.spans], fired)
    if hits and ("\ufffd" in view.non_ascii or "\x00" in text):
        hits = binary.drop_noise(text, hits)
    return hits


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the settings make of one text: the findings kept, with the action for each."""

    hits: tuple[tuple[Hit, str], ...]  # (hit, action)
    rewritten: str | None = None
    block: bool = False

    @property
    def flagged(self) -> bool:
        return bool(self.hits)


class Scanner:
    """Detection plus the per-surface actions of one `ContentSettings`."""

    def __init__(self, settings: ContentSettings) -> None:
        self.settings = settings

    def scan_text(self, text: str, surface: str) -> Outcome:
        families = self.settings.families(surface)
        if not families or not text:
            return Outcome(())
        kept: list[tuple[Hit, str]] = []
        hyperlinks = surface != "tool_description"  # a tool description has no business carrying links
        for hit in detect(text, families, hyperlinks=hyperlinks):
            rule = self.settings.rule(surface, hit.family)
            if rule.action != "off" and hit.severity <= rule.threshold:
                kept.append((hit, rule.action))
        if not kept:
            return Outcome(())
        block = any(action == "block" for _, action in kept)
        edits = [(h, a) for h, a in kept if a in ("strip", "redact")]
        rewritten = None if block or not edits else apply_edits(text, edits)
        return Outcome(tuple(kept), rewritten if rewritten != text else None, block)

    def scan_joined(self, text: str, surface: str) -> Outcome:
        """Prompt injection in text joined from several strings of a message (`walk.result_text`).

        Only the injection family is looked for (the others are per string). A strip or redact cannot be
        spread back over the pieces, so it blocks instead.
        """
        if INJECTION not in self.settings.families(surface) or not text:
            return Outcome(())
        kept: list[tuple[Hit, str]] = []
        for hit in detect(text, frozenset({INJECTION})):
            rule = self.settings.rule(surface, hit.family)
            if rule.action != "off" and hit.severity <= rule.threshold:
                kept.append((hit, "block" if rule.action in ("strip", "redact") else rule.action))
        return Outcome(tuple(kept), None, any(action == "block" for _, action in kept))


def apply_edits(text: str, edits: list[tuple[Hit, str]]) -> str:
    """Strip or redact the spans of the hits (a `whole` hit replaces the text with its notice)."""
    whole = next((h for h, _ in edits if h.whole), None)
    if whole is not None:
        return whole.replacement
    changes: list[tuple[int, int, str]] = []
    for hit, action in edits:
        for i, (start, end) in enumerate(hit.spans):
            default = hit.replacement if action == "redact" else ""
            new = hit.fixes[i] if hit.fixes is not None else default
            changes.append((start, end, new))
    changes.sort()
    out: list[str] = []
    pos = 0
    for start, end, new in changes:
        if start < pos:
            continue  # overlapping spans: the first one wins
        out.append(text[pos:start])
        out.append(new)
        pos = end
    out.append(text[pos:])
    return "".join(out)

