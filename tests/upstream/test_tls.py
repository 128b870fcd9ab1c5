"""Issue 14, "outbound like an enterprise": TLS towards https:// upstreams with a private CA bundle, a client
certificate (mTLS) and a server-name override. Real `drawbridge serve` processes in front of the demo MCP
server over HTTPS (uvicorn, certificates from a private CA made here), the official SDK client."""

from __future__ import annotations

import logging
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from proxy.admin.config import SecretRef
from proxy.config import UpstreamConfig
from proxy.errors import ConfigError
from proxy.upstream import UpstreamPool, UpstreamUnavailable
from proxy.upstream.settings import UpstreamTLS
from proxy.upstream.tls import client_context
from proxy.yamlfile import validate_model
from tests.support.drawbridge import Drawbridge, free_port, run_drawbridge
from tests.support.pki import PrivateCA
from tests.support.sdk import weather as sdk_weather
from tests.support.waiting import eventually
from tests.upstream.conftest import NO_PROXY_ENV, Pki, https_demo_server

UNAVAILABLE = -32060
ACCEPT = {"accept": "application/json, text/event-stream"}
PING = {"jsonrpc": "2.0", "id": 7, "method": "ping"}
CLOSED = ("upstream closed the TLS connection right after the handshake (it may require a client certificate, or "
          "refuse this one)")


def weather(proxy: Drawbridge, upstream: str) -> str:
    return sdk_weather(proxy.mcp_url(upstream))


def refused(proxy: Drawbridge, upstream: str) -> None:
    """A call to `upstream` gets the upstream-unavailable JSON-RPC error, audited as the proxy's answer."""
    answer = httpx.post(proxy.mcp_url(upstream), json=PING, headers=ACCEPT, timeout=10)
    assert answer.status_code == 502 and answer.json()["error"]["code"] == UNAVAILABLE, answer.text
    failed = [e for e in proxy.events() if e["upstream"] == upstream and e["error_code"] == UNAVAILABLE]
    assert len(failed) == 1 and failed[0]["origin"] == "proxy"


@pytest.fixture(scope="module")
def guarded(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drawbridge]:
    """One Drawbridge in front of an HTTPS server and an mTLS one, through upstreams with various TLS settings."""
    corp = str(pki.ca.cert)
    mine = {"cert_file": str(pki.client.cert), "key_file": str(pki.client.key)}
    with https_demo_server(pki.server) as plain, https_demo_server(pki.server, pki.ca.cert) as mutual:
        upstreams: list[dict[str, Any]] = [
            {"name": "trusted", "url": plain, "tls": {"ca_file": corp}},
            {"name": "untrusted", "url": plain},  # the system's CAs: the private CA is not among them
            {"name": "renamed", "url": plain, "tls": {"ca_file": corp, "server_name": "mcp.internal"}},
            {"name": "misnamed", "url": plain, "tls": {"ca_file": corp, "server_name": "billing.internal"}},
            {"name": "mutual", "url": mutual, "tls": {"ca_file": corp, **mine}},
            {"name": "anonymous", "url": mutual, "tls": {"ca_file": corp}},
            {"name": "intruder", "url": mutual, "tls": {"ca_file": corp, "cert_file": str(pki.rogue_client.cert),
                                                        "key_file": str(pki.rogue_client.key)}},
        ]
        tmp = tmp_path_factory.mktemp("tls")
        with run_drawbridge(tmp, {}, extra={"upstreams": upstreams, "log_level": "info"}, env=NO_PROXY_ENV) as proxy:
            yield proxy


@pytest.mark.e2e
def test_calls_reach_an_https_upstream_trusted_through_its_ca_file_and_server_name(guarded: Drawbridge) -> None:
    assert "Oslo" in weather(guarded, "trusted")
    assert "Oslo" in weather(guarded, "renamed")  # the certificate names mcp.internal too: SNI and check use it
    ready = httpx.get(f"{guarded.url}/readyz", timeout=5).json()["upstreams"]
    assert ready["trusted"] == {"ready": True, "detail": "reachable"}  # the probe uses the upstream's CA too
    assert ready["untrusted"]["ready"] is False
    assert ready["untrusted"]["detail"] == ("TLS handshake failed (certificate verify failed: unable to get local "
                                            "issuer certificate)")
    assert ready["misnamed"]["detail"] == ("TLS handshake failed (certificate verify failed: Hostname mismatch, "
                                           "certificate is not valid for 'billing.internal'.)")


@pytest.mark.e2e
@pytest.mark.parametrize(("upstream", "why"), [
    ("untrusted", "certificate verify failed: unable to get local issuer certificate"),
    ("misnamed", "certificate verify failed: Hostname mismatch, certificate is not valid for 'billing.internal'."),
])
def test_an_upstream_certificate_the_ca_or_name_does_not_vouch_for_fails_closed(
        guarded: Drawbridge, upstream: str, why: str) -> None:
    refused(guarded, upstream)
    assert f"upstream {upstream} unavailable: cannot connect to upstream: TLS handshake failed ({why})" in guarded.log()


@pytest.mark.e2e
def test_mtls_upstream_accepts_the_client_certificate_and_refuses_calls_without_one(guarded: Drawbridge) -> None:
    assert "Oslo" in weather(guarded, "mutual")
    refused(guarded, "anonymous")
    refused(guarded, "intruder")  # a certificate, but from a CA the upstream does not trust
    log = guarded.log()
    for upstream in ("anonymous", "intruder"):
        assert f"upstream {upstream} unavailable: {CLOSED}" in log
    assert "Traceback" not in log
    def anonymous() -> Any:
        return httpx.get(f"{guarded.url}/readyz", timeout=5).json()["upstreams"]["anonymous"]

    # the probe waits a moment after the handshake for the upstream's verdict on the client certificate
    assert eventually(lambda: anonymous() == {"ready": False, "detail": CLOSED}, 15), anonymous()
    assert weather(guarded, "mutual")  # the failures cost the pooled mTLS connections nothing


