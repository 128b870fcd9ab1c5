# ruff: noqa: RUF001 - Cyrillic test words

"""Pattern translation for the RE2 prefilter: a superset of the original, or an honest give-up."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from proxy.content.prefilter import Prefilter, prefilter_bytes, translate


def test_opening_lookbehind_becomes_a_prefix_and_others_are_dropped() -> None:
    assert translate(r"(?<=new\s)orders") == r"(?:new[\t\n\v\f\r\x1c-\x1f ?])orders"
    assert translate(r"a(?<=b)c(?!d)") == "ac"
    assert translate(r"(?:x|(?<=y)z)") == "(?:x|(?:y)z)"
    assert translate(r"\bword{2,5}?") == "word+"
    assert translate(r"a{,4}b{0,400}c{3,}d{2}", max_kept_repeat=16) == "a{0,4}b*c+d{2}"


def test_negated_classes_keep_accepting_non_ascii_characters() -> None:
    assert translate(r"[^\s)]") == r"[^\t\n\v\f\r\x1c-\x1f )]"
    assert translate(r"[^.!?\n]") == r"(?:[^.!?\n]|\?)"
    assert translate(r"[^ -@]") == r"(?:[^ -@]|\?)"
    assert translate(r"\S\W") == r"[^\t\n\v\f\r\x1c-\x1f ][^0-9A-Za-z_]"


def test_constructs_it_cannot_translate_are_always_candidates() -> None:
    assert translate(r"(?>atomic)") is None
    assert translate(r"\p{L}+") is None
    assert translate("naïve") is None
    prefilter = Prefilter({"atomic": r"(?>x)", "plain": "needle"})
    assert prefilter.always == frozenset({"atomic"})
    assert prefilter.candidates(b"haystack") == frozenset({"atomic"})
    assert prefilter.candidates(b"a needle") == frozenset({"atomic", "plain"})


def test_non_ascii_characters_count_as_word_and_space_characters() -> None:
    prefilter = Prefilter({"p": r"a\w+b\s+c[^!?]d"})
    assert prefilter_bytes("aéb\u3000cÿd") == b"a?b?c?d"
    assert prefilter.candidates(prefilter_bytes("aéb\u3000cÿd")) == frozenset({"p"})
    assert prefilter.candidates(prefilter_bytes("a-b c?d")) == frozenset()


@given(st.binary(max_size=200))
def test_a_real_answer_is_told_from_a_failed_one(data: bytes) -> None:
    """RE2 answers with an always-matching sentinel; without it every pattern is a candidate."""
    prefilter = Prefilter({"needle": "needle", "thread": "thread"})
    found = prefilter.candidates(data)
    assert found == {name for name in ("needle", "thread") if name.encode() in data}


def test_utf8_mode_keeps_non_ascii_letters_and_widens_classes() -> None:
    assert translate("naïve", utf8=True) == "naïve"
    assert translate(r"\w\b", utf8=True) == r"[0-9A-Za-z_\x{80}-\x{10ffff}]"
    prefilter = Prefilter({"ru": r"\bпарол\w*", "zh": "忽略.{0,8}指令"}, utf8=True)
    assert prefilter.always == frozenset()
    assert prefilter.candidates("мой пароль".encode()) == frozenset({"ru"})
    assert prefilter.candidates("请忽略之前的指令".encode()) == frozenset({"zh"})
    assert prefilter.candidates("быстрая лиса".encode()) == frozenset()
