"""Reading the audit stream back: which files a configuration writes, and the events in them.

`audit_files` lists every native-format file sink's rotated files (`NAME.YYYYMMDDTHHMMSS.mmmZ`, which sort
in the order they were written) and then its live file. `read_events` streams them line by line: a line
that is not a JSON object with a timestamp, a torn last line (a writer killed mid-line, or one still
writing) and a line longer than `max_line` are skipped and counted in `ReadStats`, never fatal. An event
read twice (two file sinks holding the same stream) is kept once.
"""

from __future__ import annotations

import calendar
import math
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from proxy.config import AuditConfig, Config, FileSinkConfig
from proxy.containment.durations import parse_duration
from proxy.incident.scope import Scope

MAX_LINE_BYTES = 16 << 20
_ROTATED = r"\.\d{8}T\d{6}\.\d{3}Z"
_FAST = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z")


class AuditEvent(dict[str, Any]):
    """An event exactly as written (it serialises as such), plus `at`: its timestamp in epoch seconds."""

    __slots__ = ("at",)
    at: float


@dataclass
class ReadStats:
    """What `read_events` read, and what it skipped and why."""

    files: int = 0
    lines: int = 0
    events: int = 0
    invalid: int = 0  # not JSON, not an object, or no RFC 3339 timestamp
    torn: int = 0  # a last line cut short
    oversized: int = 0  # longer than the line limit
    duplicates: int = 0  # an event_id already read

    def as_json(self) -> dict[str, int]:
        return asdict(self)

    def note(self) -> str | None:
        """One line naming the skipped lines, or None when nothing was skipped."""
        parts = [f"{n} {what}" for n, what in ((self.invalid, "not a JSON event"), (self.torn, "torn"),
                                               (self.oversized, "oversized"), (self.duplicates, "duplicate")) if n]
        return f"skipped {', '.join(parts)} line(s) of {self.files} audit file(s)" if parts else None


def parse_time(text: Any) -> float | None:
    """Epoch seconds of an RFC 3339 time (`Z` or an offset; no offset means UTC); None when it is not one."""
    if not isinstance(text, str):
        return None
    fast = _FAST.fullmatch(text)
    if fast is not None:
        y, mo, d, h, mi, s, ms = map(int, fast.groups())
        try:
            return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) + ms / 1000
        except (ValueError, OverflowError):
            return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


def audit_files(config: Config | AuditConfig) -> list[Path]:
    """Every native file sink's rotated files, oldest first, then its live file; only files that exist."""
    audit = config.audit if isinstance(config, Config) else config
    bases = [audit.file] if audit.file is not None else []
    bases += [s.path for s in audit.sinks if isinstance(s, FileSinkConfig) and s.format == "native"]
    bases += [sibling for base in list(bases) for sibling in _worker_files(base)]
    found: list[Path] = []
    for base in dict.fromkeys(bases):
        pattern = re.compile(re.escape(base.name) + _ROTATED)
        try:
            names = sorted(p.name for p in base.parent.iterdir() if pattern.fullmatch(p.name))
        except OSError:  # no such directory: nothing written yet
            names = []
        found += [base.parent / name for name in names if (base.parent / name).is_file()]
        if base.is_file():
            found.append(base)
    return list(dict.fromkeys(found))


def _worker_files(base: Path) -> list[Path]:
    """The live files of `serve --workers N`'s other workers (`NAME.worker-I.EXT`)."""
    pattern = re.compile(re.escape(base.stem) + r"\.worker-\d{1,3}" + re.escape(base.suffix))
    try:
        return sorted(p for p in base.parent.iterdir() if pattern.fullmatch(p.name))
    except OSError:
        return []


def parse_window(since: str | None, start: str | None, end: str | None,
                 now: float | None = None) -> tuple[float | None, float | None]:
    """(since, until) in epoch seconds from `--since 4h` or `--from T --to T`; ValueError names the bad one."""
    if since and (start or end):
        raise ValueError("give either --since or --from/--to, not both")
    if since:
        seconds = parse_duration(since)
        return (time.time() if now is None else now) - seconds, None
    bounds: list[float | None] = []
    for flag, value in (("--from", start), ("--to", end)):
        moment = parse_time(value) if value else None
        if value and moment is None:
            raise ValueError(f"{flag}: {value!r} is not an RFC 3339 time (e.g. 2026-12-05T07:30:00Z)")
        bounds.append(moment)
    if bounds[0] is not None and bounds[1] is not None and bounds[1] < bounds[0]:
        raise ValueError("--to is before --from")
    return bounds[0], bounds[1]


def read_events(paths: Iterable[Path], since: float | None = None, until: float | None = None, *,
                stats: ReadStats | None = None, max_line: int = MAX_LINE_BYTES) -> list[dict[str, Any]]:
    """The events of `paths` in file order whose time is within [since, until] (each an `AuditEvent`).

    Raises OSError when a file cannot be opened; every bad line is counted in `stats` instead.
    """
    stats = stats if stats is not None else ReadStats()
    low, high = -math.inf if since is None else since, math.inf if until is None else until
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for path in paths:
        with path.open("rb") as stream:
            stats.files += 1
            for raw in _lines(stream, max_line, stats):
                event = _event(raw, stats)
                if event is None or not low <= event.at <= high:
                    continue
                key = event.get("event_id")
                if isinstance(key, str):
                    if key in seen:
                        stats.duplicates += 1
                        continue
                    seen.add(key)
                stats.events += 1
                out.append(event)
    return out


def _lines(stream: BinaryIO, max_line: int, stats: ReadStats) -> Iterator[bytes]:
    """Non-blank lines; a line longer than `max_line` is read through without being kept."""
    while line := stream.readline(max_line + 1):
        stats.lines += 1
        if len(line) > max_line and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = stream.readline(1 << 20)
            stats.oversized += 1
            continue
        if line.strip():
            yield line


def _event(raw: bytes, stats: ReadStats) -> AuditEvent | None:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        if raw.endswith(b"\n"):
            stats.invalid += 1
        else:
            stats.torn += 1  # only the last line of a file can lack its newline
        return None
    at = parse_time(data.get("timestamp")) if isinstance(data, dict) else None
    if at is None:
        stats.invalid += 1
        return None
    event = AuditEvent(data)
    event.at = at
    return event


def subject_and_window(principal: str | None, agent: str | None, session: str | None, since: str | None,
                       start: str | None, end: str | None) -> tuple[Scope, float | None, float | None]:
    """What every incident command and route asks: one subject, and a time window (ValueError names the fault)."""
    return Scope.pick(principal=principal, agent=agent, session=session), *parse_window(since, start, end)
