"""Static checks of the Dockerfile and the Kubernetes base against Drawbridge's own code.

No cluster, no Docker engine and no kustomize are needed: the base's manifests are parsed with PyYAML
and its configMapGenerator entries are turned into ConfigMaps as kustomize does (names without the
hash), the generated drawbridge.yaml is validated by the real config model, the policy ConfigMap is
loaded by the real policy loader from a kubelet-like volume layout, and the data plane is built from
both. The rendered overlays are checked in test_kustomize.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from proxy import __version__
from proxy.admin.config import SecretRef
from proxy.config import PACKAGED_POLICY_DIR, AuditConfig, Config, SecretSource, load_config, split_listen
from proxy.errors import ConfigError
from proxy.http.guard import HostOriginGuard
from proxy.policy.holder import PolicyHolder
from proxy.policy.loader import load_policy
from proxy.policy.testing import run_policy_tests

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
BASE = K8S / "base"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
IMAGE_CONFIG = DEPLOY / "docker" / "drawbridge.yaml"
SECRET_EXAMPLE = K8S / "secret.example.yaml"
KUSTOMIZATION = BASE / "kustomization.yaml"
CONFIG_KEY = "drawbridge.yaml"
SYNC_SCRIPT = "scripts/sync_policy_configmap.py"  # copies proxy/policies/default into base/policies


# ------------------------------------------------------------------------------------------ helpers


@functools.cache
def yaml_docs(path: Path) -> list[Any]:
    """Every non-empty document of a (possibly multi-document) YAML file (parsed once; do not mutate)."""
    with path.open(encoding="utf-8") as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc is not None]


def kustomization() -> dict[str, Any]:
    (doc,) = yaml_docs(KUSTOMIZATION)
    return dict(doc)


def resources() -> list[dict[str, Any]]:
    """The objects of the base (before kustomize's transforms), generated ConfigMaps included."""
    return [*(doc for name in kustomization()["resources"] for doc in yaml_docs(BASE / name)),
            *generated_configmaps()]


@functools.cache
def generated_configmaps() -> list[dict[str, Any]]:
    """The base's configMapGenerator entries as ConfigMaps: one key per file, named after the file."""
    kust = kustomization()
    return [{"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": gen["name"], "namespace": kust["namespace"]},
             "data": {PurePosixPath(f).name: (BASE / f).read_text(encoding="utf-8") for f in gen["files"]}}
            for gen in kust.get("configMapGenerator", [])]


def only(kind: str, name: str | None = None) -> dict[str, Any]:
    """The one object of a kind (the proxy's, not the Redis state store's, unless named)."""
    found = [d for d in resources() if d["kind"] == kind and (
        d["metadata"]["name"] == name if name else not d["metadata"]["name"].startswith("drawbridge-redis"))]
    assert len(found) == 1, f"expected exactly one {kind} {name or ''} in the kustomization, found {len(found)}"
    return found[0]


def deployment() -> dict[str, Any]:
    return only("Deployment")


def pod_spec() -> dict[str, Any]:
    return dict(deployment()["spec"]["template"]["spec"])


def pod_labels() -> dict[str, str]:
    return dict(deployment()["spec"]["template"]["metadata"]["labels"])


def container() -> dict[str, Any]:
    (ctr,) = pod_spec()["containers"]
    return dict(ctr)


def container_port(port: int | str) -> int:
    """Resolve a (possibly named) port of the proxy container to its number."""
    if isinstance(port, int):
        return port
    numbers = [p["containerPort"] for p in container()["ports"] if p.get("name") == port]
    assert numbers, f"no container port named {port!r}"
    return int(numbers[0])


def volume(name: str) -> dict[str, Any]:
    (vol,) = [v for v in pod_spec()["volumes"] if v["name"] == name]
    return dict(vol)


