"""The Kubernetes overlays as `kubectl apply -k` sends them.

Each kustomization is rendered by `kubectl kustomize` (no cluster needed), every object is validated
against the Kubernetes API schemas of a fixed version with `kubernetes-validate` (strict: no unknown
field), the production overlay's promises are checked on the rendered objects, the drawbridge.yaml
inside each rendered ConfigMap passes `drawbridge config check`, and the Redis command, password and
probes of the manifests run against a real redis-server with a real proxy in front of it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest
import yaml
from kubernetes_validate import utils as kube_validate  # type: ignore[import-untyped]

from proxy.config import Config
from tests.deploy.test_manifests import BASE, CONFIG_KEY, K8S, SECRET_EXAMPLE, yaml_docs
from tests.support.drawbridge import free_port, run_module_server, stop_group, wait_port

KUBERNETES_VERSION = "1.32.0"  # the API the manifests are validated against (the oldest we support)
PRODUCTION = K8S / "overlays" / "production"
DEV = K8S / "overlays" / "dev"
AUTOSCALING = K8S / "components" / "autoscaling"
KUSTOMIZE = ["kubectl", "kustomize"] if shutil.which("kubectl") else ["kustomize", "build"]

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None and shutil.which("kustomize") is None,
                                reason="needs kubectl or kustomize")


# ------------------------------------------------------------------------------------------ helpers


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """The objects `kubectl apply -k DIRECTORY` would send."""
    out = subprocess.run([*KUSTOMIZE, str(directory)], check=True, capture_output=True, text=True, timeout=60).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@functools.cache
def rendered(name: str) -> tuple[dict[str, Any], ...]:
    """A variant by name, rendered once; `autoscaling` is production with the autoscaling component."""
    if name == "autoscaling":
        return tuple(kustomize_with_component(PRODUCTION, AUTOSCALING))
    return tuple(kustomize({"top": K8S, "base": BASE, "dev": DEV, "production": PRODUCTION}[name]))


def kustomize_with_component(overlay: Path, component: Path) -> list[dict[str, Any]]:
    """An overlay plus a component, as an operator's own kustomization would combine them."""
    with tempfile.TemporaryDirectory(prefix="drawbridge-kustomize-") as name:
        tmp = Path(name)
        rel = functools.partial(os.path.relpath, start=tmp)  # kustomize refuses absolute paths
        (tmp / "kustomization.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": [rel(overlay)], "components": [rel(component)]}))
        return kustomize(tmp)


VARIANTS = ("base", "dev", "production", "autoscaling")


