"""Helpers for the pins end-to-end tests: the real proxy with a `pins:` section, and the real CLI."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.drawbridge import Drawbridge, run_drawbridge


@contextlib.contextmanager
def launch_proxy(tmp: Path, upstreams: dict[str, str], pins: dict[str, Any]) -> Iterator[Drawbridge]:
    """`drawbridge serve` in front of `upstreams` with `pins:` in its drawbridge.yaml."""
    with run_drawbridge(tmp, upstreams, extra={"pins": pins}) as proxy:
        yield proxy


def pins_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    """`drawbridge pin|pins …` as a subprocess."""
    return subprocess.run([sys.executable, "-m", "proxy", *argv], capture_output=True, text=True, timeout=120,
                          check=False)
