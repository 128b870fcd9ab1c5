"""A thin synchronous client of the admin API (what the CLI uses); errors are one line."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from proxy.admin.auth import is_loopback
from proxy.admin.config import ADMIN_TOKEN_ENV

ADMIN_URL_ENV = "DRAWBRIDGE_ADMIN_URL"
DEFAULT_ADMIN_URL = "http://127.0.0.1:8081"


class AdminError(Exception):
    """A refused or failed admin call; `status` is None when the API could not be reached."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


class AdminUsageError(AdminError):
    """The client is not set up right (no token, bad URL): a usage error, exit code 2."""


def resolve_target(url: str | None, token: str | None, token_file: Path | None) -> tuple[str, str]:
    """Admin URL and token from flags, then `DRAWBRIDGE_ADMIN_URL` / `DRAWBRIDGE_ADMIN_TOKEN`."""
    base = (url or os.environ.get(ADMIN_URL_ENV) or DEFAULT_ADMIN_URL).rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AdminUsageError(f"admin URL must be http(s)://HOST:PORT, got {base!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise AdminUsageError(f"refusing to send the admin token over plain http to {parts.hostname}; use https")
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise AdminUsageError(f"cannot read token file {token_file} ({exc.strerror})") from None
    token = token or os.environ.get(ADMIN_TOKEN_ENV, "").strip()
    if not token:
        raise AdminUsageError(f"no admin token: pass --token / --token-file or set {ADMIN_TOKEN_ENV}")
    return base, token


def _message(response: httpx.Response) -> tuple[str, str | None]:
    try:
        error = response.json().get("error", {})
        return str(error.get("message") or response.reason_phrase), error.get("code")
    except (ValueError, AttributeError):
        return response.reason_phrase or "no reason given", None


class AdminClient:
    """JSON calls against one admin API."""

    def __init__(self, url: str, token: str, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self.last: dict[str, Any] | None = None  # the last JSON answer (for --json)
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport, follow_redirects=False,
                                  headers={"authorization": f"Bearer {token}", "accept": "application/json"})

    def __repr__(self) -> str:
        return f"AdminClient({self.url!r})"

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, *, body: dict[str, Any] | None = None,
             params: dict[str, str] | None = None) -> dict[str, Any]:
        """One request; the decoded JSON object, or AdminError with the API's one-line message."""
        try:
            response = self._http.request(method, path, json=body, params=params)
        except httpx.HTTPError as exc:
            raise AdminError(f"cannot reach the admin API at {self.url} ({type(exc).__name__})") from None
        if response.status_code >= 400:
            with contextlib.suppress(ValueError):
                self.last = response.json()
            message, code = _message(response)
            raise AdminError(f"{message} (HTTP {response.status_code})", response.status_code, code)
        try:
            data = response.json()
        except ValueError:
            raise AdminError(f"the admin API answered non-JSON (HTTP {response.status_code})") from None
        if not isinstance(data, dict):
            raise AdminError("the admin API answered an unexpected JSON value")
        self.last = data
        return data

    def get(self, path: str, **params: str | None) -> dict[str, Any]:
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", path, body={k: v for k, v in body.items() if v is not None})

    def delete(self, path: str, entry_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.call("DELETE", f"{path}/{quote(entry_id, safe='')}",
                         body={k: v for k, v in body.items() if v is not None})