def one(docs: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def configmap(docs: tuple[dict[str, Any], ...], generator: str) -> dict[str, Any]:
    """The ConfigMap a configMapGenerator entry produced: `<generator>-<hash>`."""
    found = [d for d in docs if d["kind"] == "ConfigMap" and re.fullmatch(rf"{generator}-[a-z0-9]{{10}}",
                                                                           d["metadata"]["name"])]
    assert len(found) == 1, f"expected one generated ConfigMap {generator}-<hash>, found {len(found)}"
    return found[0]


def pod_spec(docs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    spec: dict[str, Any] = one(docs, "Deployment", "drawbridge")["spec"]["template"]["spec"]
    return spec


def proxy_container(docs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    (ctr,) = pod_spec(docs)["containers"]
    return dict(ctr)


def redis_container(docs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    (ctr,) = one(docs, "StatefulSet", "drawbridge-redis")["spec"]["template"]["spec"]["containers"]
    return dict(ctr)


def pod_labels(docs: tuple[dict[str, Any], ...]) -> dict[str, str]:
    labels: dict[str, str] = one(docs, "Deployment", "drawbridge")["spec"]["template"]["metadata"]["labels"]
    return labels


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def secret_examples() -> dict[tuple[str, str], str]:
    """(Secret name, key) -> the example value of secret.example.yaml."""
    return {(doc["metadata"]["name"], key): value for doc in yaml_docs(SECRET_EXAMPLE)
            for key, value in {**doc.get("stringData", {}), **doc.get("data", {})}.items()}


def container_env(ctr: dict[str, Any]) -> dict[str, str]:
    """The container's environment with each Secret reference filled from secret.example.yaml."""
    examples = secret_examples()
    env = {}
    for var in ctr.get("env", []):
        ref = var.get("valueFrom", {}).get("secretKeyRef")
        env[var["name"]] = examples[(ref["name"], ref["key"])] if ref else var["value"]
    return env


def config_and_policy(docs: tuple[dict[str, Any], ...], tmp: Path) -> tuple[Path, Path]:
    """Write the rendered drawbridge.yaml and the projected policy files under `tmp`: (config, policy dir)."""
    volumes = {v["name"]: v for v in pod_spec(docs)["volumes"]}
    config_path = tmp / CONFIG_KEY
    config_path.write_text(configmap(docs, "drawbridge-config")["data"][CONFIG_KEY], encoding="utf-8")
    policies = configmap(docs, "drawbridge-policies")["data"]
    root = tmp / "policies"
    for item in volumes["policies"]["configMap"]["items"]:
        target = root / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(policies[item["key"]], encoding="utf-8")
    config = Config.model_validate(yaml.safe_load(config_path.read_text(encoding="utf-8")))
    mount = next(m for m in proxy_container(docs)["volumeMounts"] if m["name"] == "policies")
    return config_path, root / PurePosixPath(config.policy).relative_to(mount["mountPath"])


def loaded_config(docs: tuple[dict[str, Any], ...]) -> Config:
    text = configmap(docs, "drawbridge-config")["data"][CONFIG_KEY]
    return Config.model_validate(yaml.safe_load(text))


def listen_port(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


# ------------------------------------------------------------------------------ render and validate


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_rendered_object_validates_against_the_kubernetes_api(variant: str) -> None:
    docs = rendered(variant)
    assert docs
    for doc in docs:
        try:
            kube_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kube_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{variant}: {doc['kind']}/{doc['metadata']['name']}: {path}: {exc.message}")
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "drawbridge", f"{doc['kind']}/{doc['metadata']['name']}"
    assert not [d for d in docs if d["kind"] == "Secret"], "Secrets are created by the operator, never applied from git"


def test_validation_is_strict() -> None:
    """An unknown field (a typo) fails, so the check above means something."""
    deployment = json.loads(json.dumps(one(rendered("production"), "Deployment", "drawbridge")))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/readyz"}}
    with pytest.raises(kube_validate.ValidationError, match="readinesProbe"):
        kube_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_top_level_kustomization_applies_production() -> None:
    assert rendered("top") == rendered("production")


@pytest.mark.parametrize("variant", VARIANTS)
def test_generated_configmaps_are_the_ones_the_pods_mount(variant: str) -> None:
    docs = rendered(variant)
    volumes = {v["name"]: v["configMap"] for v in pod_spec(docs)["volumes"] if "configMap" in v}
    config_cm, policies_cm = configmap(docs, "drawbridge-config"), configmap(docs, "drawbridge-policies")
    assert volumes["config"]["name"] == config_cm["metadata"]["name"]
    assert volumes["policies"]["name"] == policies_cm["metadata"]["name"]
    assert {i["key"] for i in volumes["policies"]["items"]} == set(policies_cm["data"]), (
        "deployment.yaml must project every policy file of the generator")
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"} == {
        config_cm["metadata"]["name"], policies_cm["metadata"]["name"]}


def test_a_policy_or_config_change_rolls_the_deployment(tmp_path: Path) -> None:
    """Editing a policy file (or drawbridge.yaml) renders a ConfigMap with a new name, and the pod template
    that mounts it changes with it: `kubectl apply -k` starts a rollout."""
    tree = tmp_path / "kubernetes"
    shutil.copytree(K8S, tree)
    before = rendered("production")
    with (tree / "base" / "policies" / "10-demo-tools.yaml").open("a", encoding="utf-8") as fh:
        fh.write("# edited\n")
    after_policy = tuple(kustomize(tree / "overlays" / "production"))
    with (tree / "overlays" / "production" / CONFIG_KEY).open("a", encoding="utf-8") as fh:
        fh.write("# edited\n")
    after_config = tuple(kustomize(tree / "overlays" / "production"))

    def names(docs: tuple[dict[str, Any], ...]) -> tuple[str, str]:
        return configmap(docs, "drawbridge-config")["metadata"]["name"], \
            configmap(docs, "drawbridge-policies")["metadata"]["name"]

    def template(docs: tuple[dict[str, Any], ...]) -> Any:
        return one(docs, "Deployment", "drawbridge")["spec"]["template"]

    assert names(after_policy)[0] == names(before)[0] and names(after_policy)[1] != names(before)[1]
    assert names(after_config)[0] != names(after_policy)[0]
    assert template(before) != template(after_policy) != template(after_config)


# ---------------------------------------------------------------------------------- the proxy config


@pytest.mark.parametrize("variant", ["base", "production"])
def test_rendered_config_passes_config_check(variant: str, tmp_path: Path) -> None:
    """The drawbridge.yaml each overlay ships, with the policy set it mounts and the environment its
    container gets (Secrets filled from secret.example.yaml), passes `drawbridge config check` cleanly."""
    docs = rendered(variant)
    config_path, policy_dir = config_and_policy(docs, tmp_path)
    env = {**os.environ, **container_env(proxy_container(docs))}
    result = subprocess.run([sys.executable, "-m", "proxy", "config", "check", "--json", "--policy", str(policy_dir),
                             str(config_path)], capture_output=True, text=True, timeout=60, env=env)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["ok"], report["problems"]
    assert report["warnings"] == [], report["warnings"]


# ------------------------------------------------------------------------------------ production


def test_production_runs_three_replicas_spread_over_nodes_and_zones() -> None:
    docs = rendered("production")
    assert one(docs, "Deployment", "drawbridge")["spec"]["replicas"] >= 3
    spread = {c["topologyKey"]: c for c in pod_spec(docs)["topologySpreadConstraints"]}
    assert set(spread) == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    assert spread["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule", "never two replicas on a node"
    for constraint in spread.values():
        assert constraint["maxSkew"] == 1
        assert selects(constraint["labelSelector"]["matchLabels"], pod_labels(docs))


def test_production_disruption_budgets() -> None:
    docs = rendered("production")
    replicas = one(docs, "Deployment", "drawbridge")["spec"]["replicas"]
    pdb = one(docs, "PodDisruptionBudget", "drawbridge")["spec"]
    assert selects(pdb["selector"]["matchLabels"], pod_labels(docs))
    assert pdb.get("maxUnavailable") == 1 or pdb.get("minAvailable", 0) >= 2, pdb
    assert "minAvailable" not in pdb or "maxUnavailable" not in pdb
    assert replicas - pdb.get("maxUnavailable", replicas - pdb.get("minAvailable", 0)) >= 2, "two stay up in a drain"
    redis_pdb = one(docs, "PodDisruptionBudget", "drawbridge-redis")["spec"]
    redis_labels = one(docs, "StatefulSet", "drawbridge-redis")["spec"]["template"]["metadata"]["labels"]
    assert selects(redis_pdb["selector"]["matchLabels"], redis_labels)


def test_production_redis_requires_the_password_from_a_secret() -> None:
    docs = rendered("production")
    redis_ctr = redis_container(docs)
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in redis_ctr["env"]}
    assert refs["REDIS_PASSWORD"] == refs["REDISCLI_AUTH"], "the probes authenticate with the server's password"
    assert '--requirepass "$REDIS_PASSWORD"' in " ".join(redis_ctr["args"])
    for probe in ("readinessProbe", "livenessProbe"):
        assert "redis-cli ping" in " ".join(redis_ctr[probe]["exec"]["command"]), probe
    config = loaded_config(docs)
    assert config.redis is not None and config.redis.password is not None
    proxy_refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in proxy_container(docs)["env"]}
    assert proxy_refs[str(config.redis.password.env)] == refs["REDIS_PASSWORD"]
    assert config.store.startswith("redis://drawbridge-redis.drawbridge.svc")


def test_production_prometheus_scrapes_the_admin_listener() -> None:
    """The scrape annotations name the port the admin listener (with /metrics) listens on, the container
    declares it, and a NetworkPolicy lets the monitoring namespace reach exactly that port."""
    docs = rendered("production")
    annotations = one(docs, "Deployment", "drawbridge")["spec"]["template"]["metadata"]["annotations"]
    config = loaded_config(docs)
    assert config.admin is not None
    port = listen_port(config.admin.listen)
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == port
    assert config.admin.listen.startswith("0.0.0.0:"), "Prometheus scrapes from outside the pod"
    assert port in {p["containerPort"] for p in proxy_container(docs)["ports"]}
    metrics = one(docs, "NetworkPolicy", "drawbridge-metrics")["spec"]
    assert selects(metrics["podSelector"]["matchLabels"], pod_labels(docs))
    (rule,) = metrics["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": port}]
    assert all("namespaceSelector" in peer and "ipBlock" not in peer for peer in rule["from"])


@pytest.mark.parametrize("variant", ["base", "production"])
def test_termination_grace_outlasts_prestop_and_drain(variant: str) -> None:
    docs = rendered(variant)
    ctr = proxy_container(docs)
    pre_stop = ctr["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    grace = pod_spec(docs)["terminationGracePeriodSeconds"]
    drain = loaded_config(docs).drain_timeout_seconds
    assert int(pre_stop[1]) + drain + 5 <= grace, "SIGKILL would cut the drain or the audit flush short"


def test_dev_runs_one_replica_without_a_disruption_budget() -> None:
    docs = rendered("dev")
    assert one(docs, "Deployment", "drawbridge")["spec"]["replicas"] == 1
    assert not [d for d in docs if d["kind"] == "PodDisruptionBudget" and d["metadata"]["name"] == "drawbridge"], (
        "a budget for a single replica would block every node drain")


def test_autoscaling_owns_the_replica_count() -> None:
    docs = rendered("autoscaling")
    hpa = one(docs, "HorizontalPodAutoscaler", "drawbridge")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "drawbridge"}
    assert 3 <= hpa["minReplicas"] < hpa["maxReplicas"]
    assert "replicas" not in one(docs, "Deployment", "drawbridge")["spec"], "apply would reset the scaled count"


# -------------------------------------------------------------------- Redis and proxy, for real


@contextlib.contextmanager
def redis_as_rendered(tmp: Path, password: str) -> Iterator[tuple[subprocess.Popen[bytes], int, dict[str, str]]]:
    """The production StatefulSet's Redis command run here: the image's entrypoint and redis-cli are stood
    in for by shims that pin a free loopback port and put /data in a temp dir. Yields (process, port, env)."""
    redis_ctr = redis_container(rendered("production"))
    port = free_port()
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    cli = shutil.which("redis-cli")
    (bin_dir / "docker-entrypoint.sh").write_text(  # the volume's /data becomes the temp dir
        f'#!/bin/sh\nfor a; do shift; [ "$a" = /data ] && a={data}; set -- "$@" "$a"; done\n'
        f'exec "$@" --protected-mode no --port {port} --bind 127.0.0.1\n')
    (bin_dir / "redis-cli").write_text(f'#!/bin/sh\nexec {cli} -p {port} "$@"\n')
    for shim in bin_dir.iterdir():
        shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "REDIS_PASSWORD": password,
           "REDISCLI_AUTH": password}
    proc = subprocess.Popen([*redis_ctr["command"], *redis_ctr["args"]], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        yield proc, port, env
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None or shutil.which("redis-cli") is None,
                                 reason="needs redis-server and redis-cli")


@needs_redis
def test_rendered_redis_refuses_an_empty_password(tmp_path: Path) -> None:
    with redis_as_rendered(tmp_path, "") as (proc, _, _):
        assert proc.wait(10) != 0
        assert proc.stderr is not None and b"password" in proc.stderr.read()


@needs_redis
def test_rendered_redis_probes_and_proxy_authenticate(tmp_path: Path) -> None:
    """Redis started as the StatefulSet starts it answers its probes only with the Secret's password, and
    the production proxy config, given that password as its container is, is ready; with another password
    the proxy stays unready (fail closed)."""
    docs = rendered("production")
    redis_ctr = redis_container(docs)
    password = "rendered-redis-password"
    with redis_as_rendered(tmp_path, password) as (_, port, env), run_module_server("proxy.demo.server") as mcp:
        wait_port(port)
        for probe in ("readinessProbe", "livenessProbe"):
            command = redis_ctr[probe]["exec"]["command"]
            assert subprocess.run(command, env=env, timeout=10).returncode == 0, probe
            for wrong in ({k: v for k, v in env.items() if k != "REDISCLI_AUTH"}, {**env, "REDISCLI_AUTH": "nope"}):
                assert subprocess.run(command, env=wrong, timeout=10, capture_output=True).returncode != 0, probe

        config_path, policy_dir = config_and_policy(docs, tmp_path)
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        proxy_port, admin_port = free_port(), free_port()
        config.update(listen=f"127.0.0.1:{proxy_port}", policy=str(policy_dir),  # container paths and names
                      audit={"file": str(tmp_path / "audit.jsonl")}, store=f"redis://127.0.0.1:{port}/0",
                      upstreams=[{**config["upstreams"][0], "url": mcp}],
                      admin={**config["admin"], "listen": f"127.0.0.1:{admin_port}",
                             "evidence_dir": str(tmp_path / "evidence")})
        config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        pod_env = container_env(proxy_container(docs))
        with serve(config_path, {**pod_env, "REDIS_PASSWORD": password}, proxy_port) as base_url:
            ready = wait_ready(base_url)
            assert ready.status_code == 200, ready.text
        with serve(config_path, {**pod_env, "REDIS_PASSWORD": "not-the-password"}, proxy_port) as base_url:
            ready = httpx.get(f"{base_url}/readyz", timeout=5)
            assert ready.status_code == 503, ready.text


@contextlib.contextmanager
def serve(config_path: Path, env: dict[str, str], port: int) -> Iterator[str]:
    """`drawbridge serve --config FILE` with the pod's environment; its base URL once it listens."""
    log = config_path.with_suffix(".log")
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "proxy", "serve", "--config", str(config_path)],
                                env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            wait_port(port, proc=proc)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}\n{log.read_text(errors='replace')}") from None
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_group(proc)


def wait_ready(base_url: str, timeout: float = 10.0) -> httpx.Response:
    """GET /readyz until it answers 200 or `timeout` passes; the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = httpx.get(f"{base_url}/readyz", timeout=5)
        if answer.status_code == 200 or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)