def mount_for(path: str) -> dict[str, Any]:
    """The container volumeMount that provides `path` (exact file mount or enclosing directory)."""
    best: dict[str, Any] | None = None
    for m in container().get("volumeMounts", []):
        mount = PurePosixPath(m["mountPath"])
        target = PurePosixPath(path)
        if (target == mount or mount in target.parents) and (
            best is None or len(mount.parts) > len(PurePosixPath(best["mountPath"]).parts)
        ):
            best = m
    assert best is not None, f"nothing is mounted at {path}"
    return best


def selector_matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[int, str, str]]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


def parse_dockerfile(text: str) -> list[tuple[int, str, str]]:
    """(stage index, INSTRUCTION, arguments) with continuations joined and comments dropped.

    Stage -1 holds the global ARGs before the first FROM; `${VAR}` defaults from them are
    substituted in FROM lines, as Docker does.
    """
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # comments (and parser directives) are dropped, also inside continuations
        if line.endswith("\\"):
            current += line[:-1].rstrip() + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, "Dockerfile ends inside a line continuation"
    global_args: dict[str, str] = {}
    stage = -1
    out: list[tuple[int, str, str]] = []
    for line in logical:
        instruction, _, args = line.partition(" ")
        instruction = instruction.upper()
        args = args.strip()
        if instruction == "FROM":
            stage += 1
            args = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: global_args.get(m[1] or m[2], m[0]), args)
        elif instruction == "ARG" and stage == -1:
            name, _, default = args.partition("=")
            global_args[name] = default.strip('"')
        out.append((stage, instruction, args))
    return out


def final_stage(instructions: list[tuple[int, str, str]]) -> list[tuple[str, str]]:
    last = max(stage for stage, _, _ in instructions)
    return [(ins, args) for stage, ins, args in instructions if stage == last]


def one_instruction(instructions: list[tuple[int, str, str]], name: str) -> str:
    found = [args for ins, args in final_stage(instructions) if ins == name]
    assert len(found) == 1, f"expected one {name} in the final stage, found {len(found)}"
    return found[0]


def image_config_path(instructions: list[tuple[int, str, str]]) -> str:
    cmd = json.loads(one_instruction(instructions, "CMD"))
    return str(cmd[cmd.index("--config") + 1])


@pytest.fixture(scope="module")
def config_text(dockerfile: list[tuple[int, str, str]]) -> str:
    """The drawbridge.yaml the pod reads: whatever ConfigMap key is mounted at the image's --config path."""
    assert "command" not in container() and "args" not in container(), "the pod should use the image's ENTRYPOINT/CMD"
    path = image_config_path(dockerfile)
    mount = mount_for(path)
    source = volume(mount["name"])["configMap"]
    if mount["mountPath"] == path:
        key = mount.get("subPath")
        assert key, "a file mounted over the config path needs subPath"
    else:
        key = str(PurePosixPath(path).relative_to(mount["mountPath"]))
        key = next((i["key"] for i in source.get("items", []) if i["path"] == key), key)
    data = only("ConfigMap", source["name"])["data"]
    assert key in data, f"ConfigMap {source['name']} has no key {key}"
    return str(data[key])


@pytest.fixture(scope="module")
def config(config_text: str) -> Config:
    return Config.model_validate(yaml.safe_load(config_text))


def policy_volume(cfg: Config) -> tuple[dict[str, Any], dict[str, Any]]:
    """(volumeMount, volume) that provide the configured policy directory."""
    mount = mount_for(str(cfg.policy))
    return mount, volume(mount["name"])


def kubelet_volume(root: Path, files: dict[str, str], generation: int = 0) -> None:
    """Write `files` (projected path -> content) as kubelet's atomic writer lays out a ConfigMap
    volume: a hidden timestamped directory, a `..data` symlink to it, and one symlink per
    top-level entry. A later generation swaps `..data` atomically, as an update does."""
    stamp = f"..2025_01_01_00_00_{generation:02d}.{1000 + generation}"
    for rel, content in files.items():
        target = root / stamp / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    tmp_link = root / "..data_tmp"
    tmp_link.symlink_to(stamp)
    os.replace(tmp_link, root / "..data")
    for top in {PurePosixPath(rel).parts[0] for rel in files}:
        if not (root / top).is_symlink():
            (root / top).symlink_to(f"..data/{top}")


