"""`drawbridge scan [FILE] [--policy DIR]`: run the content detectors over JSON lines.

Input, one record a line: {"id": …, "surface": "tool_description"|"tool_arguments"|"tool_result"|
"text"|"resource"|"prompt"|"sampling", "text": …}. Output, one line per record:
{"id": …, "flagged": bool, "findings": [{"detector", "severity", "atlas", "excerpt", "message"}]}.
A record that cannot be processed yields {"id": …, "error": …} and the run goes on.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import orjson

from proxy.config import PACKAGED_POLICY_DIR
from proxy.content.scanner import Scanner
from proxy.content.settings import SURFACES, ContentSettings
from proxy.errors import ConfigError, PolicyError

MAX_LINE = 64 << 20


def add_scan_parser(subparsers: Any) -> None:
    """Register the `scan` subcommand."""
    scan = subparsers.add_parser("scan", help="scan JSON lines {id, surface, text} with the content detectors")
    scan.add_argument("file", nargs="?", type=Path, help="JSON lines to scan (default: standard input)")
    scan.add_argument("--policy", type=Path, help="policy directory whose settings.content applies "
                                                  "(default: the packaged default policy)")
    scan.add_argument("--output", "-o", type=Path, help="write results here (default: standard output)")


def load_content_settings(directory: Path | None) -> ContentSettings:
    from proxy.policy.loader import load_policy

    try:
        return load_policy(directory or PACKAGED_POLICY_DIR).policy.settings.content
    except PolicyError as exc:
        raise ConfigError(str(exc)) from None


def scan_record(scanner: Scanner, line: bytes) -> dict[str, Any]:
    """One output object for one input line (never raises)."""
    record_id: Any = None
    try:
        record = orjson.loads(line)
        if not isinstance(record, dict):
            raise ValueError("a record must be a JSON object")
        record_id = record.get("id")
        text, surface = record.get("text"), record.get("surface", "text")
        if not isinstance(text, str):
            raise ValueError("'text' must be a string")
        if surface not in SURFACES:
            raise ValueError(f"unknown surface {str(surface)[:40]!r}")
        outcome = scanner.scan_text(text, surface)
    except Exception as exc:  # any bad record becomes an error line, never a crash
        return {"id": record_id, "error": f"{exc.__class__.__name__}: {str(exc)[:200]}"}
    findings = [{"detector": h.detector, "severity": h.severity.label, "atlas": h.atlas, "excerpt": h.excerpt,
                 "message": h.message} for h, _ in outcome.hits]
    return {"id": record_id, "flagged": bool(findings), "findings": findings}


def scan_lines(scanner: Scanner, lines: Iterable[bytes], out: IO[bytes]) -> int:
    """Scan every non-blank line; returns the number of error lines written."""
    errors = 0
    for line in lines:
        if not line.strip():
            continue
        if len(line) > MAX_LINE:
            result: dict[str, Any] = {"id": None, "error": f"line longer than {MAX_LINE} bytes"}
        else:
            result = scan_record(scanner, line)
        errors += "error" in result
        out.write(orjson.dumps(result) + b"\n")
    out.flush()
    return errors


def run_scan(ns: argparse.Namespace) -> int:
    """Entry point for the CLI: exit 0 when every record was scanned (flagged or not), 1 when some could not be
    processed (each has an error line in the output), 2 for a usage or I/O error."""
    scanner = Scanner(load_content_settings(ns.policy))
    try:
        source: IO[bytes] = ns.file.open("rb") if ns.file else sys.stdin.buffer
        sink: IO[bytes] = ns.output.open("wb") if getattr(ns, "output", None) else sys.stdout.buffer
    except OSError as exc:
        raise ConfigError(f"scan: {exc}") from None
    try:
        errors = scan_lines(scanner, source, sink)
    except OSError as exc:
        raise ConfigError(f"scan: {exc}") from None
    finally:
        if ns.file:
            source.close()
        if getattr(ns, "output", None):
            sink.close()
    if errors:
        print(f"drawbridge scan: {errors} record(s) could not be processed", file=sys.stderr)
        return 1
    return 0
