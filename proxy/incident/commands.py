"""`drawbridge incident …`: after containment, from the audit files (no admin API needed).

`incident timeline (--principal P | --agent A | --session S) [--since 4h | --from T --to T] [--audit FILE…]
[--config F] [--json]`. Exit 0; 2 on a usage error or an audit file that cannot be read (one line).
Other actions register in `ACTIONS` (name → runner) and add their parser to what `add_incident_parser` returns.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import orjson

from proxy.config import load_config
from proxy.errors import ConfigError
from proxy.incident.auditlog import ReadStats, audit_files, read_events, subject_and_window
from proxy.incident.bundle_commands import BUNDLE_ACTIONS, add_bundle_parsers
from proxy.incident.timeline import Scope, Timeline, build_timeline

EXIT_OK, EXIT_USAGE = 0, 2
Runner = Callable[[argparse.Namespace, TextIO, TextIO], int]


def add_incident_parser(sub: Any) -> Any:
    """Register `incident` and its `timeline` action; returns the actions' subparsers (for more actions)."""
    incident = sub.add_parser("incident", help="after containment: the timeline, the evidence bundle")
    actions = incident.add_subparsers(dest="incident_command", metavar="ACTION")
    t = actions.add_parser("timeline", help="a subject's events in order, by NIST phase, with time to detect "
                                            "and to contain")
    who = t.add_mutually_exclusive_group(required=True)
    who.add_argument("--principal", metavar="P", help="this principal, its sessions and credential sharers")
    who.add_argument("--agent", metavar="A", help="this agent and its sessions")
    who.add_argument("--session", metavar="S", help="a session id or client key")
    when = t.add_mutually_exclusive_group()
    when.add_argument("--since", metavar="DURATION", help="only the last 30m, 4h, 7d…")
    when.add_argument("--from", dest="start", metavar="T", help="from this RFC 3339 time")
    t.add_argument("--to", dest="end", metavar="T", help="until this RFC 3339 time")
    t.add_argument("--audit", nargs="+", action="extend", type=Path, default=[], metavar="FILE",
                   help="audit files, oldest first (default: the configured file sinks, rotated files included)")
    t.add_argument("--config", type=Path, metavar="F", help="drawbridge.yaml whose audit file sinks are read")
    t.add_argument("--json", dest="as_json", action="store_true", help="print the timeline as JSON")
    add_bundle_parsers(actions)
    return actions


def load_timeline(paths: list[Path], scope: Scope, since: float | None,
                  until: float | None) -> tuple[Timeline, ReadStats]:
    """Read `paths` and build the timeline (blocking: run it in a thread from async code)."""
    stats = ReadStats()
    return build_timeline(read_events(paths, since, until, stats=stats), scope), stats


def timeline_document(timeline: Timeline, stats: ReadStats) -> dict[str, Any]:
    """What `--json` prints and the admin API answers: the timeline plus what was read and skipped."""
    return {**timeline.as_json(), "read": stats.as_json()}


def _paths(ns: argparse.Namespace) -> list[Path]:
    if ns.audit:
        return list(ns.audit)
    if ns.config is None:
        raise ConfigError("incident timeline needs the audit files: --audit FILE… or --config drawbridge.yaml")
    found = audit_files(load_config(ns.config))
    if not found:
        raise ConfigError(f"{ns.config} names no audit file sink with a file written yet")
    return found


def run_timeline(ns: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        scope, since, until = subject_and_window(ns.principal, ns.agent, ns.session, ns.since, ns.start, ns.end)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    paths = _paths(ns)
    try:
        timeline, stats = load_timeline(paths, scope, since, until)
    except OSError as exc:
        raise ConfigError(f"cannot read {exc.filename}: {exc.strerror or exc}") from None
    note = stats.note()
    if note:
        err.write(f"drawbridge: note: {note}\n")
    if ns.as_json:
        out.write(orjson.dumps(timeline_document(timeline, stats), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        out.write(timeline.text())
    return EXIT_OK


ACTIONS: dict[str, Runner] = {"timeline": run_timeline, **BUNDLE_ACTIONS}


def run_incident_command(ns: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run a parsed `incident` action; ConfigError (exit 2) for usage errors and unreadable files."""
    runner = ACTIONS.get(ns.incident_command or "")
    if runner is None:
        raise ConfigError("incident needs an action: drawbridge incident timeline --principal P …")
    return runner(ns, out or sys.stdout, err or sys.stderr)
