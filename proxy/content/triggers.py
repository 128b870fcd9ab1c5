"""The RE2 pass per text: which injection patterns can match, and which detector gates fired.

Injection patterns and markup are matched on the folded text, where their translations are exact
supersets for any text (see `prefilter`). The other detectors read the original text; their gates
are matched case-insensitively on it. For ASCII text the folded text is the lower-cased original,
so one pass over it answers both; other text takes a second, small pass for the gates, and a third
over its UTF-8 bytes for the Chinese, Japanese and Russian anchors of `injection_agentic` (in the
one-byte view every such letter is `?`, which would make them fire on any non-ASCII text).

The anchors of `injection_agentic` are one more RE2 search of their own: in the big set their
automaton multiplies with the others' and the pass becomes several times slower on varied text.
"""

from __future__ import annotations

from proxy.content import (
    ascii_art,
    ciphers,
    encoded,
    escapes,
    exfil,
    injection_agentic,
    legacy_codecs,
    respelled,
    rot13,
    scrambled,
    secrets,
    substitution,
)
from proxy.content.injection import MARKUP
from proxy.content.injection_markup import MARKUP_REGEX
from proxy.content.injection_patterns import PATTERNS
from proxy.content.prefilter import Prefilter, prefilter_bytes
from proxy.content.runs import TextView

ON_FOLDED: dict[str, str] = {**{p.id: p.regex.pattern for p in PATTERNS}, MARKUP: MARKUP_REGEX.pattern,
                             **rot13.TRIGGERS}
NON_LATIN: dict[str, str] = {injection_agentic.NON_LATIN_ID: injection_agentic.NON_LATIN_SOURCE}
GATES: dict[str, str] = {**encoded.TRIGGERS, **legacy_codecs.TRIGGERS, **escapes.TRIGGERS, **exfil.TRIGGERS,
                         **secrets.TRIGGERS, **respelled.TRIGGERS, **ciphers.TRIGGERS, **scrambled.TRIGGERS,
                         **ascii_art.TRIGGERS, **substitution.TRIGGERS}
EVERYTHING = frozenset(ON_FOLDED) | frozenset(GATES) | frozenset(NON_LATIN) | {injection_agentic.ANCHOR_ID}
EXACT = {name: 16 for name in GATES}  # gates are small: keep their bounded repeats, they make them selective
ASCII_PASS = Prefilter({**ON_FOLDED, **GATES}, flags="smi", exact_repeats=EXACT)
FOLDED_PASS = Prefilter(ON_FOLDED)
GATES_PASS = Prefilter(GATES, flags="smi", exact_repeats=EXACT)
NON_LATIN_PASS = Prefilter(NON_LATIN, utf8=True)
ANCHOR, NOTHING = frozenset({injection_agentic.ANCHOR_ID}), frozenset[str]()


def fired(low: str, view: TextView) -> frozenset[str]:
    """Pattern ids and gate names that may match; `low` is `normalize.fold(view.text)`."""
    raw = prefilter_bytes(low)
    anchor = ANCHOR if injection_agentic.has_anchor(raw) else NOTHING
    if view.is_ascii:
        return ASCII_PASS.candidates(raw) | anchor
    found = FOLDED_PASS.candidates(raw) | GATES_PASS.candidates(view.view) | anchor
    data = injection_agentic.non_latin_data(low)
    return found if data is None else found | NON_LATIN_PASS.candidates(data)
