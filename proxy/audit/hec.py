"""Splunk HTTP Event Collector transport: a batch is one POST to `/services/collector/event` carrying one
`{"time", "host", "source", "sourcetype", "event"}` object per event, with `Authorization: Splunk <token>`.

A refused credential (401, 403), throttling (429), a server error (5xx) or no connection marks the sink
down and the batch is retried; any other refusal (400: malformed, 413: too large) loses the batch
(counted). The token is only ever in the request header.
"""

from __future__ import annotations

import socket
import ssl
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from proxy.audit.delivery import DeliveryError

RETRYABLE = frozenset({401, 403, 408, 429})


def _epoch(event: dict[str, Any]) -> float:
    """The event's own time (native `timestamp`, or OCSF `time` in milliseconds); now when it has none."""
    stamp = event.get("timestamp")
    if isinstance(stamp, str):
        try:
            return round(datetime.fromisoformat(stamp).timestamp(), 3)
        except ValueError:
            pass
    millis = event.get("time")
    return millis / 1000 if isinstance(millis, int) else round(time.time(), 3)


class HecTransport:
    """Posts batches with one HTTP client (keep-alive) from the sink's delivery thread."""

    probe_on_start = False

    def __init__(self, url: str, token: str, *, source: str = "drawbridge", sourcetype: str = "drawbridge:audit",
                 index: str | None = None, ca_file: Path | None = None, timeout: float = 5.0) -> None:
        base = url.rstrip("/")
        self._endpoint, self._health = f"{base}/services/collector/event", f"{base}/services/collector/health"
        self._fields: dict[str, Any] = {"source": source, "sourcetype": sourcetype}
        if index is not None:
            self._fields["index"] = index
        self._host = socket.gethostname()
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        self._client = httpx.Client(timeout=timeout, verify=verify, trust_env=False,
                                    headers={"authorization": f"Splunk {token}"})

    def __repr__(self) -> str:
        return f"HecTransport({self._endpoint!r})"

    def envelope(self, line: bytes) -> bytes:
        event = orjson.loads(line)
        host = event.get("host") if isinstance(event, dict) else None
        wrapped = {"time": _epoch(event) if isinstance(event, dict) else round(time.time(), 3),
                   "host": host if isinstance(host, str) else self._host, **self._fields, "event": event}
        return orjson.dumps(wrapped, option=orjson.OPT_APPEND_NEWLINE)

    def send(self, lines: list[bytes]) -> None:
        body = b"".join(self.envelope(line) for line in lines)
        self._check(self._post(body))

    def probe(self) -> None:
        try:
            answer = self._client.get(self._health)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"HEC unreachable ({type(exc).__name__})") from None
        self._check(answer)

    def close(self) -> None:
        self._client.close()

    def _post(self, body: bytes) -> httpx.Response:
        try:
            return self._client.post(self._endpoint, content=body, headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            raise DeliveryError(f"HEC unreachable ({type(exc).__name__})") from None

    @staticmethod
    def _check(answer: httpx.Response) -> None:
        status = answer.status_code
        if status < 300:
            return
        raise DeliveryError(f"HEC answered HTTP {status}", retryable=status in RETRYABLE or status >= 500)
