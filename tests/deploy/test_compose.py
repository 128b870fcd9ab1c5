"""The compose stack (deploy/compose): two Drawbridge replicas behind HAProxy, Redis, an OpenTelemetry
collector and the demo MCP server.

No Docker engine runs here, so the file is validated against the Compose Specification's JSON Schema
(tests/deploy/data/compose-spec), its wiring is checked (services, healthchecks, start order, the load
balancer's pool, the collector's pipeline), `docker compose config` runs when the CLI has the compose
plugin, and the stack's own config files run for real on loopback: the replicas' drawbridge.yaml with a
password-protected redis-server and the demo server, behind haproxy with the stack's haproxy.cfg when
haproxy is installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema
import pytest
import yaml

from proxy.config import Config
from proxy.identity.apikeys import hash_api_key
from tests.support.drawbridge import free_port, run_module_server, stop_group, wait_port
from tests.support.mcp_http import call_tool, error_code, open_session
from tests.support.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"
HAPROXY_CFG = COMPOSE_DIR / "haproxy.cfg"
SCHEMA = Path(__file__).parent / "data" / "compose-spec" / "compose-spec.json"
DEMO_KEY = "drawbridge-compose-demo-key"  # the local demo key compose.yaml and drawbridge.yaml document
REPLICAS = ("drawbridge-1", "drawbridge-2")
SECRET_DIR = "/run/secrets/"


def compose() -> dict[str, Any]:
    with COMPOSE.open(encoding="utf-8") as fh:
        doc: dict[str, Any] = yaml.safe_load(fh)
    return doc


def services() -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"]
    return found


def mounted(service: str, target: str) -> Path:
    """The file of this directory that a service bind-mounts at `target`."""
    for volume in services()[service].get("volumes", []):
        source, _, rest = str(volume).partition(":")
        if rest.split(":")[0] == target:
            return (COMPOSE_DIR / source).resolve()
    raise AssertionError(f"{service} mounts nothing at {target}")


def replica_config() -> tuple[Path, Config]:
    path = mounted(REPLICAS[0], "/etc/drawbridge/drawbridge.yaml")
    return path, Config.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def haproxy_backend_servers() -> dict[str, str]:
    """server name -> address of the `drawbridge` backend in haproxy.cfg."""
    servers, in_backend = {}, False
    for raw in HAPROXY_CFG.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not raw.startswith((" ", "\t")) and line:
            in_backend = line == "backend drawbridge"
        elif in_backend and line.startswith("server "):
            _, name, address, *_ = line.split()
            servers[name] = address
    return servers


def published(service: str) -> list[tuple[str, int, int]]:
    """(host address, host port, container port) of each `ports:` entry of a service."""
    out = []
    for spec in services()[service].get("ports", []):
        host_ip, host_port, container_port = str(spec).rsplit(":", 2) if str(spec).count(":") == 2 else \
            ("0.0.0.0", *str(spec).split(":"))
        out.append((host_ip, int(host_port), int(container_port)))
    return out


# ---------------------------------------------------------------------------------------- the file


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    errors = [f"{e.json_path}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(compose())]
    assert errors == []


def test_stack_services_healthchecks_and_start_order() -> None:
    svc = services()
    assert set(svc) == {"lb", *REPLICAS, "redis", "otel-collector", "mcp-server"}
    for name in ("lb", *REPLICAS, "redis", "mcp-server"):
        assert svc[name]["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
    # the collector image is distroless (nothing to run a check with); exporting to it is best effort
    assert "healthcheck" not in svc["otel-collector"]
    assert svc["lb"]["depends_on"] == {r: {"condition": "service_healthy"} for r in REPLICAS}
    for replica in REPLICAS:
        needs = svc[replica]["depends_on"]
        assert needs["redis"]["condition"] == needs["mcp-server"]["condition"] == "service_healthy"
        assert "/readyz" in " ".join(svc[replica]["healthcheck"]["test"]), "healthy means ready (store, upstream)"
    assert svc[REPLICAS[0]] == svc[REPLICAS[1]], "the replicas differ only in name"


def test_replicas_are_built_from_the_repository_and_hardened() -> None:
    for name in (*REPLICAS, "mcp-server"):
        service = services()[name]
        build = service["build"]
        assert (COMPOSE_DIR / build["context"]).resolve() == ROOT
        assert (ROOT / build["dockerfile"]).is_file()
        assert service["image"] == services()[REPLICAS[0]]["image"], "one image for the proxy and the demo server"
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name


def test_only_the_load_balancer_is_published_on_loopback() -> None:
    assert [name for name, spec in services().items() if spec.get("ports")] == ["lb"]
    for host_ip, _, _ in published("lb"):
        assert host_ip == "127.0.0.1", "the stack is a local one: do not publish on every interface"


def test_mounted_files_exist() -> None:
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE_DIR / source).is_file(), f"{name}: {source}"


# ---------------------------------------------------------------------------------- load balancer


def test_load_balancer_pools_both_replicas_on_their_listen_port() -> None:
    _, config = replica_config()
    port = config.listen.rsplit(":", 1)[1]
    assert haproxy_backend_servers() == {r: f"{r}:{port}" for r in REPLICAS}
    text = HAPROXY_CFG.read_text(encoding="utf-8")
    assert re.search(r"^\s*http-check send meth GET uri /readyz$", text, re.MULTILINE), "pool only ready replicas"
    binds = {int(p) for p in re.findall(r"^\s*bind :(\d+)$", text, re.MULTILINE)}
    assert {container for _, _, container in published("lb")} <= binds
    health = services()["lb"]["healthcheck"]["test"]
    (monitor,) = re.findall(r"^\s*monitor-uri (\S+)$", text, re.MULTILINE)
    assert any(arg.endswith(monitor) for arg in health)


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs haproxy")
def test_haproxy_accepts_the_configuration() -> None:
    result = subprocess.run(["haproxy", "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------------ collector


def test_replicas_export_audit_events_to_the_collector() -> None:
    _, config = replica_config()
    assert config.audit.otlp is not None and config.audit.stdout
    endpoint = urlsplit(config.audit.otlp.endpoint)
    collector = yaml.safe_load(mounted("otel-collector", "/etc/otelcol-contrib/config.yaml").read_text("utf-8"))
    assert endpoint.hostname == "otel-collector" and endpoint.path == "/v1/logs"
    receiver = collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    assert receiver.rsplit(":", 1)[1] == str(endpoint.port)
    logs = collector["service"]["pipelines"]["logs"]
    assert logs["receivers"] == ["otlp"]
    for kind in ("receivers", "processors", "exporters"):
        assert set(logs.get(kind, [])) <= set(collector[kind]), kind
    assert f"--config={'/etc/otelcol-contrib/config.yaml'}" in services()["otel-collector"]["command"]


# ------------------------------------------------------------------------------- the replicas' config


def test_replica_config_passes_config_check(tmp_path: Path) -> None:
    """`drawbridge config check` on the stack's drawbridge.yaml, the compose secret's file path moved here."""
    path, config = replica_config()
    assert config.redis is not None and config.redis.password is not None
    secret = config.redis.password.file
    assert secret is not None and str(secret).startswith(SECRET_DIR)
    assert secret.name in compose()["secrets"] and all(secret.name in services()[r]["secrets"] for r in REPLICAS)
    (tmp_path / secret.name).write_text("local-password\n", encoding="utf-8")
    text = path.read_text(encoding="utf-8").replace(str(secret), str(tmp_path / secret.name))
    (tmp_path / "drawbridge.yaml").write_text(text, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "proxy", "config", "check", "--json", "--policy",
                             str(ROOT / "proxy" / "policies" / "default"), str(tmp_path / "drawbridge.yaml")],
                            capture_output=True, text=True, timeout=60)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["ok"], report["problems"]
    assert report["warnings"] == []


def test_demo_key_is_the_documented_one() -> None:
    _, config = replica_config()
    assert [k.sha256 for k in config.identity.api_keys] == [hash_api_key(DEMO_KEY)]
    assert DEMO_KEY in COMPOSE.read_text(encoding="utf-8")


def docker_compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not docker_compose_available(), reason="needs the docker CLI with the compose plugin")
def test_docker_compose_config_accepts_the_stack() -> None:
    result = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"], capture_output=True,
                            text=True, timeout=60, env={**os.environ, "REDIS_PASSWORD": "config-check"})
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------- the stack, on loopback


@contextlib.contextmanager
def process(args: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                start_new_session=True)
    try:
        yield proc
    finally:
        stop_group(proc)





def wait_for(url: str, status: int, timeout: float = 15.0) -> httpx.Response:
    """GET `url` until it answers `status` or `timeout` passes; the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.TransportError):
            answer = httpx.get(url, timeout=3)
            if answer.status_code == status or time.monotonic() > deadline:
                return answer
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer {status} within {timeout} s")
        time.sleep(0.2)


