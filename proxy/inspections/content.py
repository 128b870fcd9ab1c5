"""Content inspection of requests (tool arguments, sampling/elicitation) and answers (tool results,
listings, resources, prompts), per surface, with the actions of `settings.content`.

A block refuses the message; strip/redact forward it rewritten (REWRITE) and each finding says
what was done to it; detect only records findings.

A tools/call result is also read the way the model reads it, its text blocks and structuredContent
as one text (`walk.result_text`), for prompt injection only: an instruction split over blocks that
are innocent one by one is found there, reported on `$.result.content`, and refused under block,
strip and redact alike (it cannot be cut out of the pieces); under detect it is recorded.
"""

from __future__ import annotations

from proxy.content.model import INJECTION
from proxy.content.scanner import Outcome, Scanner
from proxy.content.settings import ContentSettings
from proxy.content.walk import replace_at, result_text, sites
from proxy.decision import Decision, Finding, deny
from proxy.exchange import Exchange
from proxy.pipeline import Inspection
from proxy.policy import PolicyHolder
from proxy.types import Direction, JsonObject, MessageKind, Verdict

_REMEMBERED = 64  # texts at least this long are judged once per message (shorter ones cost less to rescan)
_DONE = {"detect": "detected", "strip": "stripped", "redact": "redacted", "block": "blocked"}


class _ScannerCache:
    """One compiled scanner per settings object (a policy reload brings a new one)."""

    def __init__(self) -> None:
        self._settings: ContentSettings | None = None
        self._scanner: Scanner | None = None

    def get(self, settings: ContentSettings) -> Scanner:
        if self._scanner is None or self._settings is not settings:
            self._settings, self._scanner = settings, Scanner(settings)
        return self._scanner


def inspect_content(name: str, scanner: Scanner, ex: Exchange, is_request: bool) -> Decision | None:
    """Scan every text site of the message; decide block / rewrite / record.

    A text met again on the same surface (an SDK result repeats its text block in structuredContent)
    is judged once: the same outcome, and the same rewrite, apply at each place it occurs.
    """
    findings: list[Finding] = []
    message: JsonObject = ex.message
    changed = blocked = False
    seen: dict[tuple[str, str], Outcome] = {}
    for site in sites(ex.message, ex.method, is_request):
        key = (site.surface, site.text)
        outcome = seen.get(key) if len(site.text) >= _REMEMBERED else None
        if outcome is None:
            outcome = scanner.scan_text(site.text, site.surface)
            if len(site.text) >= _REMEMBERED:
                seen[key] = outcome
        if not outcome.hits:
            continue
        for hit, action in outcome.hits:
            done = "blocked" if outcome.block else _DONE[action]
            findings.append(Finding(hit.detector, hit.severity, f"{hit.message} [{done}]", site.path, hit.excerpt,
                                    hit.atlas, site.surface))
        if outcome.block:
            blocked = True
        elif outcome.rewritten is not None:
            message = replace_at(message, site.keys, outcome.rewritten)
            changed = True
    joined = result_text(ex.message, ex.method, is_request)
    if joined is not None and not any(f.detector.startswith(f"{INJECTION}.") for f in findings):
        outcome = scanner.scan_joined(joined.text, joined.surface)
        for hit, action in outcome.hits:
            done = "blocked" if outcome.block else _DONE[action]
            findings.append(Finding(hit.detector, hit.severity, f"{hit.message} (across content blocks) [{done}]",
                                    joined.path, hit.excerpt, hit.atlas, joined.surface))
        blocked = blocked or outcome.block
    if not findings:
        return None
    if blocked:
        detectors = sorted({f.detector for f in findings if f.message.endswith("[blocked]")})
        return deny(f"content inspection refused the message ({', '.join(detectors[:6])})",
                    rule_ids=tuple(f"content:{d}" for d in detectors), findings=tuple(findings), check=name)
    if changed:
        removed = [{"path": f.path, "detector": f.detector, "action": f.message.rsplit("[", 1)[-1].rstrip("]")}
                   for f in findings if f.message.endswith(("[stripped]", "[redacted]"))]
        return Decision(Verdict.REWRITE, message=message, findings=tuple(findings), check=name,
                        note={"removed": removed})
    return Decision(Verdict.ALLOW, findings=tuple(findings), check=name)


class _ContentCheck(Inspection):
    """Scan the strings of a message with the content settings of the policy in force."""

    name = "content"
    is_request = True

    def __init__(self, holder: PolicyHolder) -> None:
        self._holder = holder
        self._cache = _ScannerCache()

    def inspect(self, ex: Exchange) -> Decision | None:
        settings = self._holder.policy.settings.content
        if not settings.enabled:
            return None
        return inspect_content(self.name, self._cache.get(settings), ex, is_request=self.is_request)


class ContentRequestCheck(_ContentCheck):
    """Tool and prompt arguments leaving for a server (with any modern-era input responses); sampling and
    elicitation requests from one."""

    methods = frozenset({"tools/call", "prompts/get", "resources/read", "sampling/createMessage",
                         "elicitation/create"})
    kinds = frozenset({MessageKind.REQUEST})


class ContentAnswerCheck(_ContentCheck):
    """Tool results, listings (descriptions and schemas), resource contents and prompt messages."""

    is_request = False
    methods = frozenset({"tools/call", "tools/list", "prompts/list", "resources/list", "resources/templates/list",
                         "resources/read", "prompts/get"})
    directions = frozenset({Direction.TO_CLIENT})
    kinds = frozenset({MessageKind.RESPONSE})


class ContentAgentAnswerCheck(_ContentCheck):
    """The agent's answers to a server's requests: sampling results, elicitation results, roots."""

    is_request = False
    methods = frozenset({"sampling/createMessage", "elicitation/create", "roots/list"})
    directions = frozenset({Direction.TO_SERVER})
    kinds = frozenset({MessageKind.RESPONSE})
