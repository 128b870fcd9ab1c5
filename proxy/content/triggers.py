"""The one RE2 pass per text: which injection patterns can match, and which detector gates fired.

Injection candidates are exact supersets on any folded text (see `prefilter`). The other detectors'
gates are written for the lower-cased text, which is the folded text only when the original is
ASCII; for other texts every gate counts as fired, so they never hide a match.
"""

from __future__ import annotations

from proxy.content import encoded, escapes, exfil, secrets
from proxy.content.injection_markup import MARKUP_REGEX
from proxy.content.injection_patterns import PATTERNS
from proxy.content.prefilter import Prefilter, prefilter_bytes

MARKUP = "injection.markup"
GATES: dict[str, str] = {MARKUP: MARKUP_REGEX.pattern, **encoded.TRIGGERS, **escapes.TRIGGERS, **exfil.TRIGGERS,
                         **secrets.TRIGGERS}
ALL_GATES = frozenset(GATES)
EVERYTHING = frozenset(p.id for p in PATTERNS) | ALL_GATES
PREFILTER = Prefilter({**{p.id: p.regex.pattern for p in PATTERNS}, **GATES})


def fired(low: str, is_ascii: bool) -> frozenset[str]:
    """Pattern ids and gate names that may match; `low` is the folded text, `is_ascii` the original's."""
    found = PREFILTER.candidates(prefilter_bytes(low))
    return found if is_ascii else found | ALL_GATES
