"""Text respelled so that word matching misses it: letters spaced out ("i g n o r e  a l l"),
leetspeak ("1gn0r3 4ll pr3v10u5"), Morse code, binary octets, and marks piled on every letter
(combining, or accented letters: "ïgńörê ãll").

Each form is put back into plain words and scanned again (like a decoded payload). A finding is
reported only when the plain text trips a detector: spaced-out headings, version strings and hashes,
rulers of dots and dashes, bit tables and Vietnamese are everyday text, and none of them is reported
for its form alone. Every step is one regex pass or one pass over a candidate's characters: linear.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Container

import re2

from proxy.content import lookalikes
from proxy.content.model import ATLAS_OBFUSCATION, Hit, Span, clip
from proxy.content.runs import TextView
from proxy.types import Severity

Rescan = Callable[[str, int], list[Hit]]
MAX_DEPTH = 3
MAX_CANDIDATE = 16384  # characters of one respelled run put back (a longer one is cut: still linear)
REMOVED = "[respelled text removed by Drawbridge]"
_HIDDEN = ("injection.", "secrets.", "exfil.")  # what respelled text is reported for

# The runs are found by RE2 over the one-byte view of the text (offsets kept; linear), each as group 1.
# Single letters, each followed by a short separator (punctuation kept in it: `t-, b-e`), at least 12 in a row.
_SPACED = re2.compile(rb"(?:^|[^A-Za-z0-9])((?:[A-Za-z](?:[ ._*|~+-]{1,3}|\t|[ ._*|~+-]?[,;:!?'\"][ ._*|~+-]{1,2}))"
                      rb"{11,}[A-Za-z])(?:[^A-Za-z0-9]|$)")
_SEPARATORS = re.compile(r"[ ._*|~+\t-]+")
# A word with digits or symbols standing for letters (`1gn0r3`, `pr3v10u5`, `@ll`, `a11`, `(0n73n75`): letters and
# such characters only, at least one stand-in, at most 32 characters, not right after a backslash or inside
# an escape sequence. It counts as leetspeak with two letters or more (`\x70`, `[35m` are no words); on a line
# with enough of those, words written in stand-ins alone (`411`, `70`) are read too.
_STAND_INS = "4@3!0$57|19(+8"
_LEET_MAP_KEEP_ONE = str.maketrans(_STAND_INS, "aaeioostl\x00gctb")  # 1 marked, read below
_ONE_AS_I, _ONE_AS_L = str.maketrans("\x00", "i"), str.maketrans("\x00", "l")
_LEET_WORD = re.compile(r"(?<![\w@$!|\\\[;(+])(?=[a-z@$!|(+]*[4@310$57!|9(+8])[a-z4@310$57!|9(+8]{2,32}"
                        r"(?![\w@$!|(+])", re.IGNORECASE)
MIN_LEET_WORDS = 3  # on one line
MIN_LEET_SHARE = 0.25  # of the line's words (a log line with `v1`, `T09` and `md5` among 30 words is not leetspeak)
# RE2: a line with MIN_LEET_WORDS tokens, each with a letter past `f` and a stand-in character (a hash or
# a hex identifier has neither such letter: `5be1d0`; `v1`, `T09` do, and three of them on a line are
# looked at closer).
_LEET_CHAR = "[A-Za-z4@310$57!|]"
_LEETISH = (rf"(?:^|[^A-Za-z0-9@$!|]){_LEET_CHAR}*"
            rf"(?:[g-zG-Z]{_LEET_CHAR}*[4@310$57!|]|[4@310$57!|]{_LEET_CHAR}*[g-zG-Z])")
LEET_LINE_SOURCE = r"[^\n]*".join([_LEETISH] * MIN_LEET_WORDS)
_LEET_LINE = re2.compile(("(?m)^[^\n]*" + LEET_LINE_SOURCE + "[^\n]*").encode())
_HEX = re.compile(r"[0-9a-f]+|[0-9A-F]+")  # an identifier or hash, not leetspeak
# Morse letters (dots and dashes) separated by spaces, words by " / " or three spaces: 8 or more.
_MORSE_RUN = re2.compile(rb"(?:^|[^.\-\w])((?:[.\-]{1,8}(?: / | {1,3}|/)){7,}[.\-]{1,8})(?:[^.\-\w]|$)")
_MORSE = dict(zip(
    (".-", "-...", "-.-.", "-..", ".", "..-.", "--.", "....", "..", ".---", "-.-", ".-..", "--", "-.", "---", ".--.",
     "--.-", ".-.", "...", "-", "..-", "...-", ".--", "-..-", "-.--", "--..", "-----", ".----", "..---", "...--",
     "....-", ".....", "-....", "--...", "---..", "----.", ".-.-.-", "--..--", "..--..", ".--.-.", "-..-.", ".----.",
     "-.-.--", "---...", "-.-.-.", "-....-", "..--.-", ".-..-.", "-.--.", "-.--.-", "-...-", ".-.-.", "...-..-",
     "........"),  # the last is the error sign, written for a character Morse has no code for
    (*"abcdefghijklmnopqrstuvwxyz0123456789.,?@/'!:;-_\"()=+$", ""), strict=True))
# Characters written in binary: octets run together or apart (UTF-8), or groups of 7 to 32 bits apart, each
# a code point; 6 or more.
_BINARY_RUN = re2.compile(rb"(?:^|[^01])((?:[01]{8}[ ,]?){5,}[01]{8}|(?:[01]{7,32}[ ,]+){5,}[01]{7,32})(?:[^01]|$)")
# Combining marks on Latin letters: a line counts with at least MIN_MARKED_LETTERS marked letters, a third
# of its letters (French has a few per cent; Vietnamese, more, is read back too, and reported only if the
# unmarked reading adds an instruction). RE2 (`_CROWDED`) picks the lines to look at.
MIN_MARKED_LETTERS, MIN_MARK_SHARE = 4, 0.3
_COMBINING = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"  # the diacritic blocks
_MARKED = re.compile(f"[A-Za-z][{_COMBINING}]")
_MARKS_ON_LETTER = re.compile(f"([A-Za-z])[{_COMBINING}]+")
_ASCII_LETTER = re.compile("[A-Za-z]")
# Four non-ASCII characters (`?` in the one-byte view), each after one to four ASCII letters or spaces.
_CROWDED = re2.compile(rb"(?:[A-Za-z ]{1,4}\?+){4}")

# English (grade 1) braille letters by their Unicode cells; the blank cell is a space; the capital and
# number signs are dropped (letters are matched in either case).
_BRAILLE_LETTERS = dict(zip("⠁⠃⠉⠙⠑⠋⠛⠓⠊⠚⠅⠇⠍⠝⠕⠏⠟⠗⠎⠞⠥⠧⠺⠭⠽⠵⠀⠲⠂", "abcdefghijklmnopqrstuvwxyz .,", strict=True))
_BRAILLE = re.compile("[\u2800-\u28ff]")
MIN_BRAILLE = 8  # cells in the text (a stray arrow-like cell in a table is no text)

TRIGGERS = {
    "respelled.spaced": r"(?:[A-Za-z](?:[ ._*|~+-]{1,3}|\t)){11}[A-Za-z]",
    "respelled.leet": LEET_LINE_SOURCE,
    "respelled.morse": r"(?:[.\-]{1,8}(?: / | {1,3}|/)){7}[.\-]",
    "respelled.binary": r"(?:[01]{8}[ ,]?){5}[01]{8}|(?:[01]{7,32}[ ,]+){5}[01]{7}",
}


def scan(text: str, view: TextView, rescan: Rescan, fired: Container[str], depth: int,
         folded: str | None = None) -> list[Hit]:
    """Findings for respelled text in `text` (`view`: its views; `fired`: the gates that fired; `folded`:
    the text as `normalize.folding` folded it, if that turned compatibility forms or lookalikes into
    letters)."""
    if depth + 1 >= MAX_DEPTH:
        return []
    forms: list[tuple[str, list[tuple[Span, str]]]] = []
    if "respelled.spaced" in fired:
        forms.append(("spaced", [(span, _unspace(text[span[0]:span[1]])) for span in _runs(_SPACED, view)]))
    if "respelled.leet" in fired:
        forms.append(("leet", _leet_lines(text, view)))
    if "respelled.morse" in fired:
        forms.append(("morse", [(span, _morse(text[span[0]:span[1]])) for span in _runs(_MORSE_RUN, view)]))
    if "respelled.binary" in fired:
        forms.append(("binary", [(span, _binary(text[span[0]:span[1]])) for span in _runs(_BINARY_RUN, view)]))
    if not view.is_ascii:
        crowded = sorted({view.view.rfind(b"\n", 0, m.start()) + 1 for m in _CROWDED.finditer(view.view)})
        forms.append(("marks", _unmarked_lines(text, crowded)))
    if folded is not None:
        forms.append(("lookalikes", lookalikes.read_lines(text, folded)))
    if not view.is_ascii and len(_BRAILLE.findall(view.non_ascii)) >= MIN_BRAILLE:
        forms.append(("braille", _braille_lines(text)))
    hits: list[Hit] = []
    for name, found in forms:
        hit = judge(name, text, found, rescan, depth)
        if hit is not None:
            hits.append(hit)
    return hits


def _runs(pattern: re2._Regexp, view: TextView) -> list[Span]:
    return [(m.start(1), m.end(1)) for m in pattern.finditer(view.view)]


def judge(name: str, text: str, found: list[tuple[Span, str]], rescan: Rescan, depth: int) -> Hit | None:
    """One finding (`encoded.<name>`, digits dropped) for the spans of `text` read as `found` says, if
    the plain reading trips a detector of what respelling hides (an instruction, a secret) that the text
    as written does not (what is written out plainly is not hidden; a control character put back from a
    digit is an artefact, not a finding)."""
    found = [(span, plain) for span, plain in found if plain]
    if not found or depth + 1 >= MAX_DEPTH:
        return None
    plain = "\n".join(p for _, p in found)[:MAX_CANDIDATE]
    inner = {h.detector for h in rescan(plain, depth + 1) if h.detector.startswith(_HIDDEN)}
    if inner:
        written = "\n".join(text[s:e] for (s, e), _ in found)[:MAX_CANDIDATE]
        inner -= {h.detector for h in rescan(written, depth + 1)}
    if not inner:
        return None
    return Hit(f"encoded.{name.rstrip('0123456789')}", Severity.SEV2, f"text respelled ({name}); put back, it triggers "
               f"{', '.join(sorted(inner))}", f"read as: {clip(plain, 100)}", ATLAS_OBFUSCATION,
               tuple(span for span, _ in found), replacement=REMOVED)


def _unspace(run: str) -> str:
    """Letters joined; the commonest separator joins letters of one word, any other separates words."""
    separators = _SEPARATORS.findall(run)
    inner = Counter(separators).most_common(1)[0][0] if separators else ""
    letters = _SEPARATORS.split(run)
    out = [letters[0]]
    for sep, letter in zip(separators, letters[1:], strict=False):
        out.append(letter if sep == inner else " " + letter)
    return "".join(out)


def _leet_lines(text: str, view: TextView) -> list[tuple[Span, str]]:
    """Lines with MIN_LEET_WORDS or more leet words (not hex), the words read as letters."""
    out: list[tuple[Span, str]] = []
    for line in _LEET_LINE.finditer(view.view):
        start, stop = line.start(), line.end()
        words = [m for m in _LEET_WORD.finditer(text, start, stop)
                 if not _HEX.fullmatch(m.group()) and m.group()[0] not in "@$"]  # `@user`, `$var`
        lettered = sum(sum(c.isalpha() for c in m.group()) >= 2 for m in words)
        if lettered < MIN_LEET_WORDS or lettered < MIN_LEET_SHARE * len(text[start:stop].split()):
            continue
        plain, at = [], start
        for m in words:
            plain += [text[at:m.start()], m.group().lower().replace("11", "ll").translate(_LEET_MAP_KEEP_ONE)]
            at = m.end()
        plain.append(text[at:stop])
        read = "".join(plain).strip()
        line_text = read.translate(_ONE_AS_I)
        if "\x00" in read:  # 1 stands for i or for l ("a11"): read both ways
            line_text += "\n" + read.translate(_ONE_AS_L)
        out.append(((start, stop), line_text))
    return out


def _morse(run: str) -> str:
    words = re.split(r" / |/| {3}", run)
    return " ".join("".join(_MORSE.get(code, "") for code in word.split()) for word in words).strip()


def _binary(run: str) -> str:
    groups = re.findall(r"[01]+", run)
    widths = {len(g) for g in groups}
    if len(groups) > 1 and len(widths) == 1 and widths != {8}:  # one code point per group
        points = [int(g, 2) for g in groups]
        return "".join(chr(p) for p in points if 0 < p < 0x110000 and not 0xD800 <= p < 0xE000)
    bits = "".join(groups)
    data = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits) - len(bits) % 8, 8))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return ""


def _unmarked_lines(text: str, starts: list[int]) -> list[tuple[Span, str]]:
    """Lines on whose letters marks are piled (MIN_MARK_SHARE of the ASCII letters, once decomposed),
    without those marks. `starts`: where the lines begin on which RE2 found non-ASCII characters crowding
    among ASCII letters (in the one-byte view every such character is `?`); only those are decomposed."""
    out: list[tuple[Span, str]] = []
    for start in starts:
        stop = text.find("\n", start)
        stop = len(text) if stop < 0 else stop
        decomposed = unicodedata.normalize("NFD", text[start:stop])
        marked = len(_MARKED.findall(decomposed))
        if marked >= MIN_MARKED_LETTERS and marked >= MIN_MARK_SHARE * len(_ASCII_LETTER.findall(decomposed)):
            out.append(((start, stop), _MARKS_ON_LETTER.sub(r"\1", decomposed)))
    return out


def _braille_lines(text: str) -> list[tuple[Span, str]]:
    """Lines with MIN_BRAILLE braille cells, read as English letters (other cells are dropped)."""
    out: list[tuple[Span, str]] = []
    start = 0
    for line in text.split("\n"):
        if len(_BRAILLE.findall(line)) >= MIN_BRAILLE:
            read = "".join(_BRAILLE_LETTERS.get(c, "") if "\u2800" <= c <= "\u28ff" else c for c in line)
            out.append(((start, start + len(line)), read))
        start += len(line) + 1
    return out
