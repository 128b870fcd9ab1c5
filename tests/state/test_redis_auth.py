"""A Redis that requires a password (and TLS): the store takes its credentials from secrets, not the URL.

Real redis-server processes with `requirepass`, an ACL user and a TLS port; the password comes from an
environment variable or a file as the `redis:` config section names it, and never shows in an error.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy.admin.config import SecretRef
from proxy.config import load_config
from proxy.config_check import check_config
from proxy.errors import ConfigError
from proxy.state.codec import StoreUnavailable
from proxy.state.factory import open_store
from proxy.state.model import Quarantine, Store
from proxy.state.redis_config import RedisConfig, RedisTLS
from tests.audit.listeners import self_signed
from tests.conftest import require_redis
from tests.state.conftest import eventually
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.anyio
PASSWORD = "s3cret-" + uuid.uuid4().hex
ENV = "DRAWBRIDGE_TEST_REDIS_PASSWORD"
# The least a Drawbridge user needs (the README proposes it for a shared Redis): its prefix, its channel.
ACL_RULES = "resetkeys ~drawbridge:* resetchannels &drawbridge:* -@all +@read +@write +@scripting +@pubsub " \
            "+@transaction +@connection -@dangerous +time"


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server with requirepass, and an ACL user `proxy` limited to what the store needs (ACL_RULES)."""
    require_redis()
    server = RedisServer(_mkdir(tmp_path / "redis"), password=PASSWORD)
    server.start()
    with server.client() as admin:
        admin.execute_command("ACL", "SETUSER", "proxy", "on", f">{PASSWORD}-proxy", *ACL_RULES.split())
    try:
        yield server
    finally:
        server.stop()


async def opened(stores: list[Store], url: str, redis: RedisConfig | None = None) -> Store:
    store = open_store(url, redis=redis, resync_interval=0.5)  # each test has its own server
    stores.append(store)
    await store.start()
    return store


def quarantine(subject: str = "alice") -> Quarantine:
    return Quarantine(kind="principal", subject=subject, mode="block", reason="IR", actor="me", created=1.0)


async def check_contract_subset(a: Store, b: Store) -> None:
    """Containment records, a token bucket, expiring records, key/values, counters and broadcasts, with a second
    replica on the same Redis."""
    await a.put_quarantine(quarantine())
    assert a.state().quarantine_for("alice", None, None) == quarantine()
    await eventually(lambda: b.state().quarantine_for("alice", None, None) is not None, 5, "pub/sub to b")
    assert await b.take_token("rl-1", 10.0, 1) == 0.0
    assert await a.take_token("rl-1", 10.0, 1) > 9  # one bucket for both replicas
    await a.rec_put("sessions", "s-1", {"principal": "alice", "calls": 0}, 60)
    assert await b.rec_update("sessions", "s-1", 60, add={"calls": 2})
    assert await b.rec_list("sessions") == {"s-1": {"principal": "alice", "calls": 2}}
    assert await a.rec_take("sessions", "s-1") == {"principal": "alice", "calls": 2}
    assert await b.rec_get("sessions", "s-1") is None
    assert await b.release("principal", "alice") == quarantine()
    await a.kv_put("pins", "up", {"sha256": "ab"})
    assert await b.kv_list("pins") == {"up": {"sha256": "ab"}}
    assert [await a.incr("rl:alice", 60), await b.incr("rl:alice", 60)] == [1, 2]
    seen: list[dict[str, Any]] = []
    b.on_event(seen.append)
    await a.broadcast({"type": "kill-session", "session": "s-1"})
    await eventually(lambda: bool(seen), 5, "broadcast to b")


