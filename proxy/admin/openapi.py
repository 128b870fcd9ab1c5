"""The OpenAPI 3.1 document, built from the same route table as the router (one source of truth)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from proxy import __version__

from .routes_base import MAX_BODY_BYTES, Endpoint

_PATH_PARAM = re.compile(r"{([a-z_]+)}")
_ERRORS = {"400": "invalid body (bad JSON, unknown key, bad value)", "401": "missing or invalid admin token",
           "404": "no such entry", "409": "conflicts with the current state", "413": "body over 64 KiB",
           "415": "body is not application/json", "502": "the data plane failed to end sessions",
           "503": "state store unavailable"}
_ERROR_SCHEMA = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}


def _operation(ep: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": ep.summary, "tags": [ep.tag],
        "operationId": ep.method.lower() + "_" + re.sub(r"[^a-z0-9]+", "_", ep.path.lower()).strip("_"),
        "responses": {str(ep.status): {"description": "success", "content": {
            "application/json": {"schema": {"type": "object"}}}}},
    }
    params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
              for n in _PATH_PARAM.findall(ep.path)]
    params += [{"name": n, "in": "query", "required": False, "description": d, "schema": {"type": "string"}}
               for n, d in ep.query]
    if params:
        op["parameters"] = params
    codes = ["401"]
    if ep.body is not None:
        schema = ep.body.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[ep.body.__name__] = schema
        op["requestBody"] = {"required": True, "description": f"JSON object, at most {MAX_BODY_BYTES} bytes",
                             "content": {"application/json": {
                                 "schema": {"$ref": f"#/components/schemas/{ep.body.__name__}"}}}}
        codes += ["400", "409", "413", "415", "503"]
    if "{" in ep.path or ep.body is not None:
        codes.append("404")
    if ep.path == "/v1/sessions/kill":
        codes.append("502")
    for code in sorted(set(codes)):
        op["responses"][code] = {"description": _ERRORS[code], "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return op


def build_openapi(endpoints: Iterable[Endpoint]) -> dict[str, Any]:
    """The document served at GET /v1/openapi.json."""
    schemas: dict[str, Any] = {"Error": _ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        paths.setdefault(ep.path, {})[ep.method.lower()] = _operation(ep, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Drawbridge admin API", "version": __version__,
                 "description": "Containment for incident responders: quarantine, release, kill sessions, "
                                "deny tools and egress, evidence. Every request needs an admin bearer token."},
        "security": [{"adminToken": []}],
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}}},
    }
