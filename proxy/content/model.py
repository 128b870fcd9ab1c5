"""What content detectors report: one `Hit` per detector per text, with the spans it covers."""

from __future__ import annotations

from dataclasses import dataclass

from proxy.types import Severity

# Detector families: each is one module and one switch in the settings.
UNICODE, ESCAPES, INJECTION, ENCODED, SECRETS, EXFIL = "unicode", "escapes", "injection", "encoded", "secrets", "exfil"
FAMILIES: tuple[str, ...] = (UNICODE, ESCAPES, INJECTION, ENCODED, SECRETS, EXFIL)

# MITRE ATLAS techniques the findings map to.
ATLAS_INJECTION = "AML.T0051.001"  # LLM Prompt Injection: Indirect
ATLAS_OBFUSCATION = "AML.T0068"  # LLM Prompt Obfuscation (invisible text, escapes, encodings)
ATLAS_TOOL_INVOCATION = "AML.T0053"  # AI Agent Tool Invocation (tool poisoning / chaining)
ATLAS_CREDENTIALS = "AML.T0055"  # Unsecured Credentials
ATLAS_LEAKAGE = "AML.T0057"  # LLM Data Leakage
ATLAS_RENDERING = "AML.T0077"  # LLM Response Rendering (markdown/HTML exfiltration)
ATLAS_EXFIL_TOOL = "AML.T0086"  # Exfiltration via AI Agent Tool Invocation

Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Hit:
    """One detector's result on one text.

    `spans` are offsets in the scanned text that strip/redact remove; `whole` means the text as a
    whole is tainted (an injection cannot be cut out reliably) and is replaced by a notice.
    `replacement` is what redact puts in place of each span (strip puts nothing); `fixes`, when
    given, replaces span i by fixes[i] in both modes (e.g. a homoglyph word by its Latin skeleton).
    """

    detector: str
    severity: Severity
    message: str
    excerpt: str | None = None
    atlas: str | None = None
    spans: tuple[Span, ...] = ()
    whole: bool = False
    replacement: str = ""
    fixes: tuple[str, ...] | None = None  # per-span replacements used by strip and redact alike

    @property
    def family(self) -> str:
        return self.detector.split(".", 1)[0]


def clip(text: str, limit: int = 80) -> str:
    """A short, single-line excerpt: control and invisible characters shown as escapes."""
    out = []
    for ch in text[: limit + 1]:
        code = ord(ch)
        if code < 0x20 or 0x7F <= code < 0xA0:
            out.append("\\n" if ch == "\n" else f"\\x{code:02x}")
        elif code in _SHOW_ESCAPED or 0xE0000 <= code <= 0xE0FFF:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    text = "".join(out)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_SHOW_ESCAPED = frozenset([0xAD, 0x34F, 0x61C, 0x180E, 0xFEFF, *range(0x200B, 0x2010), *range(0x202A, 0x202F),
                           *range(0x2060, 0x2070), *range(0xFE00, 0xFE10)])
