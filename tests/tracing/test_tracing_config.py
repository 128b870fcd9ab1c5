"""The `tracing:` section as an operator meets it: checked by `config check`, refused at start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support.drawbridge import free_port


def _drawbridge(tmp_path: Path, tracing: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "drawbridge.yaml"
    config.write_text(yaml.safe_dump({
        "listen": f"127.0.0.1:{free_port()}", "store": f"sqlite:{tmp_path}/state.db",
        "audit": {"file": str(tmp_path / "audit.jsonl")},
        "upstreams": [{"name": "default", "url": "http://127.0.0.1:9/mcp"}], "tracing": tracing}))
    return subprocess.run([sys.executable, "-m", "proxy", *args, str(config)], capture_output=True, text=True,
                          timeout=30, check=False, env={"PATH": "/usr/bin:/bin"})


def test_serve_refuses_to_start_when_the_collectors_secret_is_missing(tmp_path: Path) -> None:
    tracing = {"enabled": True, "headers": {"authorization": {"env": "DRAWBRIDGE_TEST_NO_SUCH_TOKEN"}}}
    done = _drawbridge(tmp_path, tracing, "serve", "--config")
    assert done.returncode == 2
    assert "tracing header authorization: environment variable DRAWBRIDGE_TEST_NO_SUCH_TOKEN is not set" \
        in done.stderr


def test_config_check_names_a_batch_larger_than_its_queue(tmp_path: Path) -> None:
    done = _drawbridge(tmp_path, {"enabled": True, "batch_size": 100, "queue_size": 10}, "config", "check")
    assert done.returncode == 2
    assert done.stderr.strip() == f"{tmp_path / 'drawbridge.yaml'}: tracing: batch_size must not exceed queue_size"
