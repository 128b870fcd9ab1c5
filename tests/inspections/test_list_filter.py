"""Listings are filtered to what the caller may use; modern answers become private to the caller."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from proxy.decision import Decision
from proxy.exchange import Exchange
from proxy.inspections.list_filter import ListingFilter
from proxy.pipeline import Pipeline
from proxy.policy import PolicyHolder
from proxy.testing import (
    RecordingAudit,
    listing_response,
    make_exchange,
    memory_store,
    policy_holder,
    prompts_list_response,
    request_message,
    resources_list_response,
    tool_item,
    tools_list_response,
)
from proxy.testing.factories import registry_for
from proxy.types import Direction, Era, Verdict

POLICY = """\
rules:
  - id: tools
    effect: permit
    methods: [tools/call]
    names: [get_weather, search_notes]
  - id: conditional-delete
    effect: permit
    methods: [tools/call]
    names: [delete_note]
    arguments:
      - {path: confirm, equals: true}
  - id: no-secret-search
    effect: forbid
    methods: [tools/call]
    names: [search_notes]
    arguments:
      - {path: query, regex: password}
  - id: never-shell
    effect: forbid
    methods: [tools/call]
    names: [get_*]
    principals: [bob]
  - id: prompts
    effect: permit
    methods: [prompts/get]
    names: [greet]
  - id: public-files
    effect: permit
    methods: [resources/read]
    names: ["file:///public/*"]
  - id: listings
    effect: permit
    methods: [tools/list, prompts/list, resources/list]
"""


@pytest.fixture
def holder(tmp_path: Path) -> PolicyHolder:
    return policy_holder(tmp_path, POLICY)


@pytest.fixture
def flt(holder: PolicyHolder) -> ListingFilter:
    return ListingFilter(holder, memory_store())


def names(decision: Decision | None, key: str = "tools", field: str = "name") -> list[Any]:
    assert decision is not None
    assert decision.verdict is Verdict.REWRITE
    assert decision.message is not None
    return [item[field] for item in decision.message["result"][key]]


def test_disallowed_tools_are_hidden(flt: ListingFilter) -> None:
    ex = tools_list_response("get_weather", "run_shell", "search_notes", "delete_note", "drop_db")
    decision = flt.inspect(ex)
    # conditional permits count in listings; conditional forbids do not hide
    assert names(decision) == ["get_weather", "search_notes", "delete_note"]
    assert ex.notes["hidden_items"] == 2
    assert decision is not None and decision.check == "listing_filter"


def test_kept_items_are_untouched_and_other_result_fields_kept(flt: ListingFilter) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    ex = listing_response("tools/list", [tool_item("get_weather", schema), tool_item("rm")],
                          extra={"nextCursor": "c2", "_meta": {"k": "v"}}, request_id="abc")
    decision = flt.inspect(ex)
    assert decision is not None and decision.message is not None
    assert decision.message == {"jsonrpc": "2.0", "id": "abc", "result": {
        "tools": [tool_item("get_weather", schema)], "nextCursor": "c2", "_meta": {"k": "v"}}}


def test_nothing_to_hide_returns_none(flt: ListingFilter) -> None:
    ex = tools_list_response("get_weather", "search_notes")
    assert flt.inspect(ex) is None
    assert "hidden_items" not in ex.notes


def test_principal_specific_listing(flt: ListingFilter) -> None:
    assert names(flt.inspect(tools_list_response("get_weather", "search_notes", principal="bob"))) == [
        "search_notes"]


def test_everything_hidden(flt: ListingFilter) -> None:
    assert names(flt.inspect(tools_list_response("rm", "dd"))) == []


def test_malformed_items_are_hidden(flt: ListingFilter) -> None:
    items: list[Any] = [tool_item("get_weather"), "get_weather", {"name": 5}, {"title": "x"}]
    ex = listing_response("tools/list", items)
    assert names(flt.inspect(ex)) == ["get_weather"]


def test_prompts_are_filtered(flt: ListingFilter) -> None:
    assert names(flt.inspect(prompts_list_response("greet", "exfiltrate")), "prompts") == ["greet"]


def test_resources_are_filtered_by_uri(flt: ListingFilter) -> None:
    ex = resources_list_response("file:///public/a.txt", "file:///private/keys.pem")
    assert names(flt.inspect(ex), "resources", "uri") == ["file:///public/a.txt"]


def test_modern_era_sets_cache_scope_private(flt: ListingFilter) -> None:
    hidden = flt.inspect(tools_list_response("get_weather", "rm", era=Era.MODERN))
    assert hidden is not None and hidden.message is not None
    assert hidden.message["result"]["cacheScope"] == "private"
    unchanged = flt.inspect(tools_list_response("get_weather", era=Era.MODERN, extra={"cacheScope": "public"}))
    assert unchanged is not None and unchanged.message is not None
    assert unchanged.message["result"]["cacheScope"] == "private"
    assert names(unchanged) == ["get_weather"]


def test_modern_era_already_private_and_nothing_hidden_returns_none(flt: ListingFilter) -> None:
    assert flt.inspect(tools_list_response("get_weather", era=Era.MODERN, extra={"cacheScope": "private"})) is None


def test_handshake_era_gets_no_cache_scope(flt: ListingFilter) -> None:
    decision = flt.inspect(tools_list_response("rm", era=Era.HANDSHAKE))
    assert decision is not None and decision.message is not None
    assert "cacheScope" not in decision.message["result"]


@pytest.mark.parametrize("result", [None, {}, {"tools": "nope"}, {"tools": {"a": 1}}, []])
def test_unexpected_shapes_are_left_alone(flt: ListingFilter, result: Any) -> None:
    ex = make_exchange(None, request=request_message("tools/list", {}), direction=Direction.TO_CLIENT,
                       message={"jsonrpc": "2.0", "id": 1, "result": result})
    assert flt.inspect(ex) is None


def test_applies_only_to_listing_answers(flt: ListingFilter) -> None:
    assert flt.applies(tools_list_response("x"))
    assert not flt.applies(make_exchange("tools/list", params={}))  # the request itself
    error = make_exchange(None, request=request_message("tools/list"), direction=Direction.TO_CLIENT,
                          message={"jsonrpc": "2.0", "id": 1, "error": {"code": -1, "message": "m"}})
    assert not flt.applies(error)
    call_answer = make_exchange(None, request=request_message("tools/call", {"name": "rm"}),
                                direction=Direction.TO_CLIENT, result={"tools": [tool_item("rm")]})
    assert not flt.applies(call_answer)
    templates = make_exchange(None, request=request_message("resources/templates/list"),
                              direction=Direction.TO_CLIENT, result={"resourceTemplates": []})
    assert not flt.applies(templates)


@pytest.mark.anyio
async def test_through_the_pipeline_the_rewrite_is_final(holder: PolicyHolder) -> None:
    audit = RecordingAudit()
    pipeline = Pipeline(await registry_for(holder), audit)
    ex: Exchange = tools_list_response("get_weather", "rm", era=Era.MODERN)
    decision = await pipeline.run(ex)
    assert decision.verdict is Verdict.REWRITE
    assert names(decision) == ["get_weather"]
    assert ex.message == decision.message
    assert audit.decisions == [decision]
