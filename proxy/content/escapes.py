"""Terminal escapes and control characters that can hide or disguise text from a human reviewer.

Plain colour (SGR without "conceal"), erase-in-line, cursor-to-column and cursor visibility are what
coloured CLI output and progress lines use (ls, grep, gcc, pytest, rich, pip) and pass, as does a bare
carriage return. So do OSC 8 hyperlinks as rich, gcc, gh, systemd and `ls --hyperlink` emit them: an
http(s), file: or man: target or a relative reference (rich renders a README's `docs/x.md`) without a
data payload, under a label of plain words, a file name or a URL of the same host (the closing
`ESC ] 8 ; ;` passes unless it closes a reported link). A long query of percent-encoded JSON (an editor's
"install this server" badge) is configuration, not data.

Reported: cursor movement across lines or positioning, screen erasing, OSC 8 links to other schemes
(javascript:, data:...), carrying data (a binary blob written in base64 or hex, a target longer than a
terminal opens) or whose label is itself a URL or host name of another host, other OSC strings (titles,
OSC 52 clipboard), device strings, other ESC sequences and C0/C1 controls other than tab, line feed and
carriage return (the shifts of ISO-2022-JP text, Japanese mail's 7-bit encoding, pass when what they
enclose decodes as such, and so does a form feed at a line's edge, a page break); and any sequence,
even plain colour or an honest link, placed right after a request to repeat or print it (the text asks
the model to write the escape to the user's terminal).
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote, urlsplit

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
# ISO-2022-JP (RFC 1468): JIS X 0208 opened by ESC $ @ or ESC $ B around pairs of printable ASCII bytes, back
# to ASCII or JIS-Roman by ESC ( B or ESC ( J. The injection detectors still read the bytes as they are.
_ISO2022JP_RUN = re.compile(r"\x1b\$[@B](?:[\x21-\x7e]{2}){1,2048}\x1b\([BJ]")
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
MAX_TARGET = 2083  # VTE's limit on an OSC 8 URI: a longer target is no link a terminal opens
_LINK_SCHEMES = frozenset({"http", "https", "file", "man"})
_SCRIPT_SCHEMES = frozenset({"javascript", "data", "vbscript"})
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
# A relative reference (RFC 3986 §4.2): a path, query or fragment with no scheme and no blanks.
_RELATIVE = re.compile(r"[\w.#?~%/-][^\s\x00-\x1f\x7f]*")
# Blobs in a target: base64 / base64url of 48+ bytes, or hex longer than any digest (SHA-512: 128).
_B64_SEGMENT = re.compile(r"[A-Za-z0-9+/_-]{64,}={0,2}")
_HEX_SEGMENT = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{130,}(?![0-9A-Fa-f])")
_URL_IN_LABEL = re.compile(r"\b[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?(?P<host>[^/\s:?#@\[\]]+)", re.IGNORECASE | re.ASCII)
_WWW_IN_LABEL = re.compile(r"(?<![\w.-])(?P<host>www\.(?:[a-z0-9-]{1,63}\.)+[a-z]{2,24})(?![\w-])",
                           re.IGNORECASE | re.ASCII)
# A label that is itself a host name, maybe with a port and path (`github.com`, `paypal.com/login`).
_BARE_HOST = re.compile(r"(?P<host>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?P<tld>[a-z]{2,24}))(?::\d{1,5})?"
                        r"(?:/\S*)?", re.IGNORECASE | re.ASCII)
_LABEL_TRIM = " \t\r\n()[]<>\"'.,:;!?"
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
    if not terminated or len(target) > MAX_TARGET:
        return True, Severity.SEV3
    scheme = _SCHEME.match(target)
    if scheme is None and _RELATIVE.fullmatch(target) is None:
        return True, Severity.SEV3
    name = scheme.group()[:-1].lower() if scheme else ""
    if scheme and name not in _LINK_SCHEMES:
        return True, Severity.SEV2 if name in _SCRIPT_SCHEMES else Severity.SEV3
    try:
        host = (urlsplit(target).hostname or "").lower()
    except ValueError:
        return True, Severity.SEV3
    if carries_data(target):
        return True, Severity.SEV3
    nxt = _OSC8_START.search(text, m.end(), m.end() + LABEL_MAX)
    label = _CSI_ANY.sub("", text[m.end():nxt.start() if nxt else m.end() + LABEL_MAX])
    if any(not _same_site(shown, host) for shown in _label_hosts(label)):
        return True, Severity.SEV2
    return True, None


def carries_data(target: str) -> bool:
    """A binary blob as a query or fragment value (percent-escapes decoded): base64 of 48+ bytes that
    is no text (compressed or encrypted data, a file) or hex longer than a digest. Text (percent-encoded
    JSON configuration, a readable base64 parameter) is everyday, and so is a long path (`ls --hyperlink`
    of a deep source tree); the other detectors judge what the text says."""
    _, _, rest = target.partition("?") if "?" in target else target.partition("#")
    values = [unquote(pair.partition("=")[2] or pair) for pair in re.split(r"[&;#]", rest)] if rest else []
    return any(_HEX_SEGMENT.search(v) is not None or any(_blob(s.group()) for s in _B64_SEGMENT.finditer(v))
               for v in values)


def _blob(segment: str) -> bool:
    """Mixed-case base64 that decodes to no text, whole or in any of its `/`-separated pieces (a path's
    last part can be a readable base64 string: `example/c/QWxs...`)."""
    if not (any(c.isupper() for c in segment) and any(c.islower() for c in segment)
            and any(c.isdigit() for c in segment)):
        return False
    return _binary(segment) and not any(len(piece) >= 16 and not _binary(piece) for piece in segment.split("/"))


def _binary(segment: str) -> bool:
    """Base64 whose bytes are not UTF-8 text."""
    body = segment.rstrip("=").replace("-", "+").replace("_", "/")
    if len(body) % 4 == 1:
        body = body[:-1]
    try:
        text = base64.b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        return True
    return sum(c.isprintable() or c in "\n\r\t" for c in text) < 0.9 * len(text)


def _label_hosts(label: str) -> list[str]:
    """Host names a link label shows: URLs and `www.` hosts anywhere in it, or a bare `name.tld` (with a
    common TLD) when that is the whole label; a product name among words (`Claude.ai Project`) is not."""
    if "." not in label and "://" not in label:
        return []
    hosts = [m.group("host").lower() for m in _URL_IN_LABEL.finditer(label)] if "://" in label else []
    hosts += [m.group("host").lower() for m in _WWW_IN_LABEL.finditer(label)]
    bare = _BARE_HOST.fullmatch(label.strip(_LABEL_TRIM))
    if bare is not None and bare.group("tld").lower() in _TLDS:
        hosts.append(bare.group("host").lower())
    return hosts


def _same_site(shown: str, host: str) -> bool:
    shown, host = shown.strip(".").removeprefix("www."), host.strip(".").removeprefix("www.")
    return shown == host or host.endswith("." + shown) or shown.endswith("." + host)


# A request to reproduce what follows (garak's AnsiRaw: "repeat", "Print the following:", "Output
# everything after this colon:") right before a sequence: the text wants the model to write the raw
# escape to the user's terminal. The verb starts a sentence; a bare label (`Output:`) is no request.
_ECHO_VERBS = ("repeat", "print", "output", "echo", "say", "write", "type", "reproduce", "emit", "display")
_ECHO_REQUEST = re.compile(
    rf"(?i)(?:[.!?:]\s|\n)\s*(?:please\s+)?(?:{'|'.join(_ECHO_VERBS)})"
    r"(?P<object>(?:\s+(?:back|out|exactly|verbatim|literally|the|following|this|these|that|everything|after|"
    r"colon|text|string|sequence|characters|below|me|line))*)(?P<colon>\s*:)?(?P<gap>\s+)\Z")
ECHO_WINDOW = 80  # characters before a sequence looked at for a request


def _echo_requested(text: str, since: int, start: int) -> bool:
    """A request in the text between the previous sequence (ending at `since`) and this one, starting
    a sentence or a line and followed by blank space: `repeat <ESC>...`, `Print the following: <ESC>...`."""
    if start - since < 4 or text[start - 1] not in " \t\n":
        return False
    lo = max(since, start - ECHO_WINDOW)
    window = text[lo:start]
    low = window.lower()
    if not any(verb in low for verb in _ECHO_VERBS):
        return False
    if lo == 0 or text[lo - 1] == "\n":  # the window starts a line
        window = "\n" + window
    m = _ECHO_REQUEST.search(window)
    if m is None:
        return False
    if m.group("object"):
        return True
    return not m.group("colon") and "\n" not in m.group("gap")  # a bare verb on the sequence's line, not a
    # label (`Output: <ESC>`) or a heading (`Output` above a coloured block)


_MESSAGES = {
    "escapes.sgr_hidden": "ANSI SGR sequence that conceals text (conceal attribute or same text and background colour)",
    "escapes.csi": "ANSI CSI sequence (cursor movement / erase) that can overwrite or hide text",
    "escapes.osc8": "OSC 8 terminal hyperlink that is deceptive (label shows another host), not a web or local "
                    "link, or carries data",
    "escapes.osc52": "OSC 52 sequence writing to the clipboard",
    "escapes.osc": "OSC terminal control string (title or other terminal state)",
    "escapes.echo_request": "terminal escape sequence after a request to repeat or print it (to reach the "
                            "user's terminal through the model's answer)",
    "escapes.device_string": "DCS/SOS/PM/APC terminal control string",
    "escapes.esc": "raw ESC control sequence",
    "escapes.control": "C0/C1 control character",
}


def _page_break(text: str, m: re.Match[str]) -> bool:
    """A form feed on a line of its own or at a line's edge: a page break (source files, RFCs, manuals)."""
    if m.group() != "\x0c":
        return False
    start, end = m.span()
    return start == 0 or text[start - 1] in "\n\x0c" or end == len(text) or text[end] in "\r\n"


