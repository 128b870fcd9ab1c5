"""JSON (de)serialisation of the containment records, and the in-memory snapshot both backends share.

Records are stored as JSON objects of their dataclass fields; unknown fields are ignored on decode
(a newer replica may add one) and missing optional fields take their defaults. Each record lives in
a named collection under a key (`kind:subject` for quarantines, the id otherwise).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import Any, Final, TypeAlias

import orjson

from proxy.errors import DrawbridgeError
from proxy.state.model import (
    ContainmentState,
    DenyOverlay,
    EgressDeny,
    EventListener,
    Listener,
    Quarantine,
    RateLimit,
    RevokedCredential,
)

log = logging.getLogger(__name__)

Record: TypeAlias = Quarantine | DenyOverlay | EgressDeny | RevokedCredential | RateLimit
QUARANTINES: Final = "quarantines"
DENY_OVERLAYS: Final = "deny_overlays"
EGRESS_DENIES: Final = "egress_denies"
REVOKED: Final = "revoked_credentials"
RATE_LIMITS: Final = "rate_limits"
RECORD_TYPES: Final[dict[str, type[Record]]] = {
    QUARANTINES: Quarantine, DENY_OVERLAYS: DenyOverlay, EGRESS_DENIES: EgressDeny, REVOKED: RevokedCredential,
    RATE_LIMITS: RateLimit}
COLLECTIONS: Final = tuple(RECORD_TYPES)


class StoreUnavailable(DrawbridgeError):
    """The state backend could not be reached or failed; callers must fail closed."""


def collection_of(record: Record) -> str:
    """The collection a record belongs to."""
    for name, cls in RECORD_TYPES.items():
        if isinstance(record, cls):
            return name
    raise TypeError(f"not a containment record: {type(record).__name__}")


def record_key(record: Record) -> str:
    """The record's key inside its collection: one quarantine per subject, revocations by credential hash,
    overlays/denies by id."""
    if isinstance(record, Quarantine):
        return quarantine_key(record.kind, record.subject)
    return record.credential_sha256 if isinstance(record, RevokedCredential) else record.id


def quarantine_key(kind: str, subject: str) -> str:
    return f"{kind}:{subject}"


def to_fields(record: Record) -> dict[str, Any]:
    """A record as a JSON-ready dict of its fields."""
    return dataclasses.asdict(record)


def from_fields(collection: str, data: Mapping[str, Any]) -> Record:
    """Build one record of `collection` from its fields; `ValueError` if they do not make one."""
    cls = RECORD_TYPES[collection]
    names = {f.name for f in dataclasses.fields(cls)}
    fields = {k: v for k, v in data.items() if k in names}
    if "tools" in fields:
        if not isinstance(fields["tools"], list | tuple) or not all(isinstance(t, str) for t in fields["tools"]):
            raise ValueError("tools must be a list of strings")
        fields["tools"] = tuple(fields["tools"])
    try:
        return cls(**fields)
    except TypeError as exc:
        raise ValueError(f"invalid {collection} record: {exc}") from None


def dumps(value: Record | Mapping[str, Any]) -> bytes:
    """A record (or a plain JSON object) as compact JSON bytes."""
    return orjson.dumps(to_fields(value) if isinstance(value, Record) else value)


def loads_object(text: str | bytes) -> dict[str, Any]:
    """A JSON object; `ValueError` for anything else (invalid JSON included)."""
    data = orjson.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return data


def loads(collection: str, text: str | bytes) -> Record:
    """Decode one record of `collection`; `ValueError` if it is not a valid record."""
    return from_fields(collection, loads_object(text))


def check_ttl(ttl_seconds: int) -> None:
    """Counters need a whole, positive window (a bug in the caller otherwise)."""
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds < 1:
        raise ValueError(f"ttl_seconds must be a positive integer, got {ttl_seconds!r}")


def is_live(record: Record, now: float) -> bool:
    return record.expires is None or now < record.expires


class Snapshot:
    """The current `ContainmentState`, rebuilt whole on change, plus the listeners to tell.

    Backends keep records per collection (key -> record); every change builds a new immutable
    state with `version + 1` and calls the `on_change` listeners. No I/O happens here.
    """

    def __init__(self) -> None:
        self.state = ContainmentState()
        self._records: dict[str, dict[str, Record]] = {c: {} for c in COLLECTIONS}
        self._seqs: dict[tuple[str, str], int] = {}  # write sequence of the last applied change per key
        self._floor = 0  # sequence reflected by the last full load
        self._listeners: list[Listener] = []
        self._event_listeners: list[EventListener] = []

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def on_event(self, listener: EventListener) -> None:
        self._event_listeners.append(listener)

    def get(self, collection: str, key: str) -> Record | None:
        return self._records[collection].get(key)

    def apply(self, collection: str, key: str, record: Record | None, seq: int | None = None) -> bool:
        """Set (or with None, remove) one record; True (and listeners called) if anything changed.

        With `seq` (the backend's write sequence number), a change older than one already applied
        to this key, or than the last full load, is ignored: replicas converge in write order.
        """
        if seq is not None:
            if seq <= max(self._floor, self._seqs.get((collection, key), 0)):
                return False
            self._seqs[(collection, key)] = seq
        current = self._records[collection]
        if current.get(key) == record:
            return False
        records = dict(current)
        if record is None:
            del records[key]
        else:
            records[key] = record
        self._swap({**self._records, collection: records})
        return True

    def replace(self, records: Mapping[str, Mapping[str, Record]], seq: int | None = None) -> bool:
        """Replace whole collections (a full load); True (and listeners called) if anything changed.

        With `seq` (the write sequence the load reflects), keys already changed by a later write keep
        their current value; a `seq` below the last one means the backend's history restarted.
        """
        loaded = {c: dict(r) for c, r in records.items()}
        if seq is not None:
            newer = {} if seq < self._floor else {k: s for k, s in self._seqs.items() if s > seq}
            for collection, key in newer:
                current = self._records[collection].get(key)
                if current is None:
                    loaded.get(collection, {}).pop(key, None)
                else:
                    loaded.setdefault(collection, {})[key] = current
            self._seqs, self._floor = newer, seq
        merged = {**self._records, **loaded}
        if merged == self._records:
            return False
        self._swap(merged)
        return True

    def prune(self, now: float | None = None) -> bool:
        """Drop expired records from memory (lookups filter them anyway)."""
        now = time.time() if now is None else now
        live = {c: {k: r for k, r in rs.items() if is_live(r, now)} for c, rs in self._records.items()}
        return self.replace(live)

    def emit(self, event: dict[str, Any]) -> None:
        """Hand a broadcast event to every `on_event` listener."""
        for listener in list(self._event_listeners):
            try:
                listener(event)
            except Exception:
                log.exception("state event listener failed")

    def _swap(self, records: dict[str, dict[str, Record]]) -> None:
        self._records = records

        def ordered(collection: str) -> tuple[Any, ...]:
            return tuple(records[collection][k] for k in sorted(records[collection]))

        self.state = ContainmentState(
            quarantines=ordered(QUARANTINES), deny_overlays=ordered(DENY_OVERLAYS),
            egress_denies=ordered(EGRESS_DENIES), revoked=ordered(REVOKED), rate_limits=ordered(RATE_LIMITS),
            version=self.state.version + 1)
        state = self.state
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:
                log.exception("state change listener failed")
