"""The held-out obfuscation source measures obfuscation: each of its sentences is found as written."""

from __future__ import annotations

import pytest

from bench.detection.src_pyrit_converters import CARRIER, SENTENCES
from proxy.content.scanner import Scanner
from proxy.content.settings import ContentSettings


@pytest.mark.parametrize("sentence", SENTENCES)
def test_each_sentence_is_an_injection_as_written(sentence: str) -> None:
    outcome = Scanner(ContentSettings()).scan_text(CARRIER.replace("{attack}", sentence), "tool_result")
    assert any(hit.detector.startswith("injection.") for hit, _ in outcome.hits)
