"""`drawbridge pins approve|reject|pending|shadows`: the review side, against the shared state store."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from proxy.errors import ConfigError
from proxy.pins import approvals as ap
from proxy.state.model import Store

if TYPE_CHECKING:
    from proxy.audit.auditor import Auditor
    from proxy.config import Config
    from proxy.state.redis_config import RedisConfig

T = TypeVar("T")
EXIT_OK, EXIT_FAILURE = 0, 1


def run_review(ns: argparse.Namespace, config: Config | None) -> int:
    """Dispatch one `pins` action; `ConfigError` for usage problems (the caller prints it)."""
    if ns.pins_command == "shadows":
        from proxy.pins.commands import find_shadows

        lines = find_shadows(ns.files)
        print("\n".join(lines) if lines else "no tool-name collisions")
        return EXIT_FAILURE if lines else EXIT_OK
    url = ns.store or _config_store(config)
    if not url:
        raise ConfigError("no pins store: give --store sqlite:PATH|redis://… or set pins.store in the config")
    redis = getattr(config, "redis", None) if url == getattr(config, "store", None) else None  # its redis: section
    if ns.pins_command == "pending":
        waiting = _with_store(url, redis, lambda store: ap.pending(store, ns.upstream))
        if ns.json:
            print(json.dumps(waiting, indent=2, sort_keys=True, ensure_ascii=True))
        else:
            print(ap.render_pending(ns.upstream, waiting))
        return EXIT_OK
    approver = ns.approver or _login()
    auditor = _auditor(ns.audit_file or (config.audit.file if config is not None else None))
    audit = auditor.emit if auditor is not None else None
    try:
        if ns.pins_command == "approve":
            try:
                done = _with_store(url, redis, lambda store: ap.approve(
                    store, ns.upstream, ns.tools, approver=approver, reason=ns.reason,
                    allow_findings=ns.allow_findings, audit=audit))
            except ap.ApprovalError as exc:
                print(f"drawbridge: {exc}", file=sys.stderr)
                return EXIT_FAILURE
            for item in done:
                print(f"approved {item.tool} on {item.upstream}: sha256 {item.sha256[:12]} by {approver}")
            if not done:
                print(f"no pending changes for upstream {ns.upstream!r}")
        else:
            rejected = _with_store(url, redis, lambda store: ap.reject(
                store, ns.upstream, ns.tools, approver=approver, reason=ns.reason, audit=audit))
            print("\n".join(f"rejected pending change of {t} on {ns.upstream}" for t in rejected)
                  or f"no pending changes to reject on {ns.upstream!r}")
    finally:
        if auditor is not None:
            auditor.close()
    if auditor is None:
        print("drawbridge: no audit file (--audit-file or audit.file in the config): the decision is recorded "
              "in the store only", file=sys.stderr)
    return EXIT_OK


def _with_store(url: str, redis: RedisConfig | None, action: Callable[[Store], Awaitable[T]]) -> T:
    from proxy.state.factory import open_store

    async def run() -> T:
        store = open_store(url, redis=redis)
        await store.start()
        try:
            return await action(store)
        finally:
            await store.close()

    return anyio.run(run)


def _config_store(config: Config | None) -> str | None:
    """`pins.store`, else the proxy's own state store (`store:`), from the config."""
    pins: Any = getattr(config, "pins", None)
    store = getattr(pins, "store", None) or getattr(config, "store", None)
    return store if isinstance(store, str) else None


def _auditor(path: Path | None) -> Auditor | None:
    if path is None:
        return None
    from proxy.audit.auditor import Auditor, FdSink

    return Auditor([FdSink.open_file(Path(path))])


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
