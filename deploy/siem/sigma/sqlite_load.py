"""Load Drawbridge audit events (JSON lines) into SQLite, in the layout the Sigma SQLite pipeline expects.

    python deploy/siem/sigma/sqlite_load.py --db audit.db /var/log/drawbridge/audit.jsonl
    sigma convert -t sqlite -p deploy/siem/sigma/pipelines/sqlite.yaml deploy/siem/sigma/rules/FILE.yml
    sqlite3 audit.db "<the query>"

Table `logs` (pySigma's SQLite default), one row per event (README, "Detection content (Sigma)"):
- a top-level scalar is a column of the same name (`tool`, `verdict`, `check`, `timestamp`, ...);
- a nested object's fields are columns named by their path joined with "_" (`jsonrpc.method` ->
  `jsonrpc_method`, `window.calls` -> `window_calls`);
- an array of scalars is one text column holding every element between "|" (`rule_ids` ->
  `|tools|egress-allowlist|`), an empty array is NULL;
- an array of objects is one such column per key (`findings[].detector` -> `findings_detector`);
- `event_json` keeps the whole event as written.
Columns have no type affinity (numbers stay numbers) and compare text case-insensitively (NOCASE), as
Sigma's string matching is.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sqlite3
import sys
from collections.abc import Iterable
from typing import Any

TABLE = "logs"
SEPARATOR = "|"
# Created even when no event carries them, so every rule's query finds its columns.
COLUMNS = (
    "schema_version", "event_id", "timestamp", "event_type", "direction", "origin", "era", "transport", "upstream",
    "session_id", "client_key", "call_id", "trace_id", "principal", "agent", "client_address", "credential_sha256",
    "jsonrpc_kind", "jsonrpc_method", "jsonrpc_id", "http_method", "http_status", "tool", "target",
    "arguments_sha256", "request_bytes", "result_bytes", "destinations", "verdict", "check", "reason", "error_code",
    "rule_ids", "findings_detector", "findings_severity", "findings_atlas", "findings_surface", "severity",
    "policy_version", "latency_ms",
    # alert events
    "detection", "atlas", "summary", "scope", "event_ids", "host", "replica_id",
    # approval events
    "action", "approval_id", "refusal", "actor",
    "event_json",
)


def _scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return value


def _joined(values: Iterable[Any]) -> str | None:
    items = [str(_scalar(v)) for v in values if v is not None]
    return SEPARATOR + SEPARATOR.join(items) + SEPARATOR if items else None


def flatten(event: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """One row: nested objects by path joined with "_", arrays as "|a|b|" text (see the module doc)."""
    row: dict[str, Any] = {}
    for key, value in event.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            row.update(flatten(value, f"{name}_"))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            keys = dict.fromkeys(k for item in value for k in item)
            for sub in keys:
                row[f"{name}_{sub}"] = _joined(item.get(sub) for item in value)
        elif isinstance(value, list):
            row[name] = _joined(value)
        else:
            row[name] = _scalar(value)
    return row


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load(connection: sqlite3.Connection, events: Iterable[dict[str, Any]], table: str = TABLE) -> int:
    """Append `events` to `table` (created, and widened for new fields, as needed); returns the row count."""
    connection.execute(f"CREATE TABLE IF NOT EXISTS {_quote(table)} "
                       f"({', '.join(f'{_quote(c)} COLLATE NOCASE' for c in COLUMNS)})")
    existing = {row[1].lower() for row in connection.execute(f"PRAGMA table_info({_quote(table)})")}
    count = 0
    for event in events:
        row = flatten(event)
        row["event_json"] = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        for name in row:
            if name.lower() not in existing:
                connection.execute(f"ALTER TABLE {_quote(table)} ADD COLUMN {_quote(name)} COLLATE NOCASE")
                existing.add(name.lower())
        names = list(row)
        columns, marks = ", ".join(map(_quote, names)), ", ".join("?" * len(names))
        # identifiers are quoted and values bound: an event cannot inject SQL
        insert = f"INSERT INTO {_quote(table)} ({columns}) VALUES ({marks})"  # noqa: S608
        connection.execute(insert, [row[n] for n in names])
        count += 1
    connection.commit()
    return count


def read_jsonl(lines: Iterable[str]) -> Iterable[dict[str, Any]]:
    for line in lines:
        if line.strip():
            yield json.loads(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load Drawbridge audit JSON lines into SQLite for Sigma queries.")
    parser.add_argument("--db", required=True, help="SQLite database file (created if absent)")
    parser.add_argument("--table", default=TABLE, help=f"table name (default {TABLE}, pySigma's default)")
    parser.add_argument("files", nargs="+", help="audit files (JSON lines); - for stdin")
    args = parser.parse_args(argv)
    total = 0
    with contextlib.closing(sqlite3.connect(args.db)) as connection:
        for path in args.files:
            if path == "-":
                total += load(connection, read_jsonl(sys.stdin), args.table)
            else:
                with open(path, encoding="utf-8") as handle:
                    total += load(connection, read_jsonl(handle), args.table)
    print(f"{total} events loaded into {args.db}:{args.table}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
