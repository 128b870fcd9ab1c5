"""`drawbridge incident export|verify`: the evidence bundle from the command line.

    incident export (--principal P | --agent A | --session S) -o BUNDLE --config F [--since 4h | --from T
                    --to T] [--audit FILE…]      exit 0 (writes BUNDLE and BUNDLE.sha256), 2 usage/unreadable
    incident verify BUNDLE [--sha256 HEX]        exit 0 intact, 1 naming the first file that is not, 2 unreadable
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import socket
from pathlib import Path
from typing import Any, TextIO

from proxy.config import load_config
from proxy.errors import ConfigError
from proxy.incident.auditlog import audit_files, subject_and_window
from proxy.incident.bundle import file_sha256, verify_bundle
from proxy.incident.export import export_bundle
from proxy.state.factory import open_store

EXIT_OK, EXIT_BROKEN, EXIT_USAGE = 0, 1, 2


def add_bundle_parsers(actions: Any) -> None:
    export = actions.add_parser("export", help="write an evidence bundle (timeline, events, evidence from every "
                                               "replica, policy, secrets to rotate, report)")
    who = export.add_mutually_exclusive_group(required=True)
    who.add_argument("--principal", metavar="P")
    who.add_argument("--agent", metavar="A")
    who.add_argument("--session", metavar="S")
    when = export.add_mutually_exclusive_group()
    when.add_argument("--since", metavar="DURATION")
    when.add_argument("--from", dest="start", metavar="T")
    export.add_argument("--to", dest="end", metavar="T")
    export.add_argument("--audit", nargs="+", action="extend", type=Path, default=[], metavar="FILE")
    export.add_argument("--config", type=Path, required=True, help="drawbridge.yaml: its store, policy and audit files")
    export.add_argument("-o", "--output", type=Path, required=True, metavar="BUNDLE", help="the .tar.gz to write")
    export.add_argument("--json", dest="as_json", action="store_true",
                        help="print {bundle, sha256, events, evidence, exposures} as one JSON object")
    check = actions.add_parser("verify", help="check every file of a bundle against its manifest")
    check.add_argument("bundle", type=Path, metavar="BUNDLE")
    check.add_argument("--sha256", metavar="HEX", help="the bundle's own SHA-256, as printed at export")
    check.add_argument("--json", dest="as_json", action="store_true", help="print {ok, bundle, problems}")


def run_export(ns: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        scope, since, until = subject_and_window(ns.principal, ns.agent, ns.session, ns.since, ns.start, ns.end)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    config = load_config(ns.config)
    paths = list(ns.audit) or audit_files(config)
    if not paths:
        raise ConfigError(f"{ns.config} names no audit file sink with a file written yet; give --audit FILE…")

    async def run() -> Any:
        store = open_store(config.store, redis=config.redis)
        await store.start()
        try:
            return await export_bundle(config, store, scope, ns.output, audit_paths=paths, since=since,
                                       until=until, exported_by=f"{getpass.getuser()}@{socket.gethostname()} (cli)",
                                       replica_id="cli")
        finally:
            await store.close()

    try:
        done = asyncio.run(run())
    except OSError as exc:
        raise ConfigError(f"cannot read or write {exc.filename}: {exc.strerror or exc}") from None
    Path(f"{ns.output}.sha256").write_text(f"{done.sha256}  {ns.output.name}\n")
    if getattr(ns, "as_json", False):
        out.write(json.dumps({"bundle": str(done.path), "sha256": done.sha256, "events": done.events,
                              "evidence": done.evidence, "exposures": done.exposures}) + "\n")
        return EXIT_OK
    out.write(f"bundle {done.path}: {done.events} events, {done.evidence} evidence snapshot(s), "
              f"{done.exposures} credential(s) to rotate\nsha256 {done.sha256}\n")
    return EXIT_OK


def run_verify(ns: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not ns.bundle.is_file():
        raise ConfigError(f"no bundle at {ns.bundle}")
    problems = verify_bundle(ns.bundle)
    if ns.sha256 and file_sha256(ns.bundle) != ns.sha256.strip().lower():
        problems.insert(0, f"{ns.bundle}: its SHA-256 is not the one given (the archive was replaced)")
    if getattr(ns, "as_json", False):
        out.write(json.dumps({"ok": not problems, "bundle": str(ns.bundle), "problems": problems}) + "\n")
        return EXIT_BROKEN if problems else EXIT_OK
    if problems:
        out.write(f"BROKEN {problems[0]}\n" + "".join(f"  also: {p}\n" for p in problems[1:5]))
        return EXIT_BROKEN
    out.write(f"ok: {ns.bundle} matches its manifest\n")
    return EXIT_OK


BUNDLE_ACTIONS = {"export": run_export, "verify": run_verify}
