"""The memory benchmark runs end to end against a real Drawbridge and reports what it measured."""

from __future__ import annotations

import pytest

from bench import sessions


def test_a_short_run_reports_memory_per_session(capsys: pytest.CaptureFixture[str]) -> None:
    code = sessions.main(["--sessions", "20", "--soak", "0", "--no-save"])
    out = capsys.readouterr().out
    assert code == 0, out
    for figure in ("RSS per idle session", "RSS with 20 concurrent sessions", "RSS after they end"):
        assert figure in out
    assert "| errors | 0 |" in out
