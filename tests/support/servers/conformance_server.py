"""Drawbridge's own MCP conformance target, on the official SDK v2 (`MCPServer`).

Implements the tools, resources and prompts that the server scenarios of
`@modelcontextprotocol/conformance` call (both the 2025-11-25 handshake era and the
2026-07-28 stateless era), so the suite can run clean straight against it and again
through Drawbridge.

    python tests/support/servers/conformance_server.py --port 3001
    # -> Streamable HTTP at http://127.0.0.1:3001/mcp
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import warnings
from typing import Annotated, Any

import uvicorn
from mcp.server.caching import CacheHint
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp.server.streamable_http import EventCallback, EventMessage, EventStore
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp_types import (
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    AudioContent,
    CallToolResult,
    Completion,
    EmbeddedResource,
    EmptyResult,
    ImageContent,
    InputRequiredResult,
    JSONRPCMessage,
    SamplingMessage,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    TextResourceContents,
    UnsubscribeRequestParams,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field

# The logging capability is deprecated from 2026-07-28 but still part of 2025-11-25.
warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
WAV_EMPTY = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")

JSON_SCHEMA_2020_12: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


def text(value: str, *, is_error: bool = False) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=value)], is_error=is_error)


def modern(ctx: Context) -> bool:
    """True when the request speaks the stateless 2026-07-28 era (no server-to-client requests)."""
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS


def form(message: str, properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return {"method": "elicitation/create", "params": {"message": message, "requestedSchema": schema}}


def sampling(prompt: str, max_tokens: int = 100) -> dict[str, Any]:
    return {
        "method": "sampling/createMessage",
        "params": {
            "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
            "maxTokens": max_tokens,
        },
    }


ROOTS = {"method": "roots/list", "params": {}}


def input_required(requests: dict[str, Any], state: str | None = None) -> InputRequiredResult:
    payload: dict[str, Any] = {"resultType": "input_required", "inputRequests": requests}
    if state is not None:
        payload["requestState"] = state
    return InputRequiredResult.model_validate(payload)


def response(ctx: Context, key: str) -> dict[str, Any] | None:
    """The client's answer to input request `key` as wire JSON, or None."""
    found = (ctx.input_responses or {}).get(key)
    if found is None:
        return None
    return found.model_dump(mode="json", by_alias=True, exclude_none=True)


def accepted(ctx: Context, key: str) -> dict[str, Any] | None:
    """The content of an accepted elicitation answer for `key`, or None."""
    answer = response(ctx, key)
    if not answer or answer.get("action") != "accept":
        return None
    return answer.get("content") or {}


class MemoryEventStore(EventStore):
    """Keeps every SSE event so a client can resume a closed stream (SEP-1699 polling)."""

    def __init__(self) -> None:
        self._events: list[tuple[str, str, JSONRPCMessage | None]] = []
        self._ids = itertools.count(1)

    async def store_event(self, stream_id: str, message: JSONRPCMessage | None) -> str:
        event_id = str(next(self._ids))
        self._events.append((stream_id, event_id, message))
        return event_id

    async def replay_events_after(self, last_event_id: str, send_callback: EventCallback) -> str | None:
        stream = next((s for s, e, _ in self._events if e == last_event_id), None)
        if stream is None:
            return None
        for s, e, message in self._events:
            if s == stream and int(e) > int(last_event_id) and message is not None:
                await send_callback(EventMessage(message, e))
        return stream


