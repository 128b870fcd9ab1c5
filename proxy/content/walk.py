"""Find the texts of a JSON-RPC message that content inspection reads, with their surface and path.

- tools/call request arguments → tool_arguments
- tools/call result: content[].text, embedded resources, structuredContent → tool_result
- tools/list (and prompts/resources listings): descriptions, titles, schemas → tool_description
- resources/read contents → resource; prompts/get messages → prompt
- sampling/createMessage and elicitation/create requests (from the server) → sampling, and a modern-era
  result's `inputRequests` (the server asking the agent the same things) → sampling
- the agent's answers to them: sampling/createMessage result → sampling_result, elicitation/create result →
  elicitation_result, roots/list result → roots; a modern-era request's `inputResponses` by their shape

`result_text` gives a tools/call result as the model reads it, all its text in one piece (see there).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from proxy.types import JsonObject

Key = str | int
MAX_DEPTH = 32
MAX_STRINGS = 100_000
_LISTINGS = {"tools/list": "tools", "prompts/list": "prompts", "resources/list": "resources",
             "resources/templates/list": "resourceTemplates"}


@dataclass(frozen=True, slots=True)
class Site:
    """One string in a message: where it is (keys from the message root) and which surface it belongs to."""

    surface: str
    keys: tuple[Key, ...]
    text: str

    @property
    def path(self) -> str:
        """JSONPath-style location, e.g. `$.result.content[0].text`."""
        return "$" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in self.keys)


def _strings(node: Any, keys: tuple[Key, ...], surface: str, depth: int = 0) -> Iterator[Site]:
    if isinstance(node, str):
        yield Site(surface, keys, node)
    elif depth >= MAX_DEPTH:
        return
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, (*keys, k), surface, depth + 1)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _strings(v, (*keys, i), surface, depth + 1)


def _content_block(block: Any, keys: tuple[Key, ...], surface: str) -> Iterator[Site]:
    if not isinstance(block, dict):
        return
    if isinstance(block.get("text"), str):
        yield Site(surface, (*keys, "text"), block["text"])
    resource = block.get("resource")
    if isinstance(resource, dict) and isinstance(resource.get("text"), str):
        yield Site(surface, (*keys, "resource", "text"), resource["text"])
    for field in ("description", "title"):
        if isinstance(block.get(field), str):
            yield Site(surface, (*keys, field), block[field])


def _blocks(content: Any, keys: tuple[Key, ...], surface: str) -> Iterator[Site]:
    if isinstance(content, list):
        for i, block in enumerate(content):
            yield from _content_block(block, (*keys, i), surface)
    elif isinstance(content, dict):
        yield from _content_block(content, keys, surface)


def _agent_answer(result: Any, keys: tuple[Key, ...], method: str | None) -> Iterator[Site]:
    """The agent's answer to a server's request, by method (or, without one, by its shape)."""
    if not isinstance(result, dict):
        return
    if method == "sampling/createMessage" or (method is None and ("model" in result or "role" in result)):
        yield from _blocks(result.get("content"), (*keys, "content"), "sampling_result")
    elif method == "elicitation/create" or (method is None and "action" in result):
        yield from _strings(result.get("content"), (*keys, "content"), "elicitation_result")
    elif method == "roots/list" or (method is None and "roots" in result):
        yield from _strings(result.get("roots"), (*keys, "roots"), "roots")
    else:
        yield from _strings(result, keys, "elicitation_result")


def sites(message: JsonObject, method: str | None, is_request: bool) -> Iterator[Site]:
    """Every inspected string of a request or of the answer to `method`, bounded in count."""
    for count, site in enumerate(_sites(message, method, is_request), 1):
        if count > MAX_STRINGS:
            return
        yield site


def _sites(message: JsonObject, method: str | None, is_request: bool) -> Iterator[Site]:
    if is_request:
        params = message.get("params")
        if not isinstance(params, dict):
            return
        responses = params.get("inputResponses")
        if isinstance(responses, dict):
            for name, answer in responses.items():
                yield from _agent_answer(answer, ("params", "inputResponses", name), None)
        if method in ("tools/call", "prompts/get"):
            yield from _strings(params.get("arguments"), ("params", "arguments"), "tool_arguments")
        elif method == "sampling/createMessage":
            if isinstance(params.get("systemPrompt"), str):
                yield Site("sampling", ("params", "systemPrompt"), params["systemPrompt"])
            for i, msg in enumerate(params.get("messages") or []):
                if isinstance(msg, dict):
                    yield from _blocks(msg.get("content"), ("params", "messages", i, "content"), "sampling")
        elif method == "elicitation/create":
            yield from _strings(params.get("message"), ("params", "message"), "sampling")
            yield from _strings(params.get("requestedSchema"), ("params", "requestedSchema"), "sampling")
        return
    result = message.get("result")
    if not isinstance(result, dict):
        return
    if method in ("sampling/createMessage", "elicitation/create", "roots/list"):
        yield from _agent_answer(result, ("result",), method)
        return
    requests = result.get("inputRequests") if result.get("resultType") == "input_required" else None
    if isinstance(requests, dict):
        for name, request in requests.items():
            if isinstance(request, dict) and request.get("method") in ("sampling/createMessage", "elicitation/create"):
                for site in _sites(request, request["method"], True):
                    yield Site(site.surface, ("result", "inputRequests", name, *site.keys), site.text)
    if method == "tools/call":
        yield from _blocks(result.get("content"), ("result", "content"), "tool_result")
        yield from _strings(result.get("structuredContent"), ("result", "structuredContent"), "tool_result")
    elif method in _LISTINGS:
        key = _LISTINGS[method]
        for i, item in enumerate(result.get(key) or []):
            if isinstance(item, dict):
                for field, value in item.items():
                    if field not in ("name", "uri", "uriTemplate", "mimeType", "icons", "_meta"):
                        yield from _strings(value, ("result", key, i, field), "tool_description")
    elif method == "resources/read":
        for i, item in enumerate(result.get("contents") or []):
            if isinstance(item, dict) and isinstance(item.get("text"), str):
                yield Site("resource", ("result", "contents", i, "text"), item["text"])
    elif method == "prompts/get":
        if isinstance(result.get("description"), str):
            yield Site("prompt", ("result", "description"), result["description"])
        for i, msg in enumerate(result.get("messages") or []):
            if isinstance(msg, dict):
                yield from _blocks(msg.get("content"), ("result", "messages", i, "content"), "prompt")


_ENDS_SENTENCE = tuple(".!?:;\n\u3002\uff01\uff1f")


def result_text(message: JsonObject, method: str | None, is_request: bool) -> Site | None:
    """A tools/call result's text as the model reads it: its text blocks (and embedded resources' text)
    in order, then the strings of its structuredContent; a piece that ends a sentence is followed by a
    newline, one that stops mid-sentence by a space (so the sentence reads on).

    An instruction split over several blocks, each innocent alone, is whole here. A piece equal to an
    earlier one (the SDK repeats a text result in structuredContent) is read once. None unless there are
    at least two distinct pieces (one piece is its own site). Linear, and bounded by the message's size.
    """
    if is_request or method != "tools/call":
        return None
    result = message.get("result")
    if not isinstance(result, dict):
        return None
    pieces = [site.text for site in _blocks(result.get("content"), ("result", "content"), "tool_result")
              if site.keys[-1] == "text"]
    pieces += [site.text for site in _strings(result.get("structuredContent"), ("result", "structuredContent"),
                                              "tool_result")]
    pieces = list(dict.fromkeys(p for p in pieces[:MAX_STRINGS] if p))  # a repeat adds nothing the model reads anew
    if len(pieces) < 2:
        return None
    out = [pieces[0]]
    for piece in pieces[1:]:
        out.append("\n" if out[-1].rstrip(" \t").endswith(_ENDS_SENTENCE) else " ")
        out.append(piece)
    return Site("tool_result", ("result", "content"), "".join(out))


def replace_at(message: JsonObject, keys: tuple[Key, ...], value: str) -> JsonObject:
    """A copy of `message` with the string at `keys` replaced (only the containers on the path are copied)."""
    root: Any = dict(message)
    node = root
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        child = node[key]
        if last:
            node[key] = value
        else:
            copy = dict(child) if isinstance(child, dict) else list(child)
            node[key] = copy
            node = copy
    result: JsonObject = root
    return result
