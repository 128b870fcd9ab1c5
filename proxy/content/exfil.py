"""Markdown and HTML constructs that exfiltrate through URLs when a client renders them.

An image (markdown `![](…)` or HTML `<img src>`) is fetched without a click, so one whose URL
carries data (a long query value, a template placeholder, an encoded blob, a credential) is
reported; a link needs stronger evidence (a DATA-style placeholder or a credential), since long
links and `{id}` templates are common in documentation.
"""

from __future__ import annotations

import re
from collections.abc import Container
from urllib.parse import parse_qsl, urlsplit

from proxy.content.model import ATLAS_RENDERING, Hit, Span, clip
from proxy.content.secrets import entropy
from proxy.types import Severity

# `](url)` inline links/images and `[ref]: url` definitions, in one pass (literal prefix "]")
_MD = re.compile(r"\](?:\(\s*<?(?P<url>(?:https?:)?//[^\s)>]{1,4096})|:[ \t]*<?(?P<ref>(?:https?:)?//[^\s>]{1,4096}))")
_IMG = re.compile(r"<img\b[^>]{0,400}?\bsrc\s*=\s*[\"']?(?P<url>(?:https?:)?//[^\"'\s>]{1,4096})",
                  re.IGNORECASE | re.ASCII)  # HTML tag and attribute names are ASCII case-insensitive
_PLACEHOLDER = re.compile(r"(?i:\[[a-z _-]{2,24}\]|\{[a-z _.-]{2,24}\}|\$[A-Z_]{3,}|%5B[A-Z_]+%5D)")
_DATA_WORD = re.compile(r"[\[{<$]?\b(?:DATA|INFO|SECRET|PAYLOAD|CONTEXT|HISTORY|CONVERSATION|SUMMARY|PASSWORD|"
                        r"TOKEN|EMAIL|NAME|CHAT)\b")
_ENCODED_VALUE = re.compile(r"[A-Za-z0-9+/_=-]{24,}")
_HEXISH = re.compile(r"[0-9a-fA-F-]+")
_WORDY = re.compile(r"(?:[A-Za-z]{2,}(?:\+|%20|%2B| )){3,}[A-Za-z]{2,}")
REPLACEMENT = "[link removed by Drawbridge]"
TRIGGERS = {"exfil.markdown": _MD.pattern, "exfil.img": _IMG.pattern}  # gates, matched on lower-cased text


def _carries_data(url: str, image: bool) -> str | None:
    """Why this URL looks like it carries data out, or None."""
    if _DATA_WORD.search(url):
        return "data placeholder in the URL"
    if image and _PLACEHOLDER.search(url):
        return "template placeholder in the URL"
    try:
        parts = urlsplit(url if "://" in url else "https:" + url)
    except ValueError:
        return "malformed URL"
    if not image:
        return None
    raw_values = [v for _, v in parse_qsl(parts.query, keep_blank_values=True)] + [parts.fragment]
    for value in raw_values:
        if _looks_encoded(value):
            return "encoded data in the query"
    if _WORDY.search(parts.query) or _WORDY.search(parts.path):
        return "free text in the URL"
    if any(len(segment) >= 32 and _looks_encoded(segment) for segment in parts.path.split("/")):
        return "encoded blob in the URL path"
    return None


def _looks_encoded(value: str) -> bool:
    """A base64-looking value: long, one token, upper and lower case and digits mixed, random-looking.

    Hashes (hex), UUIDs and word-like slugs (badges, titles) are ordinary URL parts, not payloads.
    """
    if not _ENCODED_VALUE.fullmatch(value) or _HEXISH.fullmatch(value):
        return False
    if value.count("-") + value.count("_") > 2:
        return False
    digits = sum(c.isdigit() for c in value)
    return digits >= 3 and any(c.islower() for c in value) and any(c.isupper() for c in value) and \
        entropy(value) >= 4.0


def scan(text: str, low: str, secrets_in: list[Span], fired: Container[str]) -> list[Hit]:
    """Exfiltration findings; `low` is the lower-cased text, `secrets_in` the credential spans found in it,
    `fired` the gates (see TRIGGERS) that fired on the text."""
    images: list[tuple[Span, str]] = []
    links: list[tuple[Span, str]] = []
    candidates: list[tuple[re.Match[str], str, bool]] = []
    if "exfil.markdown" in fired:
        uses_images = "![" in text
        candidates = [(m, "url" if m.group("url") else "ref",
                       _is_image_link(text, m.start()) if m.group("url") else uses_images)
                      for m in _MD.finditer(text)]
    if "exfil.img" in fired and "<img" in low:
        candidates += [(m, "url", True) for m in _IMG.finditer(text)]
    for m, group, image in candidates:
        url = m.group(group)
        span = m.span(group)
        reason = "credential in the URL" if any(span[0] <= s < span[1] for s, _ in secrets_in) else None
        reason = reason or _carries_data(url, image)
        if reason is not None:
            (images if image else links).append((span, f"{reason}: {clip(url, 80)}"))
    hits = []
    for kind, found, severity in (("image", images, Severity.SEV2), ("link", links, Severity.SEV3)):
        if found:
            sev = Severity.SEV1 if any(r.startswith("credential") for _, r in found) else severity
            hits.append(Hit(f"exfil.markdown_{kind}", sev,
                            f"{len(found)} {kind}(s) whose URL can carry data out ({found[0][1]})",
                            found[0][1], ATLAS_RENDERING, tuple(s for s, _ in found), replacement=REPLACEMENT))
    return hits


def _is_image_link(text: str, close: int) -> bool:
    """Is the `](` at `close` the end of `![alt` (brackets in the alt text are balanced)?"""
    depth = 0
    for i in range(close - 1, max(-1, close - 512), -1):
        ch = text[i]
        if ch == "]":
            depth += 1
        elif ch == "[":
            if depth == 0:
                return i > 0 and text[i - 1] == "!"
            depth -= 1
    return False
