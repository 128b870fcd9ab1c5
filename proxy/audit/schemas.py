"""The published JSON Schemas of the native audit events (`proxy/audit/schemas/`), and a validator.

`python -m proxy.audit.schemas AUDIT.jsonl` checks every line of an audit file; exit 1 when one does not fit.
"""

from __future__ import annotations

import sys
from functools import cache
from importlib.resources import files
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

_FOLDER = files("proxy.audit") / "schemas"
SHARED = "defs.schema.json"


def _load(name: str) -> Any:
    return orjson.loads((_FOLDER / name).read_bytes())


@cache
def event_types() -> dict[str, str]:
    """Every native event type, and the file of its schema."""
    events: dict[str, str] = _load("index.json")["events"]
    return events


def schema_for(event_type: str) -> dict[str, Any]:
    """The JSON Schema of one event type (KeyError for an unknown one)."""
    schema: dict[str, Any] = _load(event_types()[event_type])
    return schema


@cache
def _registry() -> Registry[Any]:
    names = [SHARED, *event_types().values()]
    return Registry().with_resources(
        (name, Resource.from_contents(_load(name), default_specification=DRAFT202012)) for name in names)


@cache
def _validator(event_type: str) -> Draft202012Validator:
    return Draft202012Validator(schema_for(event_type), registry=_registry())


def validate_event(event: dict[str, Any]) -> list[str]:
    """Problems with one event, as a sink would write it (empty when it fits its schema)."""
    try:
        written = orjson.loads(orjson.dumps(event))
    except TypeError as exc:
        return [f"not JSON: {exc}"]
    event_type = written.get("event_type") if isinstance(written, dict) else None
    if not isinstance(event_type, str):
        return ["event_type: missing or not a string"]
    if event_type not in event_types():
        return [f"event_type: unknown {event_type!r}"]
    errors = _validator(event_type).iter_errors(written)
    return sorted(f"{error.json_path}: {error.message}" for error in errors)


def main(argv: list[str] | None = None) -> int:
    """Check every line of the audit files named; print each problem with its file and line."""
    bad = 0
    for path in argv if argv is not None else sys.argv[1:]:
        with open(path, "rb") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    problems = validate_event(orjson.loads(line))
                except orjson.JSONDecodeError as exc:
                    problems = [f"not JSON: {exc}"]
                bad += bool(problems)
                for problem in problems:
                    print(f"{path}:{number}: {problem}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
