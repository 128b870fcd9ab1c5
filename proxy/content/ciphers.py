"""Instructions written in a simple letter cipher: any Caesar shift (ROT13 has `rot13`), Atbash, text
written backwards or upside down, the NATO spelling alphabet, and any letter substitution whose key the
text itself gives (`a -> q, b -> x, ...`, the bijection-learning form: the reader is taught the mapping,
then handed text in it).

An instruction to an agent nearly always has one of a few words (ignore, instructions, previous, system,
prompt, password...). Each cipher's spelling of those words is a gate of its own in the RE2 pass
(`triggers`), so the pass names the cipher; only the lines holding such a word are deciphered and
scanned again, and a finding is reported as in `respelled` (only for what the plain reading adds).
"""

# ruff: noqa: RUF001 - turned letters are the subject matter here

from __future__ import annotations

import re
from collections.abc import Callable, Container

import re2

from proxy.content.model import Hit, Span
from proxy.content.respelled import Rescan, judge
from proxy.content.runs import TextView

KEYWORDS = ("ignore", "instructions", "previous", "system", "prompt", "password", "secret", "assistant",
            "forget", "reveal", "important", "credentials", "disregard",
            "ignoriere", "anweisungen", "vorherigen", "passwort", "ignorez", "consignes", "instrucciones", "ignora",
            "istruzioni")
_LOWER = "abcdefghijklmnopqrstuvwxyz"


def _shift(k: int) -> dict[int, int]:
    """A translation table moving every letter k places on (both cases)."""
    table = str.maketrans(_LOWER, _LOWER[k:] + _LOWER[:k])
    table.update(str.maketrans(_LOWER.upper(), (_LOWER[k:] + _LOWER[:k]).upper()))
    return table


_ATBASH = str.maketrans(_LOWER + _LOWER.upper(), _LOWER[::-1] + _LOWER[::-1].upper())
def _translator(table: dict[int, int]) -> Callable[[str], str]:
    def apply(text: str) -> str:
        return text.translate(table)
    return apply


def _backwards(text: str) -> str:
    return text[::-1]


# name -> (how it writes a keyword, how a line is read back)
CIPHERS: dict[str, tuple[Callable[[str], str], Callable[[str], str]]] = {
    **{f"caesar{k}": (_translator(_shift(k)), _translator(_shift(26 - k))) for k in range(1, 26) if k != 13},
    "atbash": (_translator(_ATBASH), _translator(_ATBASH)),
    "reversed": (_backwards, _backwards),
}
_WRITTEN = {name: tuple(write(w) for w in KEYWORDS) for name, (write, _) in CIPHERS.items()}
# Upside-down text: the line reversed, letters turned (some turn into other ASCII letters).
_UPSIDE_DOWN = "ɐqɔpǝɟƃɥᴉɾʞlɯuodbɹsʇnʌʍxʎz"
_UPRIGHT = str.maketrans(_UPSIDE_DOWN, _LOWER)
_TURNED = re.compile("[ɐɔǝɟƃɥᴉɾʞɯɹʇʌʍʎ]")
MIN_TURNED = 6  # turned letters on a line
_NATO_WORDS = ("alfa", "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
               "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
               "uniform", "victor", "whiskey", "whisky", "x-ray", "xray", "yankee", "zulu")
_NATO = rf"(?:{'|'.join(_NATO_WORDS)})"
# Between spelled letters: spaces and punctuation, and a word break written as `/`, `|`, `<space>`, `(space)`
# or two spaces; a character that is no letter may be written as itself (`Mike : <space> Yankee`).
_NATO_SEP = r"(?:[\s,/|.:;!?'_<>()-]|space)+"
_NATO_RUN = re2.compile(rf"(?i)(?:^|[^a-z])((?:{_NATO}(?:{_NATO_SEP}|$)){{6,}})".encode())
_NATO_TOKEN = re.compile(r"x-ray|[a-z]+|[/|]|\s{2,}|[^\sa-z<>()]")

