"""A scripted agent session through Drawbridge, on the official MCP SDK client.

    python -m proxy.demo.agent http://127.0.0.1:8080/mcp --api-key KEY --audit-file audit.jsonl

It lists the tools, makes one permitted call, tries a destructive tool and a credential search
(both must be refused), then prints the audit events. Exit 0 only if every expectation held.
`--expect-direct` is for testing the agent against the demo server without Drawbridge.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent, Tool

from proxy.errors import ErrorCode

PERMITTED = ("get_weather", "search_notes")
HIDDEN = ("delete_note", "send_email")
SECRETS_RULE = "no-secrets-in-search"
AUDIT_WAIT_SECONDS = 5.0


@dataclass
class Term:
    """Plain-text terminal output, with ANSI colour only on a TTY (and never with NO_COLOR)."""

    colour: bool = field(default_factory=lambda: sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    failures: list[str] = field(default_factory=list)

    def _paint(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def step(self, title: str) -> None:
        print(f"\n{self._paint('1', '▶ ' + title)}", flush=True)

    def info(self, text: str) -> None:
        print(f"    {text}", flush=True)

    def verdict(self, passed: str, failed: str) -> int:
        """Print the outcome of a whole act: 0 if every check held, else 1 with the ones that did not."""
        if self.failures:
            print(f"\n✗ {failed}: {len(self.failures)} expectation(s) did not hold:")
            for failure in self.failures:
                print(f"  ✗ {failure}")
            return 1
        print(f"\n✓ {passed}")
        return 0

    def check(self, ok: bool, text: str) -> bool:
        if ok:
            print(f"  {self._paint('32', '✓')} {text}", flush=True)
        else:
            print(f"  {self._paint('31', '✗')} {text}", flush=True)
            self.failures.append(text)
        return ok


def _hints(tool: Tool) -> str:
    a = tool.annotations
    if a is None:
        return "no annotations"
    flags = [name for name, value in (("read-only", a.read_only_hint), ("destructive", a.destructive_hint),
                                      ("open-world", a.open_world_hint)) if value]
    return ", ".join(flags) or "no hints set"


def _text(result: CallToolResult) -> str:
    parts = [block.text for block in result.content if isinstance(block, TextContent)]
    return " | ".join(parts) if parts else json.dumps(result.structured_content)


def _error_text(exc: MCPError) -> str:
    data = f" data={json.dumps(exc.data, sort_keys=True)}" if exc.data is not None else ""
    return f"JSON-RPC error {exc.code}: {exc.message}{data}"


async def _call(term: Term, client: Client, tool: str, args: dict[str, Any]) -> CallToolResult | MCPError:
    term.info(f"tools/call {tool} {json.dumps(args)}")
    try:
        return await client.call_tool(tool, args)
    except MCPError as exc:
        return exc


def _expect_refusal(term: Term, outcome: CallToolResult | MCPError, what: str, rule: str | None) -> None:
    if isinstance(outcome, CallToolResult):
        term.info(f"answer: {_text(outcome)}")
        term.check(False, f"{what} was NOT refused (is_error={outcome.is_error})")
        return
    term.info(_error_text(outcome))
    by_policy = outcome.code == ErrorCode.POLICY_DENIED
    term.check(by_policy, f"{what} refused by policy (code {outcome.code})" if by_policy
               else f"{what} refused with code {outcome.code}, not the policy code {int(ErrorCode.POLICY_DENIED)}")
    if rule is not None:
        named = rule in outcome.message or rule in json.dumps(outcome.data)
        term.check(named, f"the refusal names rule {rule}")


def _expect_answer(term: Term, outcome: CallToolResult | MCPError, what: str) -> None:
    if isinstance(outcome, MCPError):
        term.info(_error_text(outcome))
        term.check(False, f"{what} failed")
        return
    term.info(f"answer: {_text(outcome)}")
    term.check(not outcome.is_error, f"{what} answered")


async def session(term: Term, ns: argparse.Namespace) -> None:
    """The scripted session: list, call a permitted tool, try two that policy refuses."""
    headers = {"x-api-key": ns.api_key} if ns.api_key else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(10.0, read=ns.timeout))
    async with http:
        transport = streamable_http_client(ns.url, http_client=http)
        async with Client(transport, mode=ns.mode, read_timeout_seconds=ns.timeout) as client:
            name = client.server_info.name if client.server_info else "?"
            term.check(True, f"connected to {ns.url} (server {name}, protocol {client.protocol_version})")

            term.step("tools/list: what the agent is allowed to see")
            tools = (await client.list_tools()).tools
            for tool in tools:
                term.info(f"{tool.name:<14} {_hints(tool)}")
            seen = {tool.name for tool in tools}
            term.check(all(t in seen for t in PERMITTED), f"sees the permitted tools {', '.join(PERMITTED)}")
            if ns.expect_direct:
                term.check(all(t in seen for t in HIDDEN), f"(direct) also sees {', '.join(HIDDEN)}")
            else:
                term.check(not seen & set(HIDDEN), f"does not see {', '.join(HIDDEN)}")

            term.step("a permitted call: get_weather")
            _expect_answer(term, await _call(term, client, "get_weather", {"city": "Paris"}), "get_weather Paris")

            term.step("a destructive tool, called anyway: delete_note")
            outcome = await _call(term, client, "delete_note", {"note_id": 2})
            if ns.expect_direct:
                _expect_answer(term, outcome, "(direct) delete_note")
            else:
                _expect_refusal(term, outcome, "delete_note", None)

            term.step("a permitted tool with a forbidden argument: search_notes for a password")
            outcome = await _call(term, client, "search_notes", {"query": "password"})
            if ns.expect_direct:
                _expect_answer(term, outcome, "(direct) search_notes password")
            else:
                _expect_refusal(term, outcome, "search_notes password", SECRETS_RULE)


def _read_events(path: Path, offset: int) -> list[dict[str, Any]]:
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            lines = fh.read().decode("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    events: list[dict[str, Any]] = []
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line still being written
        if isinstance(event, dict) and event.get("event_type", "decision") == "decision":
            events.append(event)
    return events


def _has(events: list[dict[str, Any]], verdict: str, *, tool: str | None = None, rule: str | None = None) -> bool:
    return any(e.get("verdict") == verdict and (tool is None or e.get("tool") == tool)
               and (rule is None or rule in (e.get("rule_ids") or [])) for e in events)


def _audit_complete(events: list[dict[str, Any]]) -> bool:
    return (_has(events, "allow", tool="get_weather") and _has(events, "deny", tool="delete_note")
            and _has(events, "deny", rule=SECRETS_RULE))


def audit(term: Term, path: Path, offset: int) -> None:
    """Print one compact line per decision event written since the session began."""
    term.step(f"audit events from {path}")
    deadline = time.monotonic() + AUDIT_WAIT_SECONDS
    events = _read_events(path, offset)
    while not _audit_complete(events) and time.monotonic() < deadline:
        time.sleep(0.1)
        events = _read_events(path, offset)
    if not path.exists():
        term.info("(the audit file was not created)")
    for e in events:
        rpc = e.get("jsonrpc") or {}
        method = rpc.get("method") or f"({rpc.get('kind', 'response')})"
        arrow = "←" if e.get("direction") == "to_client" else "→"
        rules = ",".join(e.get("rule_ids") or []) or "-"
        term.info(f"{e.get('verdict', '?'):<7} {arrow} {method:<25} tool={e.get('tool') or '-':<13} "
                  f"rules={rules:<22} severity={e.get('severity', '?')}")
    term.check(bool(events), f"{len(events)} decision events recorded")
    term.check(_has(events, "allow", tool="get_weather"), "get_weather allowed in the audit trail")
    term.check(_has(events, "deny", tool="delete_note"), "delete_note denied in the audit trail")
    term.check(_has(events, "deny", rule=SECRETS_RULE), f"search_notes denied by {SECRETS_RULE} in the audit trail")


def _innermost(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def main(argv: Sequence[str] | None = None) -> int:
    """Run the session and the audit check; 0 only if every expectation held."""
    p = argparse.ArgumentParser(prog="python -m proxy.demo.agent", description=__doc__.splitlines()[0])
    p.add_argument("url", help="MCP endpoint, e.g. http://127.0.0.1:8080/mcp (Drawbridge)")
    p.add_argument("--api-key", help="sent as the x-api-key header")
    p.add_argument("--audit-file", type=Path, help="Drawbridge's JSON-lines audit file, to show the events")
    p.add_argument("--mode", default="auto", help="SDK negotiation: auto | legacy | 2026-07-28 (default auto)")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout in seconds (default 30)")
    p.add_argument("--expect-direct", action="store_true",
                   help="testing only: URL is the demo server itself, so nothing is refused")
    ns = p.parse_args(argv)
    term = Term()
    print(f"Drawbridge demo agent → {ns.url}")
    offset = ns.audit_file.stat().st_size if ns.audit_file and ns.audit_file.exists() else 0
    try:
        anyio.run(_bounded_session, term, ns)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # report any failure as one line, never a traceback
        inner = _innermost(exc)
        detail = f"{type(inner).__name__}: {inner}" if not isinstance(inner, MCPError) else _error_text(inner)
        term.check(False, f"the session failed: {detail}")
        return _finish(term, ns, offset, audit_trail=False)
    return _finish(term, ns, offset)


async def _bounded_session(term: Term, ns: argparse.Namespace) -> None:
    with anyio.fail_after(ns.timeout * 4):
        await session(term, ns)


def _finish(term: Term, ns: argparse.Namespace, offset: int, *, audit_trail: bool = True) -> int:
    if ns.audit_file is not None and audit_trail:
        audit(term, ns.audit_file, offset)
    elif not ns.expect_direct and audit_trail:
        term.info("(no --audit-file given: skipping the audit trail)")
    return term.verdict("demo passed: every expectation held", "demo FAILED")


if __name__ == "__main__":
    raise SystemExit(main())