def loopback_config(tmp: Path, name: str, port: int, redis_port: int, mcp: str, secret: Path) -> Path:
    """The replicas' drawbridge.yaml with the stack's host names and container paths moved here."""
    path, config = replica_config()
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert config.redis is not None and config.redis.password is not None
    doc.update(listen=f"127.0.0.1:{port}", policy=str(ROOT / "proxy" / "policies" / "default"),
               store=f"redis://127.0.0.1:{redis_port}/0", upstreams=[{**doc["upstreams"][0], "url": mcp}],
               audit={"file": str(tmp / f"{name}.jsonl")}, redis={"password": {"file": str(secret)}})
    out = tmp / f"{name}.yaml"
    out.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return out


def loopback_haproxy(tmp: Path, lb_port: int, health_port: int, replicas: dict[str, int]) -> Path:
    """haproxy.cfg with its binds on free loopback ports and the replicas' addresses (no Docker DNS)."""
    text = HAPROXY_CFG.read_text(encoding="utf-8")
    text = re.sub(r"^resolvers docker\n(?:[ \t]+.*\n)+", "", text, flags=re.MULTILINE)
    text = text.replace(" resolvers docker", "").replace("bind :8080", f"bind 127.0.0.1:{lb_port}")
    text = text.replace("bind :8404", f"bind 127.0.0.1:{health_port}")
    for name, port in replicas.items():
        text = text.replace(f"server {name} {name}:8080", f"server {name} 127.0.0.1:{port}")
    out = tmp / "haproxy.cfg"
    out.write_text(text, encoding="utf-8")
    return out


