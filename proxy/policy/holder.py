"""The live policy: one reference swapped whole on reload; a bad set never replaces a good one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from proxy.errors import PolicyError
from proxy.policy.engine import Policy
from proxy.policy.loader import LoadedPolicy, load_policy, policy_files

log = logging.getLogger("drawbridge.policy")

ReloadListener = Callable[[bool, str, str], None]  # (ok, policy version, detail)


class PolicyHolder:
    """Holds the compiled policy in force and reloads it on demand or on file change."""

    def __init__(self, directory: Path, listener: ReloadListener | None = None) -> None:
        self.directory = directory
        self._listener = listener
        self._loaded = load_policy(directory)
        self._signature = self._scan()
        for warning in self._loaded.warnings:
            log.warning("policy: %s", warning)

    @property
    def policy(self) -> Policy:
        return self._loaded.policy

    @property
    def loaded(self) -> LoadedPolicy:
        return self._loaded

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        try:
            files = policy_files(self.directory)
            return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        except (OSError, PolicyError):
            return ()

    def reload(self) -> bool:
        """Compile the directory again and swap it in; on error keep the old set and report."""
        self._signature = self._scan()
        try:
            fresh = load_policy(self.directory)
        except PolicyError as exc:
            log.error("policy reload refused, %s stays in force: %s", self.policy.version, exc)
            if self._listener:
                self._listener(False, self.policy.version, str(exc))
            return False
        old = self.policy.version
        self._loaded = fresh
        for warning in fresh.warnings:
            log.warning("policy: %s", warning)
        log.info("policy reloaded: %s -> %s", old, fresh.policy.version)
        if self._listener:
            self._listener(True, fresh.policy.version, f"replaced {old}")
        return True

    def changed_on_disk(self) -> bool:
        return self._scan() != self._signature

    async def watch(self, interval: float = 1.0) -> None:
        """Poll the directory and reload when a file changes (runs until cancelled)."""
        while True:
            await asyncio.sleep(interval)
            if self.changed_on_disk():
                self.reload()
