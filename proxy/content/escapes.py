"""Terminal escapes and control characters that can hide or disguise text from a human reviewer.

Plain colour (SGR without "conceal"), erase-in-line, cursor-to-column and cursor visibility are what
coloured CLI output and progress lines use (ls, grep, gcc, pytest, rich, pip) and pass, as does a bare
carriage return. Cursor movement across lines or positioning, screen erasing, OSC (titles, OSC 8
hyperlinks, OSC 52 clipboard), device strings, other ESC sequences and C0/C1 controls other than tab,
line feed and carriage return are reported.
"""

from __future__ import annotations

import re

from proxy.content.model import ATLAS_OBFUSCATION, Hit, Span, clip
from proxy.content.runs import TextView
from proxy.types import Severity

_C1 = re.compile("[\x80-\x9f]")
_SEQUENCE = re.compile(
    r"(?P<csi>(?:\x1b\[|\x9b)(?P<params>[0-?]{0,64})[ -/]{0,8}(?P<final>[@-~])?)"
    r"|(?P<osc>(?:\x1b\]|\x9d)(?P<body>[^\x07\x1b\x9c]{0,4096})(?:\x07|\x1b\\|\x9c)?)"
    r"|(?P<string>(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]{0,4096}(?:\x1b\\|\x9c)?)"
    r"|(?P<esc>\x1b[ -/]{0,4}[0-~]?)"
    r"|(?P<ctl>[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f\x80-\x9f])"
)
_BENIGN_MODES = frozenset({"?25", "?2004", "?12", "?7"})
_HIDE_COLOURS = re.compile(r"^(?:.*;)?3([0-7]);(?:.*;)?4\1(?:;.*)?$|^(?:.*;)?4([0-7]);(?:.*;)?3\2(?:;.*)?$")


TRIGGERS = {"escapes.controls": r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"}  # a gate: C0 and DEL (C1 is non-ASCII)


def has_controls(view: TextView) -> bool:
    """True if the text holds any C0 control other than tab/LF/CR, DEL, or a C1 control."""
    return view.has_c0_controls or (not view.is_ascii and _C1.search(view.non_ascii) is not None)


def _sgr_hides(params: str) -> bool:
    """SGR 8 (conceal) as an attribute of its own, or the same basic colour for text and background."""
    parts = params.replace(":", ";").split(";")
    i = 0
    while i < len(parts):
        p = parts[i]
        if p in ("38", "48", "58"):
            i += 3 if i + 1 < len(parts) and parts[i + 1] == "5" else 5
            continue
        if p in ("8", "08"):
            return True
        i += 1
    return bool(_HIDE_COLOURS.match(params))


def _classify(m: re.Match[str]) -> tuple[str, Severity] | None:
    kind = m.lastgroup
    if kind == "csi":
        final, params = m.group("final"), m.group("params") or ""
        if final == "m":
            return ("escapes.sgr_hidden", Severity.SEV3) if _sgr_hides(params) else None
        if final in ("K", "G") or (final in ("h", "l") and params in _BENIGN_MODES):
            return None  # erase in line / column 1 (progress lines, like a carriage return), cursor visibility
        return "escapes.csi", Severity.SEV3
    if kind == "osc":
        body = m.group("body") or ""
        if body.startswith("8;"):
            return "escapes.osc8", Severity.SEV3
        if body.startswith("52;"):
            return "escapes.osc52", Severity.SEV2
        return "escapes.osc", Severity.SEV3
    if kind == "string":
        return "escapes.device_string", Severity.SEV3
    if kind == "esc":
        return "escapes.esc", Severity.SEV3
    return "escapes.control", Severity.SEV3


_MESSAGES = {
    "escapes.sgr_hidden": "ANSI SGR sequence that conceals text (conceal attribute or same text and background colour)",
    "escapes.csi": "ANSI CSI sequence (cursor movement / erase) that can overwrite or hide text",
    "escapes.osc8": "OSC 8 terminal hyperlink (the link target is not what is shown)",
    "escapes.osc52": "OSC 52 sequence writing to the clipboard",
    "escapes.osc": "OSC terminal control string (title or other terminal state)",
    "escapes.device_string": "DCS/SOS/PM/APC terminal control string",
    "escapes.esc": "raw ESC control sequence",
    "escapes.control": "C0/C1 control character",
}


def scan(text: str) -> list[Hit]:
    """Findings for terminal escapes (call only when `has_controls` is true)."""
    found: dict[str, tuple[Severity, list[Span]]] = {}
    for m in _SEQUENCE.finditer(text):
        verdict = _classify(m)
        if verdict is None:
            continue
        detector, severity = verdict
        entry = found.setdefault(detector, (severity, []))
        entry[1].append(m.span())
    hits = []
    for detector, (severity, spans) in found.items():
        s, e = spans[0]
        excerpt = clip(text[s:min(e, s + 100)], 100)
        hits.append(Hit(detector, severity, f"{len(spans)} x {_MESSAGES[detector]}", excerpt,
                        ATLAS_OBFUSCATION, tuple(spans)))
    return hits
