"""Syslog transport: RFC 5424 messages over TCP with octet-counting framing (RFC 6587), TLS optional
(RFC 5425). One frame per event: `LEN SP <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] JSON`.

PRI is facility * 8 + a severity from the event's `severity` (SEV-1 critical, SEV-2 error, SEV-3
warning, SEV-4 notice, otherwise informational). MSGID is the event type; the structured data element
repeats `event_id`, `seq`, `severity` and `verdict`; MSG is the event's JSON. "Delivered" means written
to the connection: plain syslog has no acknowledgements.
"""

from __future__ import annotations

import os
import re
import select
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import orjson

SEVERITY = {"SEV-1": 2, "SEV-2": 3, "SEV-3": 4, "SEV-4": 5}
OCSF_SEVERITY = {1: 6, 2: 5, 3: 4, 4: 3, 5: 2, 6: 1}  # severity_id: informational … fatal
INFORMATIONAL = 6
NIL = b"-"
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)")
_SD_PARAMS = ("event_id", "seq", "severity", "verdict")
_SD_ESCAPE = re.compile(r'(["\\\]])')


def _token(value: Any, limit: int) -> bytes:
    """A header field: printable US-ASCII without spaces, at most `limit` characters, else NILVALUE."""
    if not isinstance(value, str):
        return NIL
    kept = "".join(c for c in value if "!" <= c <= "~")[:limit]
    return kept.encode("ascii") if kept else NIL


def _param_value(value: Any) -> str:
    return _SD_ESCAPE.sub(r"\\\1", str(value))  # '"', '\\' and ']' are escaped with a backslash


def _structured_data(sd_id: str, event: dict[str, Any]) -> bytes:
    params = "".join(f' {name}="{_param_value(event[name])}"' for name in _SD_PARAMS if event.get(name) is not None)
    return f"[{sd_id}{params}]".encode()


def _timestamp(event: dict[str, Any]) -> bytes:
    """The event's own time: native `timestamp`, or OCSF `time` (epoch milliseconds)."""
    stamp = event.get("timestamp")
    if isinstance(stamp, str) and _TIMESTAMP.fullmatch(stamp):
        return stamp.encode()
    millis = event.get("time")
    if isinstance(millis, int) and millis >= 0:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)).encode() + b".%03dZ" % (millis % 1000)
    return NIL


def frame(line: bytes, *, facility: int, app_name: str, sd_id: str, procid: int) -> bytes:
    """One octet-counted RFC 5424 frame for one audit line."""
    parsed = orjson.loads(line)
    event: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
    ocsf_id = event.get("severity_id")
    severity = SEVERITY.get(str(event.get("severity")),
                            OCSF_SEVERITY.get(ocsf_id, INFORMATIONAL) if isinstance(ocsf_id, int) else INFORMATIONAL)
    original = event.get("unmapped")  # OCSF keeps the native event there
    unmapped: dict[str, Any] = original if isinstance(original, dict) else {}
    message = b"<%d>1 %s %s %s %d %s %s %s" % (
        facility * 8 + severity, _timestamp(event), _token(event.get("host") or unmapped.get("host"), 255),
        _token(app_name, 48), procid, _token(event.get("event_type") or unmapped.get("event_type"), 32),
        _structured_data(sd_id, event), line.rstrip(b"\n"))
    return b"%d %s" % (len(message), message)


class SyslogTransport:
    """One TCP (or TLS) connection, made on start and again after a failure."""

    probe_on_start = True

    def __init__(self, host: str, port: int, *, tls: bool = False, ca_file: Path | None = None,
                 server_name: str | None = None, facility: int = 13, app_name: str = "drawbridge",
                 sd_id: str = "drawbridge@32473", timeout: float = 5.0) -> None:
        self._address, self._timeout = (host, port), timeout
        self._context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None) if tls else None
        self._server_name = server_name or host
        self._facility, self._app_name, self._sd_id, self._procid = facility, app_name, sd_id, os.getpid()
        self._sock: socket.socket | None = None

    def probe(self) -> None:
        self._connected()

    def send(self, lines: list[bytes]) -> None:
        data = b"".join(frame(line, facility=self._facility, app_name=self._app_name, sd_id=self._sd_id,
                              procid=self._procid) for line in lines)
        sock = self._connected()
        try:
            sock.sendall(data)
        except OSError:
            self._drop()
            raise

    def close(self) -> None:
        """Close after the receiver has read everything sent (bounded by the timeout)."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        try:
            sock.settimeout(min(self._timeout, 1.0))
            if isinstance(sock, ssl.SSLSocket):
                sock = sock.unwrap()  # close_notify, then the plain socket
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(4096):  # until the receiver closes its side
                pass
        except (OSError, ValueError):
            pass
        finally:
            sock.close()

    def _connected(self) -> socket.socket:
        if self._sock is not None and _closed_by_peer(self._sock, self._timeout):
            self._drop()
        if self._sock is None:
            sock = socket.create_connection(self._address, timeout=self._timeout)
            if self._context is not None:
                try:
                    sock = self._context.wrap_socket(sock, server_hostname=self._server_name)
                except OSError:
                    sock.close()
                    raise
            self._sock = sock
        return self._sock

    def _drop(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


def _closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    """A syslog receiver never writes: a readable connection has been closed (or only holds TLS
    housekeeping such as session tickets, which this read consumes)."""
    if not select.select([sock], [], [], 0)[0]:
        return False
    sock.setblocking(False)
    try:
        return sock.recv(4096) == b""
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
        return False
    except OSError:
        return True
    finally:
        sock.settimeout(timeout)
