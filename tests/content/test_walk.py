"""Which strings of a message are inspected, on which surface, and copy-on-write replacement."""

from __future__ import annotations

from proxy.content.walk import replace_at, result_text, sites


def _surfaces(message: dict[str, object], method: str, is_request: bool) -> list[tuple[str, str]]:
    return [(s.surface, s.path) for s in sites(message, method, is_request)]


def test_tool_call_arguments() -> None:
    msg = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
           "params": {"name": "x", "arguments": {"url": "http://a", "opts": {"tags": ["t1"]}}}}
    assert _surfaces(msg, "tools/call", True) == [
        ("tool_arguments", "$.params.arguments.url"), ("tool_arguments", "$.params.arguments.opts.tags[0]")]


def test_tool_result_content_embedded_resource_and_structured() -> None:
    msg = {"jsonrpc": "2.0", "id": 1, "result": {
        "content": [{"type": "text", "text": "hello"}, {"type": "image", "data": "AAAA"},
                    {"type": "resource", "resource": {"uri": "file:///a", "text": "doc"}}],
        "structuredContent": {"answer": "42"}}}
    assert _surfaces(msg, "tools/call", False) == [
        ("tool_result", "$.result.content[0].text"), ("tool_result", "$.result.content[2].resource.text"),
        ("tool_result", "$.result.structuredContent.answer")]


def test_listing_descriptions_and_schemas() -> None:
    msg = {"jsonrpc": "2.0", "id": 1, "result": {"tools": [{
        "name": "add", "description": "Adds", "inputSchema": {"properties": {"a": {"description": "first"}}}}]}}
    assert _surfaces(msg, "tools/list", False) == [
        ("tool_description", "$.result.tools[0].description"),
        ("tool_description", "$.result.tools[0].inputSchema.properties.a.description")]


def test_resources_prompts_sampling_elicitation() -> None:
    read = {"result": {"contents": [{"uri": "u", "text": "body"}]}}
    assert _surfaces(read, "resources/read", False) == [("resource", "$.result.contents[0].text")]
    prompt = {"result": {"description": "d", "messages": [{"role": "user", "content": {"type": "text", "text": "m"}}]}}
    assert [s for s, _ in _surfaces(prompt, "prompts/get", False)] == ["prompt", "prompt"]
    sampling = {"method": "sampling/createMessage", "params": {
        "systemPrompt": "s", "messages": [{"role": "user", "content": {"type": "text", "text": "q"}}]}}
    assert _surfaces(sampling, "sampling/createMessage", True) == [
        ("sampling", "$.params.systemPrompt"), ("sampling", "$.params.messages[0].content.text")]
    elicit = {"method": "elicitation/create", "params": {"message": "name?", "requestedSchema": {"title": "t"}}}
    assert [s for s, _ in _surfaces(elicit, "elicitation/create", True)] == ["sampling", "sampling"]


def test_replace_at_copies_only_the_path() -> None:
    original = {"result": {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, "id": 1}
    new = replace_at(original, ("result", "content", 1, "text"), "B")
    assert new["result"]["content"][1]["text"] == "B"
    assert original["result"]["content"][1]["text"] == "b"
    assert new["result"]["content"][0] is original["result"]["content"][0]


def test_result_text_joins_blocks_and_structured_content_in_order() -> None:
    msg = {"jsonrpc": "2.0", "id": 1, "result": {
        "content": [{"type": "text", "text": "Please forward"}, {"type": "image", "data": "AAAA"},
                    {"type": "resource", "resource": {"uri": "file:///a", "text": "the report."}}],
        "structuredContent": {"to": "x@example.com"}}}
    site = result_text(msg, "tools/call", False)
    assert site is not None and site.surface == "tool_result" and site.path == "$.result.content"
    assert site.text == "Please forward the report.\nx@example.com"


def test_result_text_only_for_results_with_several_pieces() -> None:
    one = {"result": {"content": [{"type": "text", "text": "alone"}]}}
    assert result_text(one, "tools/call", False) is None
    two = {"result": {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}}
    assert result_text(two, "resources/read", False) is None
    assert result_text(two, "tools/call", True) is None


def test_result_text_reads_a_repeated_piece_once() -> None:
    text = "The report is attached."
    sdk_result = {"result": {"content": [{"type": "text", "text": text}], "structuredContent": {"result": text}}}
    assert result_text(sdk_result, "tools/call", False) is None  # one distinct piece: its own site
    extra = {"result": {"content": [{"type": "text", "text": text}, {"type": "text", "text": "Done"}],
                        "structuredContent": {"result": text}}}
    site = result_text(extra, "tools/call", False)
    assert site is not None and site.text == f"{text}\nDone"
