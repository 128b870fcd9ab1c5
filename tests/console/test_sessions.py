"""Console sessions in the shared store, on both backends: any replica accepts a login made on another,
logout ends it everywhere, and it ends at its expiry or when its admin token is no longer configured."""

from __future__ import annotations

import pytest

from proxy.console.sessions import NAMESPACE, ConsoleSessions
from proxy.identity.apikeys import hash_api_key
from tests.state.conftest import MakeStore

pytestmark = pytest.mark.anyio
DIGEST = hash_api_key("dbk_console-test-token")
OTHER = hash_api_key("dbk_other-token")
LABELS = {DIGEST: "oncall-bob"}


async def test_a_login_on_one_replica_is_accepted_by_another_and_logout_ends_it_on_both(
        make_store: MakeStore) -> None:
    replica_a = ConsoleSessions(await make_store(), {DIGEST}, LABELS)
    replica_b = ConsoleSessions(await make_store(), {DIGEST}, LABELS)
    new = await replica_a.create(DIGEST)
    found = await replica_b.find(new.cookie)
    assert found is not None and found.actor == "oncall-bob" and found.token_sha256 == DIGEST
    assert found.csrf_matches(new.csrf, new.csrf)
    assert await replica_b.end(new.cookie)
    assert await replica_a.find(new.cookie) is None


async def test_the_store_holds_digests_never_the_cookie_or_csrf_token(make_store: MakeStore) -> None:
    store = await make_store()
    new = await ConsoleSessions(store, {DIGEST}, LABELS).create(DIGEST)
    records = await store.rec_list(NAMESPACE)
    assert len(records) == 1 and new.cookie not in str(records) and new.csrf not in str(records)
    assert new.cookie not in records


async def test_a_session_ends_at_its_expiry(make_store: MakeStore) -> None:
    sessions = ConsoleSessions(await make_store(), {DIGEST}, LABELS, lifetime_seconds=-1)
    new = await sessions.create(DIGEST)
    assert await sessions.find(new.cookie) is None


async def test_a_session_ends_when_its_token_is_no_longer_configured(make_store: MakeStore) -> None:
    store = await make_store()
    new = await ConsoleSessions(store, {DIGEST}, LABELS).create(DIGEST)
    assert await ConsoleSessions(store, {OTHER}, {}).find(new.cookie) is None


@pytest.mark.parametrize("cookie", [None, "", "unknown", "x" * 10_000])
async def test_unknown_cookies_find_nothing(make_store: MakeStore, cookie: str | None) -> None:
    sessions = ConsoleSessions(await make_store(), {DIGEST}, LABELS)
    assert await sessions.find(cookie) is None and not await sessions.end(cookie)


async def test_csrf_needs_the_header_the_cookie_and_this_sessions_token(make_store: MakeStore) -> None:
    sessions = ConsoleSessions(await make_store(), {DIGEST}, LABELS)
    new, other = await sessions.create(DIGEST), await sessions.create(DIGEST)
    session = new.session
    assert session.csrf_matches(new.csrf, new.csrf)
    assert not session.csrf_matches(None, new.csrf) and not session.csrf_matches(new.csrf, None)
    assert not session.csrf_matches(new.csrf, other.csrf) and not session.csrf_matches(other.csrf, other.csrf)
