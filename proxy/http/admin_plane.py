"""Build the admin API for a running data plane (its own listener, loopback by default)."""

from __future__ import annotations

from starlette.applications import Starlette

from proxy.admin.app import AdminDeps, build_admin_app
from proxy.admin.auth import check_listen
from proxy.config import Config
from proxy.containment.revocation import TokenRevoker
from proxy.containment.webhook import ContainmentNotifier
from proxy.http.containment import PlaneContainment
from proxy.runtime import Runtime


def build_admin(runtime: Runtime, config: Config, containment: PlaneContainment) -> tuple[Starlette, str, int] | None:
    """Wire the containment side effects (webhook, token revocation) into the data plane and automated
    containment, and build the admin app with where it listens (None when `admin` is not configured)."""
    audit = runtime.auditor.emit
    cc = config.containment
    notifier = ContainmentNotifier.from_config(cc.webhook, audit) if cc.webhook else None
    revoker = TokenRevoker.from_config(cc.revocation) if cc.revocation else None
    containment.plane.revoker = revoker
    runtime.auto.notifier = notifier
    if config.admin is None:
        return None
    labels = config.admin.token_labels()
    host, port = check_listen(config.admin.listen, labels)
    deps = AdminDeps(
        store=runtime.store, audit=audit, sessions=containment, evidence=runtime.evidence,
        snapshot_context=runtime.snapshot_context, notifier=notifier, revoker=revoker,
        tokens=frozenset(labels), token_labels=labels,
    )
    return build_admin_app(deps), host, port
