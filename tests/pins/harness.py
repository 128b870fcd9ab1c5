"""Run the real `drawbridge serve` with PinCheck wired in, until the lead integrates `pins:` in the config.

    DRAWBRIDGE_TEST_PINS='{"store": "sqlite:/tmp/p.db", "upstreams": {"wx": {"mode": "strict", "lock": "…"}}}' \
        python -m tests.pins.harness serve --config drawbridge.yaml

Everything else is the shipped code path: the CLI, the config, the HTTP data plane, the pipeline.
`launch_proxy` mirrors `tests.support.drawbridge.run_drawbridge` for either flavour.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ENV = "DRAWBRIDGE_TEST_PINS"


def _install() -> None:
    from proxy.inspections.pins import PinCheck
    from proxy.pins.settings import PinsConfig, build_enforcer
    from proxy.runtime import Runtime

    settings = PinsConfig.model_validate(json.loads(os.environ[ENV]))
    original = Runtime.build.__func__  # type: ignore[attr-defined]

    def build(cls: type[Runtime], config: Any, *, stdout_is_protocol: bool = False) -> Runtime:
        runtime: Runtime = original(cls, config, stdout_is_protocol=stdout_is_protocol)
        check = PinCheck(build_enforcer(settings, audit=runtime.auditor.emit))
        checks = list(runtime.pipeline.inspections)
        at = next((i for i, c in enumerate(checks) if type(c).__name__ == "PolicyCheck"), len(checks))
        runtime.pipeline.inspections = (*checks[:at], check, *checks[at:])
        return runtime

    Runtime.build = classmethod(build)  # type: ignore[method-assign,assignment]


@contextlib.contextmanager
def launch_proxy(tmp: Path, upstreams: dict[str, str], pins: dict[str, Any], *, integrated: bool) -> Iterator[Any]:
    """A running proxy in front of `upstreams` with the `pins:` section: in the config (integrated) or via
    this harness. Yields a `tests.support.drawbridge.Drawbridge`."""
    from tests.support.drawbridge import PERMIT_ALL, Drawbridge, free_port, run_drawbridge, wait_port

    if integrated:
        with run_drawbridge(tmp, upstreams, extra={"pins": pins}) as proxy:
            yield proxy
        return
    port = free_port()
    audit, config_path, log_path = tmp / f"audit-{port}.jsonl", tmp / f"drawbridge-{port}.yaml", tmp / f"log-{port}"
    config_path.write_text(yaml.safe_dump({
        "listen": f"127.0.0.1:{port}", "policy": str(PERMIT_ALL), "audit": {"file": str(audit)},
        "upstreams": [{"name": n, "url": u} for n, u in upstreams.items()], "log_level": "warning"}))
    repo = Path(__file__).resolve().parents[2]
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tests.pins.harness", "serve", "--config", str(config_path)],
                                stdout=log, stderr=subprocess.STDOUT, cwd=repo, start_new_session=True,
                                env={**os.environ, ENV: json.dumps(pins), "PYTHONPATH": str(repo)})
    try:
        try:
            wait_port(port, proc=proc)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}\n{log_path.read_text(errors='replace')}") from None
        yield Drawbridge(f"http://127.0.0.1:{port}", port, audit, config_path, proc, log_path)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def pins_cli(*argv: str, integrated: bool) -> subprocess.CompletedProcess[str]:
    """`drawbridge pin|pins …` as a subprocess: the integrated CLI, or `python -m proxy.pins`."""
    module = "proxy" if integrated else "proxy.pins"
    return subprocess.run([sys.executable, "-m", module, *argv], capture_output=True, text=True, timeout=120,
                          check=False)


if __name__ == "__main__":
    _install()
    from proxy.cli import main

    sys.exit(main(sys.argv[1:]))
