"""Terminal escapes and control characters that can hide or disguise text from a human reviewer.

Plain colour (SGR without "conceal"), erase-in-line, cursor-to-column and cursor visibility are what
coloured CLI output and progress lines use (ls, grep, gcc, pytest, rich, pip) and pass, as does a bare
carriage return. So do OSC 8 hyperlinks as rich, gcc, gh, systemd and `ls --hyperlink` emit them: an
http(s), file: or man: target without a data payload, under a label of plain words, a file name or a URL
of the same host (the closing `ESC ] 8 ; ;` passes unless it closes a reported link).

Reported: cursor movement across lines or positioning, screen erasing, OSC 8 links to other schemes
(javascript:, data:...), carrying data (long query or fragment, a long base64-like segment, > 2 KiB) or
labelled with a URL or host name of another host, other OSC strings (titles, OSC 52 clipboard), device
strings, other ESC sequences and C0/C1 controls other than tab, line feed and carriage return.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

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
        if body.startswith("52;"):
            return "escapes.osc52", Severity.SEV2
        return "escapes.osc", Severity.SEV3
    if kind == "string":
        return "escapes.device_string", Severity.SEV3
    if kind == "esc":
        return "escapes.esc", Severity.SEV3
    return "escapes.control", Severity.SEV3


_OSC8_START = re.compile("(?:\x1b\\]|\x9d)8;")
_CSI_ANY = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]")
_TERMINATORS = ("\x07", "\x1b\\", "\x9c")
LABEL_MAX = 1024  # characters of link label looked at
MAX_TARGET, MAX_QUERY = 2048, 256
_LINK_SCHEMES = frozenset({"http", "https", "file", "man"})
_SCRIPT_SCHEMES = frozenset({"javascript", "data", "vbscript"})
_DATA_SEGMENT = re.compile(r"[A-Za-z0-9+_-]{64,}")
_LABEL_HOST = re.compile(  # a URL's host, or a bare host name word (a path's last part is not one)
    r"\b[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?(?P<url_host>[^/\s:?#@\[\]]+)"
    r"|(?<![\w./@:-])(?P<host>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?P<tld>[a-z]{2,24}))(?![\w-])",
    re.IGNORECASE | re.ASCII)
# Top-level domains that make a bare `name.tld` label read as a host (not file extensions: .py, .md, .sh...).
_TLDS = frozenset({"com", "net", "org", "edu", "gov", "mil", "int", "io", "dev", "ai", "co", "me", "info", "biz",
                   "xyz", "online", "site", "tech", "cloud", "page", "link", "club", "shop", "blog", "news", "us",
                   "uk", "eu", "de", "fr", "ru", "cn", "jp", "kr", "br", "au", "ca", "nl", "es", "it", "ch", "se",
                   "no", "fi", "dk", "at", "be", "cz", "ie", "nz", "za", "mx", "ar", "tv", "ly", "gg"})


def hyperlink(text: str, m: re.Match[str], body: str) -> tuple[bool, Severity | None]:
    """An OSC 8 sequence: (opens a link, severity if the link is deceptive or carries data)."""
    parts = body.split(";", 2)
    target = parts[2] if len(parts) == 3 else ""
    terminated = m.group().endswith(_TERMINATORS)
    if not target:
        return False, None if terminated and len(parts) == 3 else Severity.SEV3
    if not terminated or len(body) > MAX_TARGET:
        return True, Severity.SEV3
    scheme, colon, _ = target.partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in _LINK_SCHEMES:
        return True, Severity.SEV2 if scheme.strip() in _SCRIPT_SCHEMES else Severity.SEV3
    try:
        url = urlsplit(target)
        host = (url.hostname or "").lower()
    except ValueError:
        return True, Severity.SEV3
    if len(url.query) + len(url.fragment) > MAX_QUERY or any(
            _looks_encoded(s.group()) for s in _DATA_SEGMENT.finditer(target)):
        return True, Severity.SEV3
    nxt = _OSC8_START.search(text, m.end(), m.end() + LABEL_MAX)
    label = _CSI_ANY.sub("", text[m.end():nxt.start() if nxt else m.end() + LABEL_MAX])
    if any(not _same_site(shown, host) for shown in _label_hosts(label)):
        return True, Severity.SEV2
    return True, None


def _looks_encoded(segment: str) -> bool:
    return any(c.isupper() for c in segment) and any(c.islower() for c in segment) and any(
        c.isdigit() for c in segment)


def _label_hosts(label: str) -> list[str]:
    """Host names a link label shows: URLs (any host) and bare `name.tld` words with a common TLD."""
    hosts = []
    for m in _LABEL_HOST.finditer(label):
        if m.group("url_host"):
            hosts.append(m.group("url_host").lower())
        elif m.group("tld").lower() in _TLDS or m.group("host").lower().startswith("www."):
            hosts.append(m.group("host").lower())
    return hosts


def _same_site(shown: str, host: str) -> bool:
    shown, host = shown.strip(".").removeprefix("www."), host.strip(".").removeprefix("www.")
    return shown == host or host.endswith("." + shown) or shown.endswith("." + host)


_MESSAGES = {
    "escapes.sgr_hidden": "ANSI SGR sequence that conceals text (conceal attribute or same text and background colour)",
    "escapes.csi": "ANSI CSI sequence (cursor movement / erase) that can overwrite or hide text",
    "escapes.osc8": "OSC 8 terminal hyperlink that is deceptive (label shows another host), not a web or local "
                    "link, or carries data",
    "escapes.osc52": "OSC 52 sequence writing to the clipboard",
    "escapes.osc": "OSC terminal control string (title or other terminal state)",
    "escapes.device_string": "DCS/SOS/PM/APC terminal control string",
    "escapes.esc": "raw ESC control sequence",
    "escapes.control": "C0/C1 control character",
}


def scan(text: str, hyperlinks: bool = True) -> list[Hit]:
    """Findings for terminal escapes (call only when `has_controls` is true).

    `hyperlinks=False` reports every OSC 8 link, honest or not: for text that is no terminal output
    (a tool description), where a link has no business.
    """
    found: dict[str, tuple[Severity, list[Span]]] = {}

    def add(detector: str, severity: Severity, span: Span) -> None:
        known, spans = found.get(detector, (severity, []))
        found[detector] = (min(known, severity), spans)
        spans.append(span)

    link_reported = False  # the open hyperlink was reported: its closing sequence goes with it
    for m in _SEQUENCE.finditer(text):
        body = m.group("body") or "" if m.lastgroup == "osc" else ""
        if body.startswith("8;"):
            opens, severity = hyperlink(text, m, body)
            if opens and severity is None and not hyperlinks:
                severity = Severity.SEV3
            if severity is not None or (link_reported and not opens):
                add("escapes.osc8", severity or Severity.SEV3, m.span())
            link_reported = opens and severity is not None
            continue
        verdict = _classify(m)
        if verdict is not None:
            add(*verdict, m.span())
    hits = []
    for detector, (severity, spans) in found.items():
        s, e = spans[0]
        excerpt = clip(text[s:min(e, s + 100)], 100)
        hits.append(Hit(detector, severity, f"{len(spans)} x {_MESSAGES[detector]}", excerpt,
                        ATLAS_OBFUSCATION, tuple(spans)))
    return hits
