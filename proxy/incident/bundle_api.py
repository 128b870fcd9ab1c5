"""Admin-API routes for the evidence bundle: `POST /v1/incident/export` answers the `.tar.gz` (and audits the
export with the bundle's SHA-256), `POST /v1/incident/verify` checks one sent as the body."""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from proxy.admin.routes_base import AdminPlane, ApiError, Endpoint, actor_of, json_response, read_model
from proxy.incident.auditlog import subject_and_window
from proxy.incident.bundle import verify_bundle
from proxy.incident.export import export_bundle

MAX_BUNDLE_BYTES = 256 * 1024 * 1024  # a bundle sent to verify


class ExportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    principal: str | None = Field(default=None, max_length=256)
    agent: str | None = Field(default=None, max_length=256)
    session: str | None = Field(default=None, max_length=256)
    since: str | None = Field(default=None, max_length=32)
    start: str | None = Field(default=None, alias="from", max_length=64)
    end: str | None = Field(default=None, alias="to", max_length=64)


async def incident_export(plane: AdminPlane, request: Request) -> Response:
    """The bundle for one subject, from this replica's audit files and every replica's evidence."""
    body = await read_model(request, ExportBody)
    try:
        scope, since, until = subject_and_window(body.principal, body.agent, body.session, body.since, body.start,
                                                 body.end)
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None
    config, paths = plane.deps.config, plane.deps.audit_paths()
    if config is None or not paths:
        raise ApiError(404, "no_audit_file", "this replica has written no audit file (configure a file sink)")
    actor = actor_of(request)
    with tempfile.TemporaryDirectory(prefix="drawbridge-bundle-") as tmp:
        out = Path(tmp) / "bundle.tar.gz"
        try:
            done = await export_bundle(config, plane.deps.store, scope, out, audit_paths=paths, since=since,
                                       until=until, exported_by=actor, replica_id=plane.deps.replica_id)
        except OSError as exc:
            raise ApiError(503, "audit_unreadable", f"cannot read {exc.filename}: {exc.strerror or exc}") from None
        data = await anyio.to_thread.run_sync(out.read_bytes)
    plane.audit("incident_export", actor=actor, kind=scope.kind, subject=scope.value, bundle_sha256=done.sha256,
                events=done.events, evidence=done.evidence, exposures=done.exposures)
    name = f"incident-{scope.kind}-{done.sha256[:12]}.tar.gz"
    return Response(data, media_type="application/gzip", headers={
        "x-drawbridge-bundle-sha256": done.sha256, "content-disposition": f'attachment; filename="{name}"'})


async def incident_verify(plane: AdminPlane, request: Request) -> Response:
    """`{"ok", "problems"}` for a bundle sent as the body (application/gzip, at most 256 MiB)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BUNDLE_BYTES:
        raise ApiError(413, "too_large", f"a bundle is checked up to {MAX_BUNDLE_BYTES} bytes")
    with tempfile.TemporaryDirectory(prefix="drawbridge-verify-") as tmp:
        path, size = Path(tmp) / "bundle.tar.gz", 0
        with path.open("wb") as sink:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BUNDLE_BYTES:
                    raise ApiError(413, "too_large", f"a bundle is checked up to {MAX_BUNDLE_BYTES} bytes")
                sink.write(chunk)
        problems = await anyio.to_thread.run_sync(verify_bundle, path)
    return json_response({"ok": not problems, "problems": problems})


BUNDLE_ENDPOINTS = (
    Endpoint("POST", "/v1/incident/export", incident_export, "The evidence bundle of one subject (.tar.gz): "
             "timeline, events, every replica's evidence, policy, secrets to rotate, report", "observe",
             body=ExportBody),
    Endpoint("POST", "/v1/incident/verify", incident_verify, "Check a bundle (the body) against its manifest",
             "observe"),
)
