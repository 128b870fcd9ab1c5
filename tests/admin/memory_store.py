"""A tiny in-memory Store for tests of the admin plane (same protocol as the SQLite / Redis backends)."""

from __future__ import annotations

import dataclasses
from typing import Any

from proxy.state.model import (
    ContainmentState,
    DenyOverlay,
    EgressDeny,
    EventListener,
    Listener,
    Quarantine,
    Store,
    SubjectKind,
)


class MemoryStore:
    """Everything in dicts; `fail` makes every write raise (a store outage)."""

    def __init__(self) -> None:
        self._state = ContainmentState()
        self._listeners: list[Listener] = []
        self._event_listeners: list[EventListener] = []
        self.broadcasts: list[dict[str, Any]] = []
        self.kv: dict[str, dict[str, dict[str, Any]]] = {}
        self.counters: dict[str, int] = {}
        self.fail = False
        self.before_write: list[Any] = []  # callables run before each write (ordering checks)

    @property
    def healthy(self) -> bool:
        return not self.fail

    def state(self) -> ContainmentState:
        return self._state

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def on_event(self, listener: EventListener) -> None:
        self._event_listeners.append(listener)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _write(self, **changes: Any) -> None:
        for check in self.before_write:
            check()
        if self.fail:
            raise ConnectionError("store is down")
        self._state = dataclasses.replace(self._state, version=self._state.version + 1, **changes)
        for listener in self._listeners:
            listener(self._state)

    async def put_quarantine(self, quarantine: Quarantine) -> None:
        rest = tuple(q for q in self._state.quarantines
                     if (q.kind, q.subject) != (quarantine.kind, quarantine.subject))
        self._write(quarantines=(*rest, quarantine))

    async def release(self, kind: SubjectKind, subject: str) -> Quarantine | None:
        found = next((q for q in self._state.quarantines if (q.kind, q.subject) == (kind, subject)), None)
        if found is not None:
            self._write(quarantines=tuple(q for q in self._state.quarantines if q is not found))
        return found

    async def put_deny_overlay(self, overlay: DenyOverlay) -> None:
        self._write(deny_overlays=(*(o for o in self._state.deny_overlays if o.id != overlay.id), overlay))

    async def remove_deny_overlay(self, overlay_id: str) -> bool:
        if not any(o.id == overlay_id for o in self._state.deny_overlays):
            return False
        self._write(deny_overlays=tuple(o for o in self._state.deny_overlays if o.id != overlay_id))
        return True

    async def put_egress_deny(self, deny: EgressDeny) -> None:
        self._write(egress_denies=(*(d for d in self._state.egress_denies if d.id != deny.id), deny))

    async def remove_egress_deny(self, deny_id: str) -> bool:
        if not any(d.id == deny_id for d in self._state.egress_denies):
            return False
        self._write(egress_denies=tuple(d for d in self._state.egress_denies if d.id != deny_id))
        return True

    async def broadcast(self, event: dict[str, Any]) -> None:
        self.broadcasts.append(event)
        for listener in self._event_listeners:
            listener(event)

    async def kv_get(self, namespace: str, key: str) -> dict[str, Any] | None:
        return self.kv.get(namespace, {}).get(key)

    async def kv_put(self, namespace: str, key: str, value: dict[str, Any]) -> None:
        self.kv.setdefault(namespace, {})[key] = value

    async def kv_delete(self, namespace: str, key: str) -> bool:
        return self.kv.get(namespace, {}).pop(key, None) is not None

    async def kv_list(self, namespace: str) -> dict[str, dict[str, Any]]:
        return dict(self.kv.get(namespace, {}))

    async def incr(self, key: str, ttl_seconds: int) -> int:
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]


def _satisfies_protocol() -> Store:  # checked by mypy: MemoryStore is a Store
    return MemoryStore()
