"""The MCP methods Drawbridge knows, across both protocol eras."""

from __future__ import annotations

KNOWN_METHODS: frozenset[str] = frozenset({
    # client → server requests
    "initialize", "ping", "server/discover", "subscriptions/listen",
    "tools/list", "tools/call", "prompts/list", "prompts/get",
    "resources/list", "resources/read", "resources/templates/list",
    "resources/subscribe", "resources/unsubscribe", "completion/complete", "logging/setLevel",
    "tasks/get", "tasks/list", "tasks/result", "tasks/cancel",
    # server → client requests
    "sampling/createMessage", "elicitation/create", "roots/list",
    # notifications, both ways
    "notifications/initialized", "notifications/cancelled", "notifications/progress",
    "notifications/roots/list_changed", "notifications/message",
    "notifications/tools/list_changed", "notifications/prompts/list_changed",
    "notifications/resources/list_changed", "notifications/resources/updated",
    "notifications/elicitation/complete", "notifications/subscriptions/acknowledged",
    "notifications/tasks/status",
})

MODERN_VERSIONS: frozenset[str] = frozenset({"2026-07-28"})
HANDSHAKE_VERSIONS: frozenset[str] = frozenset({"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"})

# Listing methods whose answers are filtered to what the caller may use: method → (item key, call method, name key)
LISTINGS: dict[str, tuple[str, str, str]] = {
    "tools/list": ("tools", "tools/call", "name"),
    "prompts/list": ("prompts", "prompts/get", "name"),
    "resources/list": ("resources", "resources/read", "uri"),
}
