"""Every audit event a test reads must fit its published schema (`proxy/audit/schemas/`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from proxy.audit.schemas import validate_event

_FIT: set[int] = set()  # hashes of audit lines already checked: a test that polls a file checks each line once
_FIT_MAX = 200_000


def assert_events_fit(events: Iterable[dict[str, Any]], source: str, unit: str = "event",
                      lines: Sequence[str] | None = None) -> None:
    """Fail the test, naming the event and each problem, when an event does not fit its schema. `lines`, the
    raw lines the events were parsed from, lets a line checked before be skipped."""
    for number, event in enumerate(events, 1):
        key = hash(lines[number - 1]) if lines is not None else None
        if key in _FIT:
            continue
        problems = validate_event(event)
        if problems:
            kind = event.get("event_type") if isinstance(event, dict) else None
            pytest.fail(f"{source}, {unit} {number}: {kind!r} event does not fit its schema in proxy/audit/schemas "
                        f"(fix the event, or the schema if the event is right):\n  " + "\n  ".join(problems)
                        + f"\n  event: {event}", pytrace=False)
        if key is not None and len(_FIT) < _FIT_MAX:
            _FIT.add(key)