def projected_policy_files(cfg: Config) -> dict[str, str]:
    """Projected path (relative to the mount) -> content, for the ConfigMap behind the policy dir."""
    _, vol = policy_volume(cfg)
    source = vol["configMap"]
    data = only("ConfigMap", source["name"])["data"]
    items = source.get("items")
    if items is None:
        return dict(data)
    return {item["path"]: data[item["key"]] for item in items}


def policy_dir_in(root: Path, cfg: Config) -> Path:
    mount, _ = policy_volume(cfg)
    return root / PurePosixPath(cfg.policy).relative_to(mount["mountPath"])


# --------------------------------------------------------------------------------- YAML and layout


def test_every_yaml_under_deploy_parses() -> None:
    files = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    assert files
    for path in files:
        docs = yaml_docs(path)
        assert docs, f"{path} is empty"
        generator_input = path.name in ("kustomization.yaml", CONFIG_KEY) or path.parent.name == "policies"
        if path.is_relative_to(K8S) and not generator_input:
            for doc in docs:
                assert {"apiVersion", "kind", "metadata"} <= doc.keys(), f"{path}: not a Kubernetes object"
                assert doc["metadata"].get("name"), f"{path}: {doc['kind']} without a name"


def test_kustomization_lists_existing_files_and_no_secret() -> None:
    kust = kustomization()
    listed = kust["resources"]
    assert len(listed) == len(set(listed))
    for name in listed:
        assert (BASE / name).is_file(), f"base/kustomization.yaml lists {name}, which does not exist"
    generated = {f for gen in kust["configMapGenerator"] for f in gen["files"]}
    assert all((BASE / f).is_file() for f in generated), generated
    manifests = {p.name for p in BASE.glob("*.yaml")} - {KUSTOMIZATION.name, CONFIG_KEY}
    assert manifests == set(listed), "every manifest in deploy/kubernetes/base must be listed"
    assert CONFIG_KEY in generated, "drawbridge.yaml is generated into a ConfigMap"
    assert not (BASE / SECRET_EXAMPLE.name).exists() and SECRET_EXAMPLE.is_file(), "Secret example: outside the base"
    assert all(doc["kind"] != "Secret" for doc in resources()), "no Secret may be applied by the base"
    for doc in resources():
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == kust["namespace"] == "drawbridge", doc["metadata"]["name"]
    assert {doc["kind"] for doc in resources()} >= {
        "Namespace", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy",
    }


