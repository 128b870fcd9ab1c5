"""Folding for matching: NFKC, invisible characters out, confusables and quotes folded, case folded."""

# ruff: noqa: RUF001 - lookalike letters from other scripts are the subject matter here

from __future__ import annotations

import pytest

from proxy.content.normalize import fold
from proxy.content.runs import TextView


@pytest.mark.parametrize(("text", "folded"), [
    ("Ignore ALL", "ignore all"),
    ("STRASSE Straße", "strasse strasse"),  # casefold, not lower: ß is ss
    ("ΔΣ ΔΣ", "δσ δσ"),  # no final-sigma special case
    ("Ｉｇｎｏｒｅ ﬁle", "ignore file"),  # NFKC
    ("ign\u200bore", "ignore"),  # invisible characters removed
    ("іgnоrе", "ignore"),  # Cyrillic lookalikes folded
    ("“quoted” ‘text’", "\"quoted\" 'text'"),
    ("Café naïve", "café naïve"),
])
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded
    assert fold(text, TextView(text).non_ascii) == folded
