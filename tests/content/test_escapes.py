"""Terminal escapes: hiding sequences are found, ordinary colour output passes."""

from __future__ import annotations

import pytest

from proxy.content.scanner import detect

ESCAPES = frozenset({"escapes"})


def detectors(text: str) -> set[str]:
    return {h.detector for h in detect(text, ESCAPES)}


@pytest.mark.parametrize(("text", "detector"), [
    ("ok\x1b[8mhidden\x1b[0m", "escapes.sgr_hidden"),
    ("ok\x1b[30;40mblack on black\x1b[0m", "escapes.sgr_hidden"),
    ("done\x1b[1Aoverwritten", "escapes.csi"),
    ("x\x1b[2Jcleared", "escapes.csi"),
    ("x\x1b[10;5Hmoved", "escapes.csi"),
    ("\x1b]8;;https://evil.example\x07docs\x1b]8;;\x07", "escapes.osc8"),
    ("\x1b]52;c;Y3VybA==\x07", "escapes.osc52"),
    ("\x1b]0;title\x07", "escapes.osc"),
    ("\x1bP+q\x1b\\", "escapes.device_string"),
    ("save\x1b7restore\x1b8", "escapes.esc"),
    ("bell\x07 and nul\x00", "escapes.control"),
    ("c1 csi \x9b2J", "escapes.csi"),
    ("backspace overstrike a\x08b", "escapes.control"),
])
def test_hiding_sequences_are_reported(text: str, detector: str) -> None:
    assert detector in detectors(text)


@pytest.mark.parametrize("text", [
    "\x1b[1m\x1b[32m✓\x1b[0m 12 passed",
    "app.py:\x1b[32m\x1b[K12\x1b[m\x1b[K:\x1b[01;31m\x1b[Kimport\x1b[m\x1b[K os",
    "\x1b[38;5;8mgrey\x1b[0m \x1b[38;2;255;128;0morange\x1b[0m \x1b[48;5;236mbg\x1b[0m",
    "tabs\tand\nnewlines\r\nand progress\r50%",
    "\x1b[?25l\r\x1b[2K 42% ━━━━━━ 3.1 MB/s\x1b[1G\x1b[0K done\x1b[?25h",
])
def test_colour_output_passes(text: str) -> None:
    assert detect(text, ESCAPES) == []


def test_findings_carry_spans_for_stripping() -> None:
    text = "a\x1b[1Ab"
    (hit,) = detect(text, ESCAPES)
    assert [text[s:e] for s, e in hit.spans] == ["\x1b[1A"]
