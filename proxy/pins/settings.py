"""The `pins:` configuration section and how to build the enforcer from it.

    pins:
      store: sqlite:/var/lib/drawbridge/pins.db   # optional; default: the proxy's state store
      block_severity: SEV-3                       # poisoning findings at or above this block pinning
      shadow_priority: [internal, github]         # optional: which upstream keeps a colliding name
      upstreams:
        weather: {mode: strict, lock: pins/weather.lock.json}
        github:  {mode: tofu}                     # lock optional (null: approvals only)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from proxy.errors import ConfigError
from proxy.pins import lockfile
from proxy.pins.approvals import AuditFn
from proxy.pins.enforcer import PinEnforcer
from proxy.pins.poison import DefinitionScanner, scan_definition
from proxy.pins.view import Mode
from proxy.state.model import Store
from proxy.types import Severity

log = logging.getLogger("drawbridge.pins")
SEVERITIES = {"SEV-1": Severity.SEV1, "SEV-2": Severity.SEV2, "SEV-3": Severity.SEV3, "SEV-4": Severity.SEV4}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PinUpstream(_Strict):
    mode: Mode = "strict"
    lock: Path | None = None


class PinsConfig(_Strict):
    store: str | None = None
    upstreams: dict[str, PinUpstream] = Field(default_factory=dict)
    block_severity: Literal["SEV-1", "SEV-2", "SEV-3", "SEV-4"] = "SEV-3"
    shadow_priority: tuple[str, ...] = ()
    refresh_seconds: float = Field(default=1.0, ge=0, le=300)

    @property
    def severity(self) -> Severity:
        return SEVERITIES[self.block_severity]


def build_enforcer(config: PinsConfig, *, audit: AuditFn | None = None, store: Store | None = None,
                   scanner: DefinitionScanner = scan_definition) -> PinEnforcer:
    """Load the lock files and wire the enforcer (its store starts lazily on first use).

    `store` is the proxy's already-started state store, used when `config.store` is not set; with
    neither, pins live in memory on this replica only (a warning says so). Raises `ConfigError`.
    """
    from proxy.state.factory import open_store

    locks: dict[str, lockfile.Lockfile | None] = {}
    for name, up in config.upstreams.items():
        lock = lockfile.load(up.lock) if up.lock is not None else None
        if lock is not None and lock.upstream != name:
            raise ConfigError(f"pins file {up.lock} pins upstream {lock.upstream!r}, configured for {name!r} "
                              f"(re-pin with: drawbridge pin {name} -o {up.lock})")
        if up.mode == "strict" and lock is None:
            log.warning("pins: upstream %s is strict without a lock file: nothing is visible until approved", name)
        locks[name] = lock
    owns = store is None or config.store is not None
    if config.store is not None:
        store = open_store(config.store)
    elif store is None:
        log.warning("pins: no state store configured; approvals live in memory on this replica only")
        store = open_store("sqlite::memory:")
    return PinEnforcer(store, {n: u.mode for n, u in config.upstreams.items()}, locks, scanner, audit,
                       block_severity=config.severity, shadow_priority=config.shadow_priority, owns_store=owns,
                       refresh_seconds=config.refresh_seconds)


def section_from_flags(pin_files: Sequence[Path], mode: Mode, upstream_names: Sequence[str]) -> dict[str, Any]:
    """`serve --pins FILE… --pin-mode MODE` as a `pins:` section; each lock file names its upstream.

    Without files the mode applies to every configured upstream (useful for `tofu` and `alert`).
    """
    if not pin_files:
        return {"upstreams": {name: {"mode": mode, "lock": None} for name in upstream_names}}
    upstreams: dict[str, Any] = {}
    for path in pin_files:
        lock = lockfile.load(path)
        if lock.upstream not in upstream_names:
            raise ConfigError(f"pins file {path} is for upstream {lock.upstream!r}, which is not configured "
                              f"(configured: {', '.join(upstream_names) or 'none'}; re-pin with --name)")
        upstreams[lock.upstream] = {"mode": mode, "lock": str(path)}
    return {"upstreams": upstreams}
