"""The signed webhook against real loopback receivers."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import orjson
import pytest

from proxy.containment.webhook import ContainmentNotifier, sign, verify_signature

from ..admin.servers import free_port, serve_in_thread
from .receivers import Received, webhook_app

pytestmark = pytest.mark.anyio
SECRET = "whsec-0123456789"


async def test_delivery_is_signed_over_the_exact_body() -> None:
    received, audit = Received(), list[dict[str, Any]]()
    with serve_in_thread(webhook_app(SECRET, received)) as url:
        notifier = ContainmentNotifier(f"{url}/hooks/T0/B0/secretpath", SECRET, audit=audit.append)
        assert await notifier.notify({"action": "quarantine", "subject": "alice", "ticket": "IR-1"})
    [req] = received.requests
    body, headers = req["body"], req["headers"]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert req["valid"] and headers["x-drawbridge-signature"] == expected
    payload = orjson.loads(body)
    assert payload["action"] == "quarantine" and payload["source"] == "drawbridge"
    assert payload["sent_at"] == headers["x-drawbridge-timestamp"]
    assert abs(int(headers["x-drawbridge-timestamp"]) - time.time()) < 10
    assert payload["delivery_id"] == headers["x-drawbridge-delivery"]
    assert headers["content-type"] == "application/json" and audit == []
    assert not verify_signature("other-secret", body, headers["x-drawbridge-signature"])


async def test_5xx_is_retried_with_backoff_then_audited() -> None:
    received, audit = Received(statuses=[500, 502, 503, 504, 500, 500]), list[dict[str, Any]]()
    with serve_in_thread(webhook_app(SECRET, received)) as url:
        notifier = ContainmentNotifier(f"{url}/hooks/x", SECRET, retries=4, audit=audit.append, backoff=0.05)
        started = time.monotonic()
        assert not await notifier.notify({"action": "release"})
        elapsed = time.monotonic() - started
    assert len(received.requests) == 5  # 1 + 4 retries
    assert elapsed >= 0.05 * (1 + 2 + 4 + 8) * 0.75  # exponential backoff between attempts
    assert len({r["headers"]["x-drawbridge-delivery"] for r in received.requests}) == 1
    [event] = audit
    assert event["event_type"] == "containment_webhook_failed" and event["attempts"] == 5
    assert event["error"] == "HTTP 500" and event["webhook_host"] == "127.0.0.1" and event["action"] == "release"
    assert "/hooks/x" not in json.dumps(event) and SECRET not in json.dumps(event)


async def test_recovers_after_transient_failure() -> None:
    received, audit = Received(statuses=[503, 429]), list[dict[str, Any]]()
    with serve_in_thread(webhook_app(SECRET, received)) as url:
        notifier = ContainmentNotifier(f"{url}/hooks/x", SECRET, audit=audit.append, backoff=0.01)
        assert await notifier.notify({"action": "quarantine"})
    assert len(received.requests) == 3 and audit == []


async def test_4xx_is_not_retried() -> None:
    received, audit = Received(statuses=[401]), list[dict[str, Any]]()
    with serve_in_thread(webhook_app(SECRET, received)) as url:
        notifier = ContainmentNotifier(f"{url}/hooks/x", SECRET, audit=audit.append, backoff=0.01)
        assert not await notifier.notify({"action": "quarantine"})
    assert len(received.requests) == 1 and audit[0]["error"] == "HTTP 401"


async def test_network_errors_are_retried_and_audited() -> None:
    audit: list[dict[str, Any]] = []
    notifier = ContainmentNotifier(f"http://127.0.0.1:{free_port()}/hook", SECRET, retries=2, audit=audit.append,
                                   backoff=0.01)
    assert not await notifier.notify({"action": "quarantine"})
    assert audit[0]["attempts"] == 3 and audit[0]["error"] == "ConnectError"
    assert SECRET not in repr(notifier) and "hook" not in repr(notifier)


def test_sign_is_hmac_sha256_hex() -> None:
    assert sign(b"k", b"body") == "sha256=" + hmac.new(b"k", b"body", hashlib.sha256).hexdigest()
