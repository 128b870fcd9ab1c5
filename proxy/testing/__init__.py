"""Test helpers that ship with the package (DESIGN.md habit 12): exchange factories and policy fixtures."""

from proxy.testing.factories import (
    RecordingAudit,
    listing_response,
    make_exchange,
    memory_store,
    policy_holder,
    prompts_list_response,
    registry_for,
    request_message,
    resources_list_response,
    response_message,
    tool_call,
    tool_item,
    tools_list_response,
    write_policy,
)

__all__ = [
    "RecordingAudit",
    "listing_response",
    "make_exchange",
    "memory_store",
    "policy_holder",
    "prompts_list_response",
    "registry_for",
    "request_message",
    "resources_list_response",
    "response_message",
    "tool_call",
    "tool_item",
    "tools_list_response",
    "write_policy",
]