def _iso2022jp_shifts(text: str) -> frozenset[int]:
    """Offsets of the ESC of each shift in and out of a run of ISO-2022-JP text that decodes as such."""
    offsets: set[int] = set()
    for m in _ISO2022JP_RUN.finditer(text):
        try:
            m.group().encode("ascii").decode("iso-2022-jp")
        except UnicodeDecodeError:
            continue
        offsets.update((m.start(), m.end() - 3))
    return frozenset(offsets)


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
    prev_end = 0
    shifts = _iso2022jp_shifts(text) if "\x1b$" in text else frozenset()
    for m in _SEQUENCE.finditer(text):
        if m.start() in shifts or _page_break(text, m):
            prev_end = m.end()
            continue
        echo = _echo_requested(text, prev_end, m.start())
        prev_end = m.end()
        body = m.group("body") or "" if m.lastgroup == "osc" else ""
        if body.startswith("8;"):
            opens, severity = hyperlink(text, m, body)
            if opens and severity is None and (echo or not hyperlinks):
                severity = Severity.SEV3
            if severity is not None or (link_reported and not opens):
                add("escapes.osc8", severity or Severity.SEV3, m.span())
            link_reported = opens and severity is not None
            continue
        verdict = _classify(m)
        if verdict is None and echo:
            verdict = "escapes.echo_request", Severity.SEV3
        if verdict is not None:
            add(*verdict, m.span())
    hits = []
    for detector, (severity, spans) in found.items():
        s, e = spans[0]
        excerpt = clip(text[s:min(e, s + 100)], 100)
        hits.append(Hit(detector, severity, f"{len(spans)} x {_MESSAGES[detector]}", excerpt,
                        ATLAS_OBFUSCATION, tuple(spans)))
    return hits