# ---------------------------------------------------------------- configuration errors
def test_a_missing_ca_file_refuses_the_start_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "corp-ca.pem"
    config = {"listen": f"127.0.0.1:{free_port()}", "audit": {"file": str(tmp_path / "audit.jsonl")},
              "store": f"sqlite:{tmp_path}/state.db",
              "upstreams": [{"name": "billing", "url": "https://127.0.0.1:1/mcp", "tls": {"ca_file": str(missing)}}]}
    path = tmp_path / "drawbridge.yaml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run([sys.executable, "-m", "proxy", "serve", "--config", str(path)], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **NO_PROXY_ENV}, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"drawbridge: upstream billing: tls.ca_file: {missing}: No such file or directory")


def test_unusable_tls_files_are_one_line_config_errors_naming_the_upstream_and_file(
        pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    huge = tmp_path / "huge.pem"
    huge.write_bytes(b"#" * (4 << 20 | 1))
    encrypted = pki.ca.issue("sealed", client=True, key_password=b"open sesame")
    cert = pki.client.cert

    def error(**tls: Any) -> str:
        with pytest.raises(ConfigError) as caught:
            client_context(UpstreamTLS(**tls), "upstream billing")
        assert "\n" not in str(caught.value)
        return str(caught.value)

    assert error(ca_file=garbage) == f"upstream billing: tls.ca_file: {garbage}: no certificate or crl found"
    assert error(ca_file=huge) == f"upstream billing: tls.ca_file: {huge}: larger than 4 MiB: not a PEM file"
    assert error(cert_file=cert, key_file=pki.rogue_client.key) == (
        f"upstream billing: tls.cert_file: {cert} with {pki.rogue_client.key}: key values mismatch")
    assert error(cert_file=cert, key_file=tmp_path / "nope.pem") == (
        f"upstream billing: tls.key_file: {tmp_path / 'nope.pem'}: No such file or directory")
    assert error(cert_file=encrypted.cert, key_file=encrypted.key) == (
        f"upstream billing: tls.cert_file: {encrypted.cert} with {encrypted.key}: the key is encrypted: "
        "give tls.key_password")
    monkeypatch.setenv("KEY_PASSWORD", "wrong")
    assert "wrong key_password" in error(cert_file=encrypted.cert, key_file=encrypted.key,
                                         key_password=SecretRef(env="KEY_PASSWORD"))
    assert error(cert_file=cert) == (
        f"upstream billing: tls.cert_file: {cert}: cannot load a PEM certificate and its private key "
        "(not PEM, no key, or a wrong key_password)")
    monkeypatch.setenv("KEY_PASSWORD", "open sesame")
    context = client_context(UpstreamTLS(cert_file=encrypted.cert, key_file=encrypted.key,
                                         key_password=SecretRef(env="KEY_PASSWORD")), "upstream billing")
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2 and context.check_hostname


@pytest.mark.parametrize(("entry", "problem"), [
    ({"url": "http://127.0.0.1:1/mcp", "tls": {"ca_file": "ca.pem"}}, "tls applies to https:// upstream URLs only"),
    ({"url": "https://h/mcp", "tls": {"ca_file": "ca.pem", "insecure_skip_verify": True}},
     "insecure_skip_verify ignores ca_file"),
    ({"url": "https://h/mcp", "tls": {"key_file": "k.pem"}}, "key_file and key_password need cert_file"),
    ({"url": "https://h/mcp", "tls": {"server_name": "bad name"}}, "server_name"),
    ({"url": "https://h/mcp", "tls": {"ca": "ca.pem"}}, "ca"),
])
def test_inconsistent_tls_settings_are_refused_when_the_config_loads(entry: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        validate_model(UpstreamConfig, {"name": "billing", **entry}, Path("drawbridge.yaml"))


# ---------------------------------------------------------------- the pool itself
@pytest.mark.anyio
async def test_insecure_skip_verify_connects_to_any_certificate_and_warns(
        pki: Pki, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rogue = PrivateCA(tmp_path, "self")
    with https_demo_server(rogue.issue("anyone", ips=["127.0.0.1"])) as url:
        with caplog.at_level(logging.WARNING, "drawbridge"):
            context = client_context(UpstreamTLS(insecure_skip_verify=True), "upstream lab")
        assert caplog.messages == ["upstream lab: tls.insecure_skip_verify is true: its certificate and name are "
                                   "NOT checked; anyone on the path can read and change this traffic (test "
                                   "set-ups only)"]
        insecure, strict = UpstreamPool(url, ssl_context=context), UpstreamPool(url, ssl_context=client_context(
            UpstreamTLS(ca_file=pki.ca.cert), "upstream lab"))
        response = await insecure.request("GET", b"/mcp", [(b"accept", b"text/event-stream")], b"", timeout=5)
        assert response.status in (400, 405, 406)  # the MCP server answered (no session): TLS was accepted
        await response.aclose()
        with pytest.raises(UpstreamUnavailable, match="certificate verify failed"):
            await strict.request("GET", b"/mcp", [], b"", timeout=5)
        assert await strict.probe() == ("TLS handshake failed (certificate verify failed: unable to get local "
                                        "issuer certificate)")
        await insecure.aclose()
        await strict.aclose()