def build_server() -> MCPServer:
    """The conformance target, ready to `run()`."""
    hint = CacheHint(ttl_ms=1000, scope="private")
    mcp = MCPServer(
        "drawbridge-conformance-server",
        version="0.1.0",
        log_level="WARNING",
        cache_hints={
            m: hint
            for m in ("tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read")
        },
    )
    lowlevel = mcp._lowlevel_server  # no public hook for subscribe/setLevel on MCPServer
    log_level = {"level": "debug"}
    subscriptions: set[str] = set()

    async def log(ctx: Context, level: str, data: str) -> None:
        if modern(ctx) or LOG_LEVELS.index(level) >= LOG_LEVELS.index(log_level["level"]):
            await ctx.log(level, data)  # type: ignore[arg-type]

    # -- tools: content types -------------------------------------------------------------
    @mcp.tool(description="Returns simple text content")
    def test_simple_text() -> CallToolResult:
        return text("This is a simple text response for testing.")

    @mcp.tool(description="Returns image content")
    def test_image_content() -> CallToolResult:
        return CallToolResult(content=[ImageContent(type="image", data=PNG_1X1, mime_type="image/png")])

    @mcp.tool(description="Returns audio content")
    def test_audio_content() -> CallToolResult:
        return CallToolResult(content=[AudioContent(type="audio", data=WAV_EMPTY, mime_type="audio/wav")])

    @mcp.tool(description="Returns an embedded resource")
    def test_embedded_resource() -> CallToolResult:
        resource = TextResourceContents(
            uri="test://embedded-resource", mime_type="text/plain", text="This is an embedded resource content."
        )
        return CallToolResult(content=[EmbeddedResource(type="resource", resource=resource)])

    @mcp.tool(description="Returns text, image and resource content")
    def test_multiple_content_types() -> CallToolResult:
        resource = TextResourceContents(
            uri="test://mixed-content-resource",
            mime_type="application/json",
            text=json.dumps({"test": "data", "value": 123}),
        )
        return CallToolResult(
            content=[
                TextContent(type="text", text="Multiple content types test:"),
                ImageContent(type="image", data=PNG_1X1, mime_type="image/png"),
                EmbeddedResource(type="resource", resource=resource),
            ]
        )

    @mcp.tool(description="Always fails with isError")
    def test_error_handling() -> CallToolResult:
        return text("This tool intentionally returns an error for testing", is_error=True)

    # -- tools: notifications during a call ------------------------------------------------
    async def logging_tool(ctx: Context) -> CallToolResult:
        await log(ctx, "info", "Tool execution started")
        await asyncio.sleep(0.05)
        await log(ctx, "info", "Tool processing data")
        await asyncio.sleep(0.05)
        await log(ctx, "info", "Tool execution completed")
        return text("Tool with logging executed successfully")

    mcp.add_tool(logging_tool, name="test_tool_with_logging", description="Sends 3 info log notifications")
    mcp.add_tool(logging_tool, name="test_logging_tool", description="Logs only when the request asks (2026)")

    @mcp.tool(description="Reports progress 0, 50, 100 of 100")
    async def test_tool_with_progress(ctx: Context) -> CallToolResult:
        for step in (0, 50, 100):
            await ctx.report_progress(step, 100, f"Completed step {step} of 100")
            if step < 100:
                await asyncio.sleep(0.05)
        return text("Progress completed")

    @mcp.tool(description="Closes its SSE stream mid-call; the client resumes (SEP-1699)")
    async def test_reconnection(ctx: Context) -> CallToolResult:
        await log(ctx, "info", "Before disconnect")
        await ctx.close_sse_stream()
        await asyncio.sleep(0.2)
        await log(ctx, "info", "After reconnect")
        return text("Reconnection test completed")

    # -- tools: server-to-client requests (2025-11-25) or input_required (2026-07-28) -------
    @mcp.tool(description="Asks the client for an LLM completion")
    async def test_sampling(prompt: str, ctx: Context) -> CallToolResult | InputRequiredResult:
        if modern(ctx):
            answer = response(ctx, "sampling")
            if answer is None:
                return input_required({"sampling": sampling(prompt)})
            return text(f"LLM response: {answer.get('content', {}).get('text', '')}")
        result = await ctx.session.create_message(
            messages=[SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
            max_tokens=100,
            related_request_id=ctx.request_id,
        )
        content = result.content
        reply = getattr(content, "text", None) or "No response"
        return text(f"LLM response: {reply}")

    async def elicit(ctx: Context, key: str, message: str, schema: dict[str, Any]) -> Any:
        """Ask for a form; returns (action, content) or an InputRequiredResult in 2026."""
        if modern(ctx):
            answer = response(ctx, key)
            if answer is None:
                request = {"method": "elicitation/create", "params": {"message": message, "requestedSchema": schema}}
                return input_required({key: request})
            return answer.get("action"), answer.get("content") or {}
        result = await ctx.session.elicit_form(message, schema, related_request_id=ctx.request_id)
        return result.action, result.content or {}

    @mcp.tool(description="Asks the user for input (elicitation)")
    async def test_elicitation(message: str, ctx: Context) -> CallToolResult | InputRequiredResult:
        schema = {
            "type": "object",
            "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"},
            },
            "required": ["username", "email"],
        }
        got = await elicit(ctx, "user_input", message, schema)
        if isinstance(got, InputRequiredResult):
            return got
        return text(f"User response: action={got[0]}, content={json.dumps(got[1])}")

    @mcp.tool(description="Elicitation with defaults for every primitive type (SEP-1034)")
    async def test_elicitation_sep1034_defaults(ctx: Context) -> CallToolResult | InputRequiredResult:
        schema = {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "User name", "default": "John Doe"},
                "age": {"type": "integer", "description": "User age", "default": 30},
                "score": {"type": "number", "description": "User score", "default": 95.5},
                "status": {
                    "type": "string",
                    "description": "User status",
                    "enum": ["active", "inactive", "pending"],
                    "default": "active",
                },
                "verified": {"type": "boolean", "description": "Verification status", "default": True},
            },
        }
        got = await elicit(ctx, "defaults", "Please review and update the form fields with defaults", schema)
        if isinstance(got, InputRequiredResult):
            return got
        return text(f"Elicitation completed: action={got[0]}, content={json.dumps(got[1])}")

    @mcp.tool(description="Elicitation with the five enum schema variants (SEP-1330)")
    async def test_elicitation_sep1330_enums(ctx: Context) -> CallToolResult | InputRequiredResult:
        schema = {
            "type": "object",
            "properties": {
                "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                "titledSingle": {
                    "type": "string",
                    "oneOf": [
                        {"const": "value1", "title": "First Option"},
                        {"const": "value2", "title": "Second Option"},
                        {"const": "value3", "title": "Third Option"},
                    ],
                },
                "legacyEnum": {
                    "type": "string",
                    "enum": ["opt1", "opt2", "opt3"],
                    "enumNames": ["Option One", "Option Two", "Option Three"],
                },
                "untitledMulti": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
                },
                "titledMulti": {
                    "type": "array",
                    "items": {
                        "anyOf": [
                            {"const": "value1", "title": "First Choice"},
                            {"const": "value2", "title": "Second Choice"},
                            {"const": "value3", "title": "Third Choice"},
                        ]
                    },
                },
            },
        }
        got = await elicit(ctx, "enums", "Please select options from the enum fields", schema)
        if isinstance(got, InputRequiredResult):
            return got
        return text(f"Elicitation completed: action={got[0]}, content={json.dumps(got[1])}")

    # -- tools: schema and headers ---------------------------------------------------------
    @mcp.tool(description="Tool with JSON Schema 2020-12 features")
    def json_schema_2020_12_tool() -> CallToolResult:
        return text("ok")

    tool = mcp._tool_manager.get_tool("json_schema_2020_12_tool")
    assert tool is not None
    tool.parameters = JSON_SCHEMA_2020_12

    @mcp.tool(description="Echoes a parameter mirrored into the Mcp-Param-Region header (SEP-2243)")
    def test_x_mcp_header(
        region: Annotated[str, Field(description="Region", json_schema_extra={"x-mcp-header": "Region"})],
    ) -> CallToolResult:
        return text(f"region={region}")

    # -- tools: 2026-07-28 stateless diagnostics -------------------------------------------
    @mcp.tool(description="Needs the sampling client capability (SEP-2575)")
    def test_missing_capability(ctx: Context) -> CallToolResult:
        caps = ctx.client_capabilities
        if caps is None or caps.sampling is None:
            raise MCPError(
                code=MISSING_REQUIRED_CLIENT_CAPABILITY,
                message="Missing required client capability: sampling",
                data={"requiredCapabilities": {"sampling": {}}},
            )
        return text("sampling capability present")

    @mcp.tool(description="Asks for input through the response stream only (SEP-2575)")
    async def test_streaming_elicitation(ctx: Context) -> CallToolResult | InputRequiredResult:
        schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
        got = await elicit(ctx, "confirm", "Please confirm", schema)
        if isinstance(got, InputRequiredResult):
            return got
        return text(f"action={got[0]}")

    def added_tool() -> CallToolResult:
        return text("added")

    @mcp.tool(description="Adds or removes a tool and announces tools/list_changed")
    async def test_trigger_tool_change(ctx: Context) -> CallToolResult:
        if mcp._tool_manager.get_tool("test_added_tool"):
            mcp.remove_tool("test_added_tool")
        else:
            mcp.add_tool(added_tool, name="test_added_tool", description="Added at runtime")
        await ctx.notify_tools_changed()
        return text("tool list changed")

    def added_prompt() -> str:
        return "added"

    @mcp.tool(description="Adds or removes a prompt and announces prompts/list_changed")
    async def test_trigger_prompt_change(ctx: Context) -> CallToolResult:
        names = {p.name for p in await mcp.list_prompts()}
        if "test_added_prompt" in names:
            mcp.remove_prompt("test_added_prompt")
        else:
            mcp.prompt(name="test_added_prompt", description="Added at runtime")(added_prompt)
        await ctx.notify_prompts_changed()
        return text("prompt list changed")

    # -- tools: multi-round-trip input_required results (SEP-2322) -------------------------
    name_form = form("What is your name?", {"name": {"type": "string"}}, ["name"])

    @mcp.tool(description="MRTR: asks for the user's name via elicitation")
    def test_input_required_result_elicitation(ctx: Context) -> CallToolResult | InputRequiredResult:
        content = accepted(ctx, "user_name")
        if content is None or "name" not in content:
            return input_required({"user_name": name_form})
        return text(f"Hello, {content['name']}!")

    @mcp.tool(description="MRTR: asks for an LLM completion")
    def test_input_required_result_sampling(ctx: Context) -> CallToolResult | InputRequiredResult:
        answer = response(ctx, "capital_question")
        if answer is None:
            return input_required({"capital_question": sampling("What is the capital of France?")})
        return text(f"Sampling result: {answer.get('content', {}).get('text', '')}")

    @mcp.tool(description="MRTR: asks for the client's roots")
    def test_input_required_result_list_roots(ctx: Context) -> CallToolResult | InputRequiredResult:
        answer = response(ctx, "client_roots")
        if answer is None:
            return input_required({"client_roots": ROOTS})
        roots = [r.get("uri") for r in answer.get("roots", [])]
        return text(f"Found {len(roots)} root(s): {', '.join(roots)}")

    @mcp.tool(description="MRTR: round-trips an opaque requestState")
    def test_input_required_result_request_state(ctx: Context) -> CallToolResult | InputRequiredResult:
        confirm = form("Please confirm", {"ok": {"type": "boolean"}}, ["ok"])
        if ctx.request_state != "confirm-round-1" or response(ctx, "confirm") is None:
            return input_required({"confirm": confirm}, "confirm-round-1")
        return text("state-ok: confirmed")

    @mcp.tool(description="MRTR: elicitation, sampling and roots in one round")
    def test_input_required_result_multiple_inputs(ctx: Context) -> CallToolResult | InputRequiredResult:
        requests = {"user_name": name_form, "greeting": sampling("Generate a greeting", 50), "client_roots": ROOTS}
        if ctx.request_state != "multi-round-1" or any(response(ctx, k) is None for k in requests):
            return input_required(requests, "multi-round-1")
        name = (accepted(ctx, "user_name") or {}).get("name", "")
        return text(f"All inputs received: name={name}")

    @mcp.tool(description="MRTR: two rounds of elicitation with evolving requestState")
    def test_input_required_result_multi_round(ctx: Context) -> CallToolResult | InputRequiredResult:
        step1 = form("Step 1: What is your name?", {"name": {"type": "string"}}, ["name"])
        step2 = form("Step 2: What is your favorite color?", {"color": {"type": "string"}}, ["color"])
        if ctx.request_state == "round-2" and response(ctx, "step2") is not None:
            return text(f"Multi-round complete: color={(accepted(ctx, 'step2') or {}).get('color', '')}")
        if ctx.request_state == "round-1" and response(ctx, "step1") is not None:
            return input_required({"step2": step2}, "round-2")
        return input_required({"step1": step1}, "round-1")

    @mcp.tool(description="MRTR: integrity-protected requestState (the SDK seals it)")
    def test_input_required_result_tampered_state(ctx: Context) -> CallToolResult | InputRequiredResult:
        if ctx.request_state != "tamper-check" or response(ctx, "confirm") is None:
            return input_required(
                {"confirm": form("Please confirm", {"ok": {"type": "boolean"}}, ["ok"])}, "tamper-check"
            )
        return text("state-ok")

    @mcp.tool(description="MRTR: only asks for what the client declared it can do")
    def test_input_required_result_capabilities(ctx: Context) -> CallToolResult | InputRequiredResult:
        if ctx.input_responses:
            return text("capabilities respected")
        caps = ctx.client_capabilities
        requests: dict[str, Any] = {}
        if caps is not None and caps.sampling is not None:
            requests["sample"] = sampling("Say hello")
        if caps is not None and caps.elicitation is not None:
            requests["user_name"] = name_form
        if caps is not None and caps.roots is not None:
            requests["client_roots"] = ROOTS
        if not requests:
            return text("no declared capability to ask with")
        return input_required(requests)

    # -- resources -------------------------------------------------------------------------
    @mcp.resource("test://static-text", description="A static text resource", mime_type="text/plain")
    def static_text() -> str:
        return "This is the content of the static text resource."

    @mcp.resource("test://static-binary", description="A static binary resource (PNG)", mime_type="image/png")
    def static_binary() -> bytes:
        return base64.b64decode(PNG_1X1)

    @mcp.resource("test://template/{id}/data", description="A templated resource", mime_type="application/json")
    def template_data(id: str) -> str:
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})

    @mcp.resource("test://watched-resource", description="A resource to subscribe to", mime_type="text/plain")
    def watched() -> str:
        return "Watched resource content"

    async def on_subscribe(ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        subscriptions.add(str(params.uri))
        return EmptyResult()

    async def on_unsubscribe(ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        subscriptions.discard(str(params.uri))
        return EmptyResult()

    async def on_set_level(ctx: Any, params: SetLevelRequestParams) -> EmptyResult:
        log_level["level"] = params.level
        return EmptyResult()

    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, on_subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, on_unsubscribe)
    lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, on_set_level)

    # -- prompts ---------------------------------------------------------------------------
    @mcp.prompt(description="A simple prompt without arguments")
    def test_simple_prompt() -> list[UserMessage]:
        return [UserMessage("This is a simple prompt for testing.")]

    @mcp.prompt(description="A prompt with two required arguments")
    def test_prompt_with_arguments(arg1: str, arg2: str) -> list[UserMessage]:
        return [UserMessage(f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")]

    @mcp.prompt(description="A prompt that embeds a resource")
    def test_prompt_with_embedded_resource(resourceUri: str) -> list[UserMessage]:
        resource = TextResourceContents(
            uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing."
        )
        return [
            UserMessage(EmbeddedResource(type="resource", resource=resource)),
            UserMessage("Please process the embedded resource above."),
        ]

    @mcp.prompt(description="A prompt with image content")
    def test_prompt_with_image() -> list[UserMessage]:
        return [
            UserMessage(ImageContent(type="image", data=PNG_1X1, mime_type="image/png")),
            UserMessage("Please analyze the image above."),
        ]

    @mcp.prompt(description="MRTR: asks for context before rendering (SEP-2322)")
    def test_input_required_result_prompt(ctx: Context) -> list[UserMessage] | InputRequiredResult:
        content = accepted(ctx, "user_context")
        if content is None:
            return input_required(
                {
                    "user_context": form(
                        "What context should the prompt use?", {"context": {"type": "string"}}, ["context"]
                    )
                }
            )
        return [UserMessage(f"Prompt rendered with context: {content.get('context', '')}")]

    @mcp.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> Completion:
        words = ["paris", "park", "party", "hello", "world"]
        values = [w for w in words if w.startswith(argument.value or "")]
        return Completion(values=values, total=len(values), has_more=False)

    return mcp


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    ns = parser.parse_args(argv)
    app = build_server().streamable_http_app(event_store=MemoryEventStore(), retry_interval=100, host=ns.host)
    # Same as MCPServer.run("streamable-http"), but on h11: httptools keeps trailing
    # whitespace in header values, which RFC 9110 says to strip (SEP-2243 checks it).
    uvicorn.run(app, host=ns.host, port=ns.port, http="h11", log_level="warning")


if __name__ == "__main__":
    main()
