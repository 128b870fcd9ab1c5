"""Fixtures for the admin plane: the real containment stack on an in-memory SQLite store.

The store, the session directory, the evidence recorder and collector, the revocation agent and the
containment service are the production classes; only the data plane is absent, so ending a session
records which binding was taken instead of sending a DELETE upstream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from proxy.admin.app import AdminDeps, build_admin_app
from proxy.containment.revocation import RevocationAgent
from proxy.containment.service import ContainmentService
from proxy.evidence.collect import EvidenceCollector
from proxy.evidence.recorder import EvidenceRecorder
from proxy.identity.apikeys import hash_api_key
from proxy.replicas import ReplicaRegistry
from proxy.sessions import SessionDirectory, SessionEnding, SessionInfo
from proxy.state.sqlite import SQLiteStore
from proxy.types import Era
from tests.support.audit_schema import assert_events_fit

TOKEN = "dbk_test-admin-token-0123456789"
TOKEN_HASH = hash_api_key(TOKEN)
AUTH = {"authorization": f"Bearer {TOKEN}"}
SESSIONS = (("s-1", "alice", "copilot"), ("s-2", "alice", "cursor"), ("s-3", "bob", "copilot"))


@pytest.fixture
def store() -> Iterator[SQLiteStore]:
    """A started in-memory store (no poller: every write goes through this instance)."""
    store = SQLiteStore(":memory:", poll_interval=0)
    asyncio.run(store.start())
    yield store
    asyncio.run(store.close())


@pytest.fixture
def audit() -> Iterator[list[dict[str, Any]]]:
    """The events the admin plane audits; each must fit its published schema."""
    events: list[dict[str, Any]] = []
    yield events
    assert_events_fit(events, "admin audit")


@pytest.fixture
def broadcasts(store: SQLiteStore) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    store.on_event(seen.append)
    return seen


@pytest.fixture
def sessions(store: SQLiteStore) -> SessionDirectory:
    """Three conversations bound in the store, as the data plane binds them."""
    directory = SessionDirectory(store, 3600)

    async def seed() -> None:
        for session_id, principal, agent in SESSIONS:
            await directory.bind("default", session_id, principal, agent, Era.HANDSHAKE, None, "127.0.0.1:5000")
            directory.count("default", session_id, calls=3, bytes_in=100, bytes_out=2000)
        await directory.flush()

    asyncio.run(seed())
    return directory


@pytest.fixture
def ended(sessions: SessionDirectory) -> list[SessionInfo]:
    return []


@pytest.fixture
def ender(sessions: SessionDirectory, ended: list[SessionInfo]) -> SessionEnding:
    return SessionEnding(sessions, ended.append)


@pytest.fixture
def recorder(tmp_path: Path) -> EvidenceRecorder:
    rec = EvidenceRecorder(tmp_path / "evidence", max_entries_per_session=8)
    rec.record("s-1", "alice", "copilot", {"request": {"method": "tools/call", "params": {"name": "shell.exec"}},
                                           "decision": "allow"})
    rec.record("s-1", "alice", "copilot", {"result": {"content": [{"type": "text", "text": "[REDACTED]"}]},
                                           "decision": "rewrite"})
    rec.record("s-3", "bob", "copilot", {"request": {"method": "tools/list"}, "decision": "allow"})
    return rec


async def context() -> dict[str, Any]:
    return {"policy_version": "p-42", "tool_manifests": {"default": ["shell.exec"]}, "pins": {}}


@pytest.fixture
def containment(store: SQLiteStore, recorder: EvidenceRecorder, audit: list[dict[str, Any]],
                ender: SessionEnding) -> ContainmentService:
    collector = EvidenceCollector(recorder, store, ReplicaRegistry(store, "replica-under-test"), context)
    service = ContainmentService(store, collector, audit.append, RevocationAgent(store, audit.append))
    service.sessions = ender
    return service


@pytest.fixture
def deps(store: SQLiteStore, audit: list[dict[str, Any]], sessions: SessionDirectory,
         recorder: EvidenceRecorder, containment: ContainmentService) -> AdminDeps:
    return AdminDeps(store=store, audit=audit.append, sessions=sessions, evidence=recorder, containment=containment,
                     tokens=frozenset({TOKEN_HASH}), token_labels={TOKEN_HASH: "oncall-alice"})


@pytest.fixture
def app(deps: AdminDeps) -> Starlette:
    return build_admin_app(deps)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://admin",
                                 headers=AUTH) as c:
        yield c
