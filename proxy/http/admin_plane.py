"""Build the admin API for a running data plane (its own listener, loopback by default)."""

from __future__ import annotations

from functools import partial

from starlette.applications import Starlette

from proxy.admin.app import AdminDeps, build_admin_app
from proxy.admin.auth import check_listen
from proxy.config import Config
from proxy.incident.auditlog import audit_files
from proxy.runtime import Runtime


def build_admin(runtime: Runtime, config: Config) -> tuple[Starlette, str, int] | None:
    """The admin app with where it listens (None when `admin` is not configured)."""
    if config.admin is None:
        return None
    labels = config.admin.token_labels()
    host, port = check_listen(config.admin.listen, labels)
    deps = AdminDeps(store=runtime.store, audit=runtime.auditor.emit, sessions=runtime.sessions,
                     evidence=runtime.evidence, containment=runtime.containment, tokens=frozenset(labels),
                     token_labels=labels, audit_paths=partial(audit_files, config), policy=runtime.holder,
                     config=config, replica_id=runtime.replicas.replica_id, scrape=runtime.scrape(),
                     approvals=runtime.approvals)
    return build_admin_app(deps), host, port