TRIGGERS = {f"cipher.{name}": "|".join(written) for name, written in _WRITTEN.items()}
TRIGGERS["cipher.nato"] = rf"(?:{_NATO}{_NATO_SEP}){{5}}{_NATO}"
# A substitution key written out: letter, arrow or `=` / `:`, letter; MIN_KEY_PAIRS of them close together.
MIN_KEY_PAIRS = 10
MAX_KEYS = 8  # keys read per text
_PAIR = r"(?<![A-Za-z])['\"]?([A-Za-z])['\"]?\s*(?:->|=>|→|⇒|=|:|is)\s*['\"]?([A-Za-z])['\"]?(?![A-Za-z])"
_KEY_PAIR = re.compile(_PAIR)
_KEY = re.compile(rf"(?:{_PAIR}[\s,;|]{{1,6}}){{{MIN_KEY_PAIRS - 1},}}{_PAIR}")
TRIGGERS["cipher.keyed"] = r"(?:[a-z]['\"]?\s*(?:->|=>|=|:)\s*['\"]?[a-z]['\"]?[\s,;|]{1,6}){9}[a-z]"


def scan(text: str, view: TextView, rescan: Rescan, fired: Container[str], depth: int) -> list[Hit]:
    """Findings for instructions in a letter cipher in `text` (`fired`: the gates that fired)."""
    hits: list[Hit] = []
    low = ""
    for name, (_, read) in CIPHERS.items():
        if f"cipher.{name}" in fired:
            low = low or view.view.decode("latin-1").lower()
            found = [(span, read(text[span[0]:span[1]])) for span in _lines_with(low, _WRITTEN[name])]
            hit = judge(name, text, found, rescan, depth)
            if hit is not None:
                hits.append(hit)
    if "cipher.nato" in fired:
        runs = [(m.start(1), m.end(1)) for m in _NATO_RUN.finditer(view.view)]
        hit = judge("nato", text, [(span, _nato(text[span[0]:span[1]])) for span in runs], rescan, depth)
        if hit is not None:
            hits.append(hit)
    if "cipher.keyed" in fired:
        hit = judge("keyed", text, _keyed(text), rescan, depth)
        if hit is not None:
            hits.append(hit)
    if not view.is_ascii and len(_TURNED.findall(view.non_ascii)) >= MIN_TURNED:
        hit = judge("upside_down", text, _turned_lines(text), rescan, depth)
        if hit is not None:
            hits.append(hit)
    return hits


def _keyed(text: str) -> list[tuple[Span, str]]:
    """The text after each written-out substitution key (up to 4 KiB), read with the key both ways (a key
    may list plain -> cipher or cipher -> plain letters; both readings are scanned)."""
    out: list[tuple[Span, str]] = []
    for n, key in enumerate(_KEY.finditer(text)):
        if n >= MAX_KEYS:
            break
        pairs = [(m.group(1).lower(), m.group(2).lower()) for m in _KEY_PAIR.finditer(key.group())]
        forward = {a: b for a, b in pairs}
        backward = {b: a for a, b in pairs}
        start = key.end()
        stop = min(len(text), start + 4096)
        body = text[start:stop]
        readings = [body.lower().translate(str.maketrans(m)) for m in (forward, backward)
                    if len(m) >= MIN_KEY_PAIRS]
        if readings:
            out.append(((start, stop), "\n".join(readings)))
    return out


def _lines_with(low: str, words: tuple[str, ...]) -> list[Span]:
    """The spans of the lines holding one of `words` (in order, each once)."""
    starts: set[int] = set()
    for word in words:
        at = low.find(word)
        while at >= 0:
            starts.add(low.rfind("\n", 0, at) + 1)
            at = low.find(word, at + len(word))
    spans = []
    for start in sorted(starts):
        stop = low.find("\n", start)
        spans.append((start, len(low) if stop < 0 else stop))
    return spans


def _nato(run: str) -> str:
    out: list[str] = []
    for piece in _NATO_TOKEN.findall(run.lower()):
        if piece in _NATO_WORDS or piece == "x-ray":
            out.append(piece[0])
        elif piece in ("/", "|", "space") or piece.isspace():
            out.append(" ")
        elif not piece.isalpha():
            out.append(piece)  # a digit or punctuation written as itself
    return re.sub(r"\s+", " ", "".join(out)).strip()


def _turned_lines(text: str) -> list[tuple[Span, str]]:
    out: list[tuple[Span, str]] = []
    start = 0
    for line in text.split("\n"):
        if len(_TURNED.findall(line)) >= MIN_TURNED:
            out.append(((start, start + len(line)), line[::-1].translate(_UPRIGHT)))
        start += len(line) + 1
    return out