@pytest.mark.parametrize("source", ["env", "file"])
async def test_the_password_from_an_env_var_or_a_file_opens_the_store(
        source: str, secured: RedisServer, stores: list[Store], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if source == "env":
        monkeypatch.setenv(ENV, PASSWORD)
        secret = SecretRef(env=ENV)
    else:
        (tmp_path / "redis-password").write_text(PASSWORD + "\n")  # as a mounted Secret file, newline and all
        secret = SecretRef(file=tmp_path / "redis-password")
    settings = RedisConfig(password=secret)
    a = await opened(stores, secured.url, settings)
    b = await opened(stores, secured.url, settings)
    assert a.healthy and b.healthy
    await check_contract_subset(a, b)


async def test_an_acl_user_and_a_password_in_the_url_work_too(secured: RedisServer, stores: list[Store],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, PASSWORD + "-proxy")
    as_user = await opened(stores, secured.url, RedisConfig(username="proxy", password=SecretRef(env=ENV)))
    in_url = await opened(stores, secured.url.replace("redis://", f"redis://:{PASSWORD}@"))
    assert as_user.healthy and in_url.healthy
    await check_contract_subset(as_user, in_url)


@pytest.mark.parametrize("given", ["wrong", "none"])
async def test_a_wrong_or_missing_password_fails_closed_without_showing_it(
        given: str, secured: RedisServer, stores: list[Store], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    wrong = "not-the-" + PASSWORD
    monkeypatch.setenv(ENV, wrong)
    caplog.set_level(logging.DEBUG, logger="proxy.state")
    started = time.monotonic()
    store = await opened(stores, secured.url, RedisConfig(password=SecretRef(env=ENV)) if given == "wrong" else None)
    assert time.monotonic() - started < 4.0
    assert not store.healthy
    with pytest.raises(StoreUnavailable) as refused:
        await store.put_quarantine(quarantine())
    assert "Redis refused the credentials" in str(refused.value)
    shown = str(refused.value) + caplog.text
    assert "refused the credentials" in caplog.text
    assert wrong not in shown and PASSWORD not in shown


async def test_secrets_that_cannot_be_read_stop_start_up_with_one_line(secured: RedisServer, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "big").write_text("x" * 5000)
    cases = {
        f"redis.password: environment variable {ENV} is not set or empty": SecretRef(env=ENV),
        f"redis.password: {tmp_path / 'empty'} is not set or empty": SecretRef(file=tmp_path / "empty"),
        f"redis.password: cannot read {tmp_path / 'absent'}": SecretRef(file=tmp_path / "absent"),
        "redis.password: longer than 4096 characters": SecretRef(file=tmp_path / "big"),
    }
    for expected, secret in cases.items():
        with pytest.raises(ConfigError) as refused:
            open_store(secured.url, redis=RedisConfig(password=secret))
        assert str(refused.value).startswith(expected) and "\n" not in str(refused.value)
    with pytest.raises(ConfigError, match="give it in one place") as both:
        open_store(secured.url.replace("redis://", f"redis://:{PASSWORD}@"), redis=RedisConfig(
            password=SecretRef(env=ENV)))
    assert PASSWORD not in str(both.value)


def test_the_redis_section_is_checked_at_load_and_by_config_check(tmp_path: Path) -> None:
    def config(redis: dict[str, Any], store: str = "redis://127.0.0.1:6379/0") -> Path:
        path = tmp_path / "drawbridge.yaml"
        path.write_text(yaml.safe_dump({"store": store, "redis": redis}))
        return path

    with pytest.raises(ConfigError, match="sentinel node must be HOST:PORT, got 'sentinel-0'"):
        load_config(config({"sentinel": {"master": "mymaster", "nodes": ["sentinel-0"]}}))
    with pytest.raises(ConfigError, match="give cert_file and key_file together"):
        load_config(config({"tls": {"cert_file": "client.pem"}}))
    with pytest.raises(ConfigError, match="give exactly one of env, file"):
        load_config(config({"password": {"env": "A", "file": "/run/secrets/b"}}))
    with pytest.raises(ConfigError, match="passwrod"):  # a typo is named
        load_config(config({"passwrod": {"env": "REDIS_PASSWORD"}}))

    report = check_config(config({"tls": {"ca_file": str(tmp_path / "missing-ca.pem")},
                                  "password": {"env": "SURELY_UNSET_REDIS_PASSWORD"}}))
    assert any("redis.tls.ca_file" in p and "missing-ca.pem" in p for p in report.problems), report.problems
    assert any("SURELY_UNSET_REDIS_PASSWORD" in w for w in report.warnings), report.warnings  # set where it runs
    report = check_config(config({"sentinel": {"master": "mymaster", "nodes": ["10.0.0.1:26379"]}}))
    assert any("redis://mymaster/0" in p for p in report.problems), report.problems  # the URL names the master
    report = check_config(config({"password": {"env": "REDIS_PASSWORD"}}, store="sqlite:state.db"))
    assert any("redis: is configured but the store is 'sqlite:state.db'" in p for p in report.problems)


async def test_tls_with_a_ca_file_and_a_password(tmp_path: Path, stores: list[Store],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    require_redis()
    cert, key = self_signed(_mkdir(tmp_path / "tls"))
    server = RedisServer(_mkdir(tmp_path / "redis"), password=PASSWORD, tls=(cert, key))
    try:
        server.start()
    except RuntimeError as exc:  # a redis-server built without TLS
        if "TLS" not in str(exc) and "tls" not in str(exc):
            raise
        pytest.skip(f"this redis-server has no TLS support: {str(exc)[:200]}")
    try:
        monkeypatch.setenv(ENV, PASSWORD)
        settings = RedisConfig(password=SecretRef(env=ENV), tls=RedisTLS(ca_file=cert))
        assert server.url.startswith("rediss://")
        a = await opened(stores, server.url, settings)
        b = await opened(stores, server.url.replace("rediss://", "redis://"), settings)  # the tls section suffices
        assert a.healthy and b.healthy
        await check_contract_subset(a, b)

        untrusted = await opened(stores, server.url, RedisConfig(password=SecretRef(env=ENV)))  # system CAs only
        assert not untrusted.healthy  # fails closed: a certificate nobody vouches for is refused
        with pytest.raises(StoreUnavailable, match="certificate verify failed"):
            await untrusted.kv_get("pins", "x")
        with pytest.raises(ConfigError, match=r"redis\.tls\.ca_file: .*missing\.pem"):
            open_store(server.url, redis=RedisConfig(tls=RedisTLS(ca_file=tmp_path / "missing.pem")))
    finally:
        server.stop()


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
