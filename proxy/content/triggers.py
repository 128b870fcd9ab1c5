"""The RE2 pass per text: which injection patterns can match, and which detector gates fired.

Injection patterns and markup are matched on the folded text, where their translations are exact
supersets for any text (see `prefilter`). The other detectors read the original text; their gates
are matched case-insensitively on it. For ASCII text the folded text is the lower-cased original,
so one pass over it answers both; other text takes a second, small pass for the gates.
"""

from __future__ import annotations

from proxy.content import encoded, escapes, exfil, rot13, secrets
from proxy.content.injection import MARKUP
from proxy.content.injection_markup import MARKUP_REGEX
from proxy.content.injection_patterns import PATTERNS
from proxy.content.prefilter import Prefilter, prefilter_bytes
from proxy.content.runs import TextView

ON_FOLDED: dict[str, str] = {**{p.id: p.regex.pattern for p in PATTERNS}, MARKUP: MARKUP_REGEX.pattern,
                             **rot13.TRIGGERS}
GATES: dict[str, str] = {**encoded.TRIGGERS, **escapes.TRIGGERS, **exfil.TRIGGERS, **secrets.TRIGGERS}
EVERYTHING = frozenset(ON_FOLDED) | frozenset(GATES)
EXACT = {name: 16 for name in GATES}  # gates are small: keep their bounded repeats, they make them selective
ASCII_PASS = Prefilter({**ON_FOLDED, **GATES}, flags="smi", exact_repeats=EXACT)
FOLDED_PASS = Prefilter(ON_FOLDED)
GATES_PASS = Prefilter(GATES, flags="smi", exact_repeats=EXACT)


def fired(low: str, view: TextView) -> frozenset[str]:
    """Pattern ids and gate names that may match; `low` is `normalize.fold(view.text)`."""
    if view.is_ascii:
        return ASCII_PASS.candidates(prefilter_bytes(low))
    return FOLDED_PASS.candidates(prefilter_bytes(low)) | GATES_PASS.candidates(view.view)