def test_namespace_enforces_restricted_pod_security() -> None:
    labels = only("Namespace", "drawbridge")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_versions_agree() -> None:
    version = __version__  # the one place the version is defined (pyproject reads it too)
    (image,) = [i for i in kustomization()["images"] if i["name"] == container()["image"]]
    assert str(image["newTag"]) == version, "kustomization images: newTag should be the released version"
    arg = re.search(r"^ARG VERSION=(\S+)$", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert arg is not None and arg[1] == version, "Dockerfile ARG VERSION should be the released version"


# ---------------------------------------------------------------------------- drawbridge.yaml (k8s)


def test_config_validates_against_the_config_model(config_text: str, tmp_path: Path) -> None:
    path = tmp_path / CONFIG_KEY
    path.write_text(config_text, encoding="utf-8")
    cfg = load_config(path)  # the same path `drawbridge serve --config` takes; raises on any drift
    assert cfg.upstreams, "the example must configure an upstream"
    assert cfg.policy.is_absolute()


def test_listen_port_matches_container_service_and_probes(config: Config) -> None:
    host, port = split_listen(config.listen)
    assert host in ("0.0.0.0", "::"), "the proxy must listen on the pod's interfaces, not loopback"
    (http_port,) = container()["ports"]
    assert http_port["containerPort"] == port
    (svc_port,) = only("Service")["spec"]["ports"]
    assert svc_port["port"] == port
    assert container_port(svc_port["targetPort"]) == port
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        if probe in container():
            assert container_port(container()[probe]["httpGet"]["port"]) == port, probe


def test_allowed_hosts_admit_the_service_names(config: Config) -> None:
    svc = only("Service")["metadata"]
    _, port = split_listen(config.listen)
    guard = HostOriginGuard(config.http.allowed_hosts, config.http.allowed_origins)
    for host in (f"{svc['name']}.{svc['namespace']}.svc.cluster.local:{port}", f"{svc['name']}:{port}"):
        assert host in config.http.allowed_hosts
        assert guard.problem(host, None) is None, host
    assert guard.problem(f"attacker.example:{port}", None) is not None
    assert guard.problem(f"{svc['name']}:{port}", "https://attacker.example") is not None


def test_credentials_come_from_secrets(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every credential the config names (upstream headers, the Redis password) is an env var that the
    container fills from a Secret that secret.example.yaml shows; without it the proxy refuses to start."""
    env = {e["name"]: e for e in container().get("env", [])}
    secrets = {d["metadata"]["name"]: d for d in yaml_docs(SECRET_EXAMPLE)}
    assert all(s["kind"] == "Secret" for s in secrets.values())
    sources: list[tuple[str, SecretSource | SecretRef]] = [
        (f"upstream {u.name} header {header}", src) for u in config.upstreams for header, src in u.headers.items()]
    assert sources, "the example upstream should carry a credential header"
    assert config.redis is not None and config.redis.password is not None, "Redis requires a password"
    sources.append(("redis.password", config.redis.password))
    for what, src in sources:
        assert src.env is not None, f"{what}: use an env var from a Secret"
        assert src.env in env, f"{src.env} ({what}) is not set on the container"
        ref = env[src.env]["valueFrom"]["secretKeyRef"]
        assert ref["name"] in secrets, f"secret.example.yaml should show Secret {ref['name']} ({what})"
        example = {**secrets[ref["name"]].get("stringData", {}), **secrets[ref["name"]].get("data", {})}
        assert ref["key"] in example, f"secret.example.yaml lacks key {ref['key']} of {ref['name']}"
        assert ref.get("optional") is not True, "a missing credential must stop the pod, not start it without"
        monkeypatch.delenv(src.env, raising=False)
        with pytest.raises(ConfigError):
            src.resolve("test")
        monkeypatch.setenv(src.env, example[ref["key"]])
        assert src.resolve("test") == example[ref["key"]]


def test_audit_goes_to_stdout(config: Config) -> None:
    assert config.audit.stdout is True
    assert config.audit.file is None, "the root filesystem is read-only: audit to stdout"


def test_jwt_jwks_url_is_a_marked_placeholder(config: Config, config_text: str) -> None:
    jwt = config.identity.jwt
    assert jwt is not None and jwt.jwks_url is not None
    (line,) = [ln for ln in config_text.splitlines() if ln.strip().startswith("jwks_url:")]
    assert "CHANGE ME" in line


def test_policy_hot_reload_is_on(config: Config) -> None:
    assert config.policy_reload.watch is True


# --------------------------------------------------------------------------------------- policies


def test_policy_configmap_loads_from_a_kubelet_volume(config: Config, tmp_path: Path) -> None:
    mount, vol = policy_volume(config)
    assert "subPath" not in mount, "subPath mounts never see ConfigMap updates: no hot reload"
    source = vol["configMap"]
    data = only("ConfigMap", source["name"])["data"]
    assert {i["key"] for i in source.get("items", [])} == set(data), (
        "deployment.yaml must project every key of the policy ConfigMap (volumes.policies.configMap.items)"
    )
    kubelet_volume(tmp_path, projected_policy_files(config))
    directory = policy_dir_in(tmp_path, config)
    loaded = load_policy(directory)
    assert loaded.policy.rules
    assert sorted(p.name for p in loaded.files) == sorted(k for k in data if not k.endswith(".test.yaml"))
    results = run_policy_tests(directory)
    assert all(r.passed for r in results), [r.describe() for r in results if not r.passed]


def test_policy_configmap_update_is_hot_reloaded(config: Config, tmp_path: Path) -> None:
    files = projected_policy_files(config)
    kubelet_volume(tmp_path, files, generation=0)
    holder = PolicyHolder(policy_dir_in(tmp_path, config))
    before = holder.policy.version
    changed = {path: text + "# edited\n" for path, text in files.items()}
    kubelet_volume(tmp_path, changed, generation=1)
    assert holder.changed_on_disk()
    assert holder.reload()
    assert holder.policy.version != before


def test_policy_configmap_is_the_packaged_default() -> None:
    """base/policies is a copy of the packaged default policy (kustomize cannot read files outside the
    base), and the generator takes every file of it: they cannot drift apart."""
    data = only("ConfigMap", "drawbridge-policies")["data"]
    packaged = {p.name: p.read_text(encoding="utf-8") for p in sorted(PACKAGED_POLICY_DIR.glob("*.yaml"))}
    copied = {p.name for p in (BASE / "policies").iterdir()}
    assert copied == set(packaged), "deploy/kubernetes/base/policies should hold the files of proxy/policies/default"
    assert set(data) == set(packaged), "the drawbridge-policies generator should list every file of base/policies"
    for name, text in packaged.items():
        assert data[name] == text, f"base/policies/{name} is not proxy/policies/default/{name}: run {SYNC_SCRIPT}"


@contextlib.asynccontextmanager
async def asgi_lifespan(app: Any) -> AsyncIterator[None]:
    """Run an ASGI app's lifespan around the block, as uvicorn does with lifespan="on"."""
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    task = asyncio.create_task(app(scope, to_app.get, from_app.put))
    await to_app.put({"type": "lifespan.startup"})
    started = await asyncio.wait_for(from_app.get(), 10)
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        stopped = await asyncio.wait_for(from_app.get(), 10)
        assert stopped["type"] == "lifespan.shutdown.complete", stopped
        await asyncio.wait_for(task, 10)


@pytest.mark.anyio
async def test_data_plane_builds_from_the_deployment(config: Config, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Build and start the real data plane as `drawbridge serve` does; probe it on the manifests' paths."""
    from proxy.http.app import build_app
    from proxy.http.context import Plane
    from proxy.runtime import Runtime
    from tests.support.scripted_upstream import Script, scripted_upstream

    monkeypatch.chdir(tmp_path)  # the pod's working directory: relative state paths land here
    for upstream in config.upstreams:
        for src in upstream.headers.values():
            if src.env is not None:
                monkeypatch.setenv(src.env, "Bearer test")
    kubelet_volume(tmp_path / "policies", projected_policy_files(config))
    local = contextlib.ExitStack()  # the in-cluster MCP server, here on loopback: /readyz needs one that answers
    mcp = local.enter_context(scripted_upstream(Script()))
    cfg = config.model_copy(update={"policy": policy_dir_in(tmp_path / "policies", config),
                                    "audit": AuditConfig(file=tmp_path / "audit.jsonl"),
                                    "upstreams": tuple(u.model_copy(update={"url": mcp}) for u in config.upstreams),
                                    "store": f"sqlite:{tmp_path / 'state.db'}", "redis": None})  # Redis: test_kustomize
    runtime = Runtime.build(cfg)
    plane = Plane(runtime, cfg)
    app = build_app(plane)
    svc = only("Service")["metadata"]
    _, port = split_listen(cfg.listen)
    try:
        async with asgi_lifespan(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                         base_url=f"http://10.0.0.7:{port}") as client:
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                if probe in container():
                    resp = await client.get(container()[probe]["httpGet"]["path"])
                    assert resp.status_code == 200, (probe, resp.text)
            ready = await client.get("/readyz")
            assert ready.json()["policy_version"] == runtime.holder.policy.version
            body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
            host = f"{svc['name']}.{svc['namespace']}.svc.cluster.local:{port}"
            resp = await client.post("/mcp", json=body, headers={"host": host})
            assert resp.status_code == 401, "Service host admitted, then identity required"
            resp = await client.post("/mcp", json=body, headers={"host": f"attacker.example:{port}"})
            assert resp.status_code == 421
    finally:
        runtime.close()
        local.close()


# ---------------------------------------------------------------------------------------- workload


def test_deployment_security_context() -> None:
    pod = pod_spec()
    pod_sc = pod.get("securityContext", {})
    ctr_sc = container()["securityContext"]

    def effective(key: str) -> Any:
        return ctr_sc.get(key, pod_sc.get(key))

    assert effective("runAsNonRoot") is True
    assert effective("seccompProfile") == {"type": "RuntimeDefault"}
    assert ctr_sc["readOnlyRootFilesystem"] is True
    assert ctr_sc["allowPrivilegeEscalation"] is False
    assert ctr_sc["capabilities"]["drop"] == ["ALL"]
    assert not ctr_sc["capabilities"].get("add")
    assert ctr_sc.get("privileged") is not True
    assert pod.get("automountServiceAccountToken") is False
    assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))


def test_deployment_runs_as_the_image_user(dockerfile: list[tuple[int, str, str]]) -> None:
    uid = int(one_instruction(dockerfile, "USER").split(":")[0])
    user = container()["securityContext"].get("runAsUser", pod_spec().get("securityContext", {}).get("runAsUser"))
    assert user == uid


def test_image_workdir_is_writable_in_the_pod(dockerfile: list[tuple[int, str, str]]) -> None:
    """Relative paths (local state, evidence, audit files) resolve against the image's WORKDIR; with a
    read-only root filesystem it must be a writable volume."""
    workdir = one_instruction(dockerfile, "WORKDIR")
    assert workdir in [v for ins, args in final_stage(dockerfile) if ins == "VOLUME" for v in json.loads(args)]
    mount = mount_for(workdir)
    assert mount["mountPath"] == workdir and not mount.get("readOnly")
    assert "emptyDir" in volume(mount["name"]) or "persistentVolumeClaim" in volume(mount["name"])


def test_deployment_probes() -> None:
    ctr = container()
    assert ctr["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert ctr["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_deployment_shape() -> None:
    dep = deployment()
    spec = dep["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert selector_matches(spec["selector"]["matchLabels"], pod_labels())
    resources_ = container()["resources"]
    for part in ("requests", "limits"):
        assert {"cpu", "memory"} <= resources_[part].keys(), part
    tmp = mount_for("/tmp")
    assert tmp["mountPath"] == "/tmp" and "emptyDir" in volume(tmp["name"])
    spread = pod_spec()["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} >= {"kubernetes.io/hostname"}
    assert all(selector_matches(c["labelSelector"]["matchLabels"], pod_labels()) for c in spread)


def test_service_and_pdb_select_the_pods() -> None:
    svc = only("Service")["spec"]
    assert svc.get("type", "ClusterIP") == "ClusterIP"
    assert selector_matches(svc["selector"], pod_labels())
    pdb = only("PodDisruptionBudget")["spec"]
    assert pdb["minAvailable"] == 1
    assert selector_matches(pdb["selector"]["matchLabels"], pod_labels())


def test_network_policy(config: Config) -> None:
    spec = only("NetworkPolicy")["spec"]
    assert selector_matches(spec["podSelector"]["matchLabels"], pod_labels())
    assert set(spec["policyTypes"]) == {"Ingress", "Egress"}
    _, port = split_listen(config.listen)
    (ingress,) = spec["ingress"]
    assert ingress["from"] == [{"namespaceSelector": {"matchLabels": {"drawbridge-client": "true"}}}]
    assert ingress["ports"] == [{"protocol": "TCP", "port": port}]

    egress = spec["egress"]
    assert all(rule.get("to") for rule in egress), "every egress rule must name its destination"
    for rule in egress:
        for peer in rule["to"]:
            assert peer.get("ipBlock", {}).get("cidr") not in ("0.0.0.0/0", "::/0"), "no open egress"
    dns = [r for r in egress if {p["port"] for p in r["ports"]} == {53}]
    assert dns and {p["protocol"] for p in dns[0]["ports"]} == {"UDP", "TCP"}
    for upstream in config.upstreams:
        url = urlsplit(upstream.url)
        host = url.hostname or ""
        match = re.fullmatch(r"[^.]+\.([^.]+)\.svc\.cluster\.local", host)
        if match is None:
            continue  # out-of-cluster upstreams need their own rule
        up_port = url.port or (443 if url.scheme == "https" else 80)
        ns_selector = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": match[1]}}}
        assert any(ns_selector in r["to"] and {"protocol": "TCP", "port": up_port} in r["ports"] for r in egress), (
            f"no egress rule to namespace {match[1]} port {up_port} for upstream {upstream.name}"
        )


# ------------------------------------------------------------------------------------------ image


def test_dockerfile_entrypoint_cmd_user_expose(dockerfile: list[tuple[int, str, str]]) -> None:
    assert json.loads(one_instruction(dockerfile, "ENTRYPOINT")) == ["drawbridge"]
    assert json.loads(one_instruction(dockerfile, "CMD")) == ["serve", "--config", "/etc/drawbridge/drawbridge.yaml"]
    assert one_instruction(dockerfile, "USER").split(":")[0] == "10001"
    assert one_instruction(dockerfile, "EXPOSE") == "8080"


def test_dockerfile_stages_and_environment(dockerfile: list[tuple[int, str, str]]) -> None:
    froms = [args for _, ins, args in dockerfile if ins == "FROM"]
    assert len(froms) >= 2, "multi-stage build expected"
    assert all(f.split()[0] == "python:3.11-slim" for f in froms), froms
    env = " ".join(args for ins, args in final_stage(dockerfile) if ins == "ENV")
    assert re.search(r"\bPYTHONDONTWRITEBYTECODE=1\b", env)
    assert re.search(r"\bPYTHONUNBUFFERED=1\b", env)
    health = one_instruction(dockerfile, "HEALTHCHECK")
    assert "urllib" in health and "http://127.0.0.1:8080/healthz" in health
    labels = " ".join(args for ins, args in final_stage(dockerfile) if ins == "LABEL")
    for key in ("title", "description", "source"):
        assert f"org.opencontainers.image.{key}=" in labels, key
    assert not re.search(r"(?i)change.?me|example\.(com|org)|your[-_ ]", labels), "no placeholder labels"
    for _, ins, args in dockerfile:
        if ins in ("ARG", "ENV"):
            assert not re.search(r"(?i)(secret|token|password|api_?key)", args), f"{ins} {args}: no secrets baked in"


def test_dockerfile_copies_resolve_the_policy_symlink(dockerfile: list[tuple[int, str, str]]) -> None:
    copies = [args.split() for _, ins, args in dockerfile if ins == "COPY" and "--from" not in args]
    assert ["proxy/policies/default/", "/etc/drawbridge/policies/default/"] in copies
    assert ["policies/examples/", "/etc/drawbridge/policies/examples/"] in copies
    assert not any(src.rstrip("/") == "policies/default" for args in copies for src in args[:-1])
    for args in copies:
        for src in args[:-1]:
            if not any(ch in src for ch in "*?["):
                assert (ROOT / src).exists(), f"COPY {src}: not in the repository"
            assert not dockerignored(src.rstrip("/")), f"COPY {src} is excluded by .dockerignore"


def dockerignored(path: str) -> bool:
    """Approximate Docker's .dockerignore matching: a pattern excludes a path or any parent of it,
    `**/` matches at any depth, the last matching pattern wins and `!` re-includes."""
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatchcase(PurePosixPath(p).name, pattern[3:]) for p in prefixes)
        else:
            hit = any(fnmatch.fnmatchcase(p, pattern) for p in prefixes)
        if hit:
            excluded = not negate
    return excluded


def test_dockerignore_keeps_junk_out() -> None:
    for path in (".git", ".venv", "proxy/__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache",
                 ".hypothesis", "tests", "build", "dist", "mcp_drawbridge.egg-info", ".env"):
        assert dockerignored(path), f"{path} should be excluded from the build context"
    for path in ("pyproject.toml", "proxy", "proxy/policies/default", "policies/examples", "deploy/docker"):
        assert not dockerignored(path), f"{path} is needed by the build"


def test_image_default_config(dockerfile: list[tuple[int, str, str]], tmp_path: Path) -> None:
    """The config baked into the image validates and points at what the image contains."""
    cfg = load_config(IMAGE_CONFIG)
    copies = [args.split() for _, ins, args in dockerfile if ins == "COPY" and "--from" not in args]
    rel = str(IMAGE_CONFIG.relative_to(ROOT))
    assert [rel, image_config_path(dockerfile)] in copies
    policy_copy = [a for a in copies if a[-1].rstrip("/") == str(cfg.policy)]
    assert policy_copy, f"the image config's policy {cfg.policy} is not populated by a COPY"
    assert load_policy(ROOT / policy_copy[0][0]).policy.rules
    _, port = split_listen(cfg.listen)
    assert str(port) == one_instruction(dockerfile, "EXPOSE")
    assert cfg.audit.file is None or str(cfg.audit.file).startswith("/var/lib/drawbridge/")
    assert not any(u.headers for u in cfg.upstreams), "no credentials in the image"


# ------------------------------------------------------------------------------------ kustomize


@pytest.mark.skipif(shutil.which("kubectl") is None and shutil.which("kustomize") is None,
                    reason="needs kubectl or kustomize")
def test_kustomize_builds_what_these_tests_read() -> None:
    """kustomize renders the base into the objects read above, the generated ConfigMaps with the same
    data under hashed names, so the checks in this file hold for what is applied."""
    cmd = ["kubectl", "kustomize", str(BASE)] if shutil.which("kubectl") else ["kustomize", "build", str(BASE)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert sorted(d["kind"] for d in docs) == sorted(d["kind"] for d in resources())
    (dep,) = [d for d in docs if d["kind"] == "Deployment"]
    (ctr,) = dep["spec"]["template"]["spec"]["containers"]
    assert ":" in ctr["image"], "the image must carry a tag after kustomize"
    assert all(d["metadata"].get("namespace") == "drawbridge" for d in docs if d["kind"] != "Namespace")
    for generated in generated_configmaps():
        name = generated["metadata"]["name"]
        (rendered,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith(f"{name}-")]
        assert rendered["data"] == generated["data"], name


def test_redis_state_store_is_private_and_persistent(config: Config) -> None:
    redis_set = only("StatefulSet", "drawbridge-redis")
    redis_ctr = redis_set["spec"]["template"]["spec"]["containers"][0]
    assert "--appendonly yes" in " ".join(redis_ctr["args"]) and redis_set["spec"]["volumeClaimTemplates"]
    assert '--requirepass "$REDIS_PASSWORD"' in " ".join(redis_ctr["args"]), "Redis requires the password"
    redis_env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in redis_ctr["env"]}
    proxy_env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in container().get("env", [])}
    assert config.redis is not None and config.redis.password is not None and config.redis.password.env
    assert redis_env["REDIS_PASSWORD"] == redis_env["REDISCLI_AUTH"] == proxy_env[config.redis.password.env], (
        "Redis, its probes and the proxy must use the same Secret key")
    policy = only("NetworkPolicy", "drawbridge-redis")
    sources = policy["spec"]["ingress"][0]["from"]
    assert sources == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "drawbridge"}}}]
    service = only("Service", "drawbridge-redis")
    assert config.store.startswith(f"redis://{service['metadata']['name']}.drawbridge.svc")
    assert config.admin is not None and config.admin.listen.startswith("127.0.0.1:")  # responders port-forward
