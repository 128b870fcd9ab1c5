"""The sealed `requestState` of an in-band approval: HMAC-SHA256 over what the answer must match.

The state names the approval, the principal, the SHA-256 of the call's canonical arguments and the expiry.
A retry whose state was altered, was sealed with another key, belongs to someone else, carries other
arguments or comes too late is refused; a state used once is refused again because its approval is gone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

import orjson

PREFIX = "drawbridge-approval.v1."
MAX_STATE_CHARS = 4096


class InvalidState(Exception):
    """A state that may not be trusted; the message says why (for the audit event, not the agent)."""


@dataclass(frozen=True, slots=True)
class ApprovalState:
    approval_id: str
    principal: str
    arguments_sha256: str
    expires: float


def is_ours(state: object) -> bool:
    return isinstance(state, str) and state.startswith(PREFIX)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StateSealer:
    """Seals and opens approval states with one key shared by every replica."""

    def __init__(self, key: str | bytes) -> None:
        raw = key.encode() if isinstance(key, str) else key
        if len(raw) < 32:
            raise ValueError("the approval state key needs at least 32 bytes")
        self._key = hashlib.sha256(b"drawbridge approval state\x00" + raw).digest()

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, (PREFIX + payload).encode(), hashlib.sha256).digest())

    def seal(self, state: ApprovalState) -> str:
        payload = _b64(orjson.dumps([state.approval_id, state.principal, state.arguments_sha256, state.expires]))
        return f"{PREFIX}{payload}.{self._mac(payload)}"

    def open(self, token: str, now: float | None = None) -> ApprovalState:
        """The state, if it is intact and unexpired; InvalidState otherwise."""
        if len(token) > MAX_STATE_CHARS or not token.startswith(PREFIX):
            raise InvalidState("not an approval state")
        payload, _, mac = token[len(PREFIX):].rpartition(".")
        if not payload or not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidState("approval state altered or sealed with another key")
        try:
            approval_id, principal, arguments_sha256, expires = orjson.loads(_unb64(payload))
        except (ValueError, TypeError) as exc:
            raise InvalidState("approval state unreadable") from exc
        state = ApprovalState(str(approval_id), str(principal), str(arguments_sha256), float(expires))
        if (time.time() if now is None else now) >= state.expires:
            raise InvalidState("approval state expired")
        return state
