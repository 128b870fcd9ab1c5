"""Fixtures for the outbound TLS and proxy tests: a private CA, its certificates, HTTPS MCP servers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.drawbridge import run_module_server
from tests.support.pki import Issued, PrivateCA

# no proxy from the environment the tests run in: each test sets the proxy variables it means to test
NO_PROXY_ENV = {name: "" for base in ("http", "https", "all", "no") for name in (f"{base}_proxy",
                                                                                  f"{base.upper()}_PROXY")}
PROXY_VARIABLES = tuple(NO_PROXY_ENV)


@dataclass(frozen=True)
class Pki:
    """The corp CA (trusted), a rogue CA (not), and what they issued."""

    ca: PrivateCA
    rogue: PrivateCA
    server: Issued  # corp: 127.0.0.1, localhost and mcp.internal
    client: Issued  # corp: the proxy's client certificate
    rogue_client: Issued
    rogue_server: Issued  # rogue: 127.0.0.1 and localhost


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory: Path = tmp_path_factory.mktemp("pki")
    ca, rogue = PrivateCA(directory, "corp"), PrivateCA(directory, "rogue")
    return Pki(ca, rogue,
               ca.issue("upstream", dns=["localhost", "mcp.internal"], ips=["127.0.0.1"]),
               ca.issue("drawbridge", client=True),
               rogue.issue("intruder", client=True),
               rogue.issue("impostor", dns=["localhost"], ips=["127.0.0.1"]))


@contextlib.contextmanager
def https_demo_server(server: Issued, client_ca: Path | None = None) -> Iterator[str]:
    """The demo MCP server over HTTPS (requiring a client certificate from `client_ca` when given): its URL."""
    args = ["--cert", str(server.cert), "--key", str(server.key)]
    if client_ca is not None:
        args += ["--client-ca", str(client_ca)]
    with run_module_server("tests.support.servers.tls_server", *args) as url:
        yield url.replace("http://", "https://", 1)


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """This process's environment without any proxy variable (the test sets its own)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch
