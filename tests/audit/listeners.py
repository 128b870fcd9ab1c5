"""Real receivers on 127.0.0.1 for the network sinks' tests: an RFC 5424 syslog listener (TCP, or TLS with
a self-signed certificate made here) and a Splunk-HEC-compatible HTTP collector."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import re
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HEC_TOKEN = "hec-token-5f1d2c3b-7a9e"
# RFC 5424: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]
_SYSLOG = re.compile(rb'<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[(?:[^\]"\\]|\\.|"(?:[^"\\]|\\.)*")*\])'
                     rb"(?: (.*))?", re.DOTALL)
_SD_PARAM = re.compile(r' ([^= \]"]+)="((?:[^"\\]|\\.)*)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 (its own trust anchor) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "drawbridge-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass(frozen=True)
class Frame:
    """One parsed RFC 5424 message."""

    pri: int
    timestamp: str
    hostname: str
    app_name: str
    procid: str
    msgid: str
    sd_id: str
    sd: dict[str, str]
    msg: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.msg)
        return parsed


def parse_message(message: bytes) -> Frame:
    match = _SYSLOG.fullmatch(message)
    assert match is not None, f"not RFC 5424: {message[:200]!r}"
    sd_text = match.group(7).decode()
    sd_id = sd_text[1:].split(" ", 1)[0].rstrip("]") if sd_text != "-" else "-"
    sd = {k: re.sub(r"\\(.)", r"\1", v) for k, v in _SD_PARAM.findall(sd_text)}
    return Frame(int(match.group(1)), match.group(2).decode(), match.group(3).decode(), match.group(4).decode(),
                 match.group(5).decode(), match.group(6).decode(), sd_id, sd, match.group(8) or b"")


@dataclass
class SyslogListener:
    """Accepts connections on 127.0.0.1:`port` and parses octet-counted frames (RFC 6587) from each."""

    port: int = 0
    tls: ssl.SSLContext | None = None
    frames: list[Frame] = field(default_factory=list)
    connections: int = 0
    _sock: socket.socket | None = None
    _open: list[socket.socket] = field(default_factory=list)

    def start(self) -> SyslogListener:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen()
        self.port, self._sock = sock.getsockname()[1], sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        for conn in self._open:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._open.clear()

    def events(self) -> list[dict[str, Any]]:
        return [frame.event for frame in list(self.frames)]

    def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            self._open.append(conn)
            buffer = b""
            while chunk := conn.recv(65536):
                buffer += chunk
                while (space := buffer.find(b" ")) > 0 and len(buffer) >= space + 1 + int(buffer[:space]):
                    length = int(buffer[:space])
                    self.frames.append(parse_message(buffer[space + 1:space + 1 + length]))
                    buffer = buffer[space + 1 + length:]
        except (OSError, ValueError):
            pass
        finally:
            conn.close()


@dataclass
class Posted:
    path: str
    authorization: str | None
    body: bytes

    def events(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.body.splitlines() if line.strip()]


class HecListener:
    """An HTTP Event Collector stand-in: records every POST, answers `status` (200 unless set), 403 for a
    wrong token, and 200 on the health endpoint."""

    def __init__(self) -> None:
        self.requests: list[Posted] = []
        self.status = 200
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                auth = self.headers.get("authorization")
                status = 403 if auth != f"Splunk {HEC_TOKEN}" else listener.status
                if status == 200:
                    listener.requests.append(Posted(self.path, auth, body))
                self._answer(status)

            def do_GET(self) -> None:
                self._answer(200 if self.path.startswith("/services/collector/health") else 404)

            def _answer(self, status: int) -> None:
                payload = orjson.dumps({"text": "Success" if status == 200 else "Error", "code": 0})
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [e for r in list(self.requests) for e in r.events()]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
