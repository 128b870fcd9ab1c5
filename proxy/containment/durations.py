"""Durations as responders type them: `30m`, `72h`, `7d`, `1h30m`, or plain seconds."""

from __future__ import annotations

import re

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
MAX_SECONDS = 366 * 86_400
_PART = re.compile(r"(\d{1,6})([smhdw])")
_WHOLE = re.compile(r"(?:\d{1,6}[smhdw])+")


def parse_duration(value: str | int, *, max_seconds: int = MAX_SECONDS) -> int:
    """Seconds in `value` (`"72h"`, `"1h30m"`, `"45"` or an int); ValueError names the bad input."""
    if isinstance(value, bool):
        raise ValueError("duration must be a string like 72h or a number of seconds")
    if isinstance(value, int):
        seconds = value
    else:
        text = value.strip().lower()
        if text.isdigit():
            seconds = int(text)
        elif _WHOLE.fullmatch(text):
            seconds = sum(int(n) * UNITS[u] for n, u in _PART.findall(text))
        else:
            raise ValueError(f"invalid duration {value!r}: use e.g. 30m, 72h, 7d or 1h30m")
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {value!r}")
    if seconds > max_seconds:
        raise ValueError(f"duration {value!r} is longer than the maximum of {format_duration(max_seconds)}")
    return seconds


def format_duration(seconds: float) -> str:
    """The compact form of a number of seconds: `3d4h`, `45m`, `0s`."""
    left = max(0, int(seconds))
    parts: list[str] = []
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size or (unit == "s" and not parts):
            count, left = divmod(left, size)
            parts.append(f"{count}{unit}")
        if len(parts) == 2:
            break
    return "".join(parts)
