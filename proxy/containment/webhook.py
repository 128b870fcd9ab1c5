"""Signed containment notifications to a responder webhook (SOC, chat, ticketing).

Each delivery is one JSON body (compact, sorted keys) with `X-Drawbridge-Signature: sha256=<hex>`,
the HMAC-SHA256 of the exact body bytes under the shared secret. The body carries `sent_at` equal to
`X-Drawbridge-Timestamp`, so the signature also covers the time: receivers should reject stale ones.
Network errors, 429 and 5xx are retried with exponential backoff; the final failure is audited.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import orjson

from proxy import __version__
from proxy.audit.event import system_event

if TYPE_CHECKING:
    from proxy.admin.config import WebhookConfig

AuditSink = Callable[[dict[str, Any]], None]
SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_HEADER = (
    "X-Drawbridge-Signature", "X-Drawbridge-Timestamp", "X-Drawbridge-Delivery")


def sign(secret: str | bytes, body: bytes) -> str:
    """The signature header value for `body`."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: bytes, header: str) -> bool:
    """Receiver side: constant-time check of a signature header."""
    return hmac.compare_digest(sign(secret, body), header)


class ContainmentNotifier:
    """POSTs containment descriptions to one URL; never raises to the caller."""

    def __init__(self, url: str, secret: str, *, timeout: float = 5, retries: int = 4,
                 audit: AuditSink | None = None, backoff: float = 0.5, max_backoff: float = 30.0) -> None:
        self._url, self._secret = url, secret.encode()
        self.timeout, self.retries, self.backoff, self.max_backoff = timeout, retries, backoff, max_backoff
        self.audit = audit
        self.host = urlsplit(url).hostname or "?"  # the URL itself may embed a secret path: never audited

    @classmethod
    def from_config(cls, config: WebhookConfig, audit: AuditSink | None) -> ContainmentNotifier:
        """Build from `containment.webhook` (resolves the secret; ConfigError if it is missing)."""
        return cls(config.url, config.secret.resolve("containment.webhook.secret"),
                   timeout=config.timeout_seconds, retries=config.retries, audit=audit)

    def __repr__(self) -> str:
        return f"ContainmentNotifier(host={self.host!r}, retries={self.retries})"

    def _body(self, description: dict[str, Any]) -> tuple[bytes, str, str]:
        sent_at, delivery = str(int(time.time())), secrets.token_hex(8)
        payload = {"source": "drawbridge", "drawbridge_version": __version__, **description,
                   "sent_at": sent_at, "delivery_id": delivery}
        return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str), sent_at, delivery

    async def notify(self, description: dict[str, Any]) -> bool:
        """Deliver one description; True on a 2xx, False (and a `containment_webhook_failed` audit) otherwise."""
        body, sent_at, delivery = self._body(description)
        headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(self._secret, body),
                   TIMESTAMP_HEADER: sent_at, DELIVERY_HEADER: delivery, "user-agent": f"drawbridge/{__version__}"}
        attempts, error = 0, ""
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
            for attempt in range(self.retries + 1):
                if attempt:
                    delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                    await asyncio.sleep(delay * (0.75 + random.random() / 2))  # noqa: S311 - jitter only
                attempts += 1
                try:
                    response = await client.post(self._url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}"
                    continue
                if 200 <= response.status_code < 300:
                    return True
                error = f"HTTP {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    break
        if self.audit is not None:
            self.audit(system_event("containment_webhook_failed", webhook_host=self.host, attempts=attempts,
                                    error=error, delivery_id=delivery, action=description.get("action")))
        return False
