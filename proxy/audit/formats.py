"""Line formats of a sink: `native` (the event as written) or `ocsf` (proxy.audit.ocsf.to_ocsf)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import orjson

from proxy.errors import ConfigError

Formatter = Callable[[bytes], bytes]


def native(line: bytes) -> bytes:
    return line


def formatter(name: str) -> Formatter:
    """The function turning a native line into this format's line (a JSON object and its newline)."""
    if name == "native":
        return native
    try:  # imported here: the mapping is only loaded by a sink that uses it
        to_ocsf: Callable[[dict[str, Any]], dict[str, Any]] = importlib.import_module("proxy.audit.ocsf").to_ocsf
    except (ImportError, AttributeError):
        raise ConfigError("audit format ocsf is not available in this build (proxy.audit.ocsf)") from None

    def ocsf(line: bytes) -> bytes:
        return orjson.dumps(to_ocsf(orjson.loads(line)), option=orjson.OPT_APPEND_NEWLINE)

    return ocsf
