"""Fixtures for the admin plane: an in-memory store, fake live sessions, a recorder, the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from proxy.admin.app import AdminDeps, build_admin_app
from proxy.evidence.recorder import EvidenceRecorder
from proxy.identity.apikeys import hash_api_key

from .memory_store import MemoryStore

TOKEN = "dbk_test-admin-token-0123456789"
TOKEN_HASH = hash_api_key(TOKEN)
AUTH = {"authorization": f"Bearer {TOKEN}"}


class FakeSessions:
    """LiveSessions over a list of rows; `kill` removes them and records the reason."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.kills: list[tuple[str | None, str | None, str]] = []
        self.before_kill: list[Any] = []

    def list(self, principal: str | None) -> list[dict[str, Any]]:
        return [dict(r) for r in self.rows if principal is None or r["principal"] == principal]

    async def kill(self, session_id: str | None, principal: str | None, reason: str) -> int:
        for check in self.before_kill:
            check()
        self.kills.append((session_id, principal, reason))
        gone = [r for r in self.rows if r["session_id"] == session_id or r["principal"] == principal]
        self.rows = [r for r in self.rows if r not in gone]
        return len(gone)


def session_row(session_id: str, principal: str, agent: str | None = None) -> dict[str, Any]:
    return {"session_id": session_id, "principal": principal, "agent": agent, "upstream": "default",
            "started": 1_780_000_000.0, "calls": 3, "bytes_in": 100, "bytes_out": 2000}


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def audit() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def sessions() -> FakeSessions:
    return FakeSessions([session_row("s-1", "alice", "copilot"), session_row("s-2", "alice", "cursor"),
                         session_row("s-3", "bob", "copilot")])


@pytest.fixture
def recorder(tmp_path: Path) -> EvidenceRecorder:
    rec = EvidenceRecorder(tmp_path / "evidence", max_entries_per_session=8)
    rec.record("s-1", "alice", "copilot", {"request": {"method": "tools/call", "params": {"name": "shell.exec"}},
                                           "decision": "allow"})
    rec.record("s-1", "alice", "copilot", {"result": {"content": [{"type": "text", "text": "[REDACTED]"}]},
                                           "decision": "rewrite"})
    rec.record("s-3", "bob", "copilot", {"request": {"method": "tools/list"}, "decision": "allow"})
    return rec


def context() -> dict[str, Any]:
    return {"policy_version": "p-42", "tool_manifests": {"default": [{"name": "shell.exec"}]}, "pins": {}}


@pytest.fixture
def deps(store: MemoryStore, audit: list[dict[str, Any]], sessions: FakeSessions,
         recorder: EvidenceRecorder) -> AdminDeps:
    return AdminDeps(store=store, audit=audit.append, sessions=sessions, evidence=recorder,
                     snapshot_context=context, tokens=frozenset({TOKEN_HASH}),
                     token_labels={TOKEN_HASH: "oncall-alice"})


@pytest.fixture
def app(deps: AdminDeps) -> Starlette:
    return build_admin_app(deps)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://admin",
                                 headers=AUTH) as c:
        yield c