def sessions_by_replica(tmp: Path) -> dict[str, set[str]]:
    """session id -> the replicas whose audit shows a tools/call of that session."""
    seen: dict[str, set[str]] = {}
    for name in REPLICAS:
        path = tmp / f"{name}.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
            event = json.loads(line)
            if event.get("event_type") == "decision" and (event.get("jsonrpc") or {}).get("method") == "tools/call":
                seen.setdefault(str(event.get("session_id")), set()).add(name)
    return seen


AGENT = {"x-api-key": DEMO_KEY}


@dataclass
class Replicas:
    """The stack's replicas running here: name -> (port, process); their audit files are in `tmp`."""

    tmp: Path
    running: dict[str, tuple[int, subprocess.Popen[bytes]]]


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[Replicas]:
    """A password-protected Redis (the secret in a file, as compose mounts it), the demo MCP server, and
    both replicas on the stack's drawbridge.yaml, ready."""
    password = "compose-stack-password"
    secret = tmp_path / "redis_password"
    secret.write_text(password + "\n", encoding="utf-8")
    with contextlib.ExitStack() as stack:
        (tmp_path / "redis").mkdir()
        redis_server = RedisServer(tmp_path / "redis", password=password)
        redis_server.start()
        stack.callback(redis_server.stop)
        mcp = stack.enter_context(run_module_server("proxy.demo.server"))
        running = {}
        for name in REPLICAS:  # both start at once, as compose starts them
            port = free_port()
            config = loopback_config(tmp_path, name, port, redis_server.port, mcp, secret)
            running[name] = port, stack.enter_context(process(
                [sys.executable, "-m", "proxy", "serve", "--config", str(config)], tmp_path / f"{name}.log"))
        for name, (port, proc) in running.items():
            wait_port(port, proc=proc)
            assert wait_for(f"http://127.0.0.1:{port}/readyz", 200).status_code == 200, name
        yield Replicas(tmp_path, running)


def test_stack_replicas_serve_the_demo_key(replicas: Replicas) -> None:
    """Through either replica the demo key reads the weather from the demo server and cannot delete a
    note; a request without a key is refused."""
    for port, _ in replicas.running.values():
        url = f"http://127.0.0.1:{port}/mcp"
        session = open_session(url, AGENT)
        weather = call_tool(url, session, "get_weather", {"city": "Paris"})
        assert "Paris" in weather["result"]["content"][0]["text"], weather
        assert error_code(call_tool(url, session, "delete_note", {"note_id": 1})) is not None
        assert httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                          headers={"accept": "application/json, text/event-stream"}, timeout=5).status_code == 401


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs haproxy")
def test_stack_load_balancer(replicas: Replicas) -> None:
    """haproxy on the stack's haproxy.cfg: a session's calls stay on one replica and sessions spread over
    both; a stopped replica's requests go to the other; the balancer's health fails once none is left."""
    lb_port, health_port = free_port(), free_port()
    cfg = loopback_haproxy(replicas.tmp, lb_port, health_port, {n: port for n, (port, _) in replicas.running.items()})
    with process(["haproxy", "-db", "-f", str(cfg)], replicas.tmp / "haproxy.log"):
        lb, health = f"http://127.0.0.1:{lb_port}/mcp", f"http://127.0.0.1:{health_port}/healthz"
        assert wait_for(health, 200).status_code == 200
        for city in ("Oslo", "Lima", "Pune", "Kyiv", "Nice", "Bern"):
            session = open_session(lb, AGENT)
            for _ in range(2):
                answer = call_tool(lb, session, "get_weather", {"city": city})
                assert city in answer["result"]["content"][0]["text"], answer
        spread = sessions_by_replica(replicas.tmp)
        assert spread and all(len(where) == 1 for where in spread.values()), spread
        assert set().union(*spread.values()) == set(REPLICAS), "sessions are spread over both replicas"

        stop_group(replicas.running[REPLICAS[0]][1])
        session = open_session(lb, AGENT)  # a connection refused is retried on the other replica
        assert "Rome" in call_tool(lb, session, "get_weather", {"city": "Rome"})["result"]["content"][0]["text"]
        assert wait_for(health, 200).status_code == 200
        stop_group(replicas.running[REPLICAS[1]][1])
        assert wait_for(health, 503).status_code == 503, "no replica left: the balancer reports itself unhealthy"
