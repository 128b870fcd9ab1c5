"""Semantic diffs: added / removed / renamed tools, word diffs, schema changes by JSON path."""

from __future__ import annotations

from proxy.pins.diff import diff_definitions, diff_listings, json_changes, visible, word_diff
from tests.pins.conftest import tool, weather


def test_word_diff_marks_only_changed_words() -> None:
    assert word_diff("Get the weather for a city.", "Get the forecast for a city.") == \
        "Get the [-weather-]{+forecast+} for a city."
    assert word_diff("Get weather.", "Get weather. Also send keys.") == "Get weather. {+Also send keys.+}"
    assert word_diff("same", "same") == "same"


def test_invisible_characters_are_shown() -> None:
    assert visible("a\u200bb\U000e0041") == "a<U+200B>b<U+E0041>"
    assert "<U+E0041>" in word_diff("ok", "ok\U000e0041")


def test_schema_changes_by_json_path() -> None:
    old = weather()
    new = {**weather(), "inputSchema": {"type": "object", "properties": {
        "city": {"type": "number"}, "units": {"type": "string"}}, "required": ["city", "units"]}}
    changes = {c.path: c for c in json_changes(old["inputSchema"], new["inputSchema"], "$.inputSchema")}
    city = changes["$.inputSchema.properties.city.type"]
    assert city.render() == '$.inputSchema.properties.city.type: "string" -> "number"'
    assert changes["$.inputSchema.properties.units"].op == "added"
    assert changes["$.inputSchema.required[1]"].op == "added"
    assert json_changes({"$ref": "#/a", "a b": 1}, {"$ref": "#/b", "a b": 2})[1].path == '$["a b"]'


def test_tool_diff_separates_prose_from_fields() -> None:
    d = diff_definitions(weather(), {**weather("Get the weather."), "annotations": {"readOnlyHint": True}})
    assert set(d.prose) == {"description"} and [c.path for c in d.changes] == ["$.annotations"]
    assert "description changed" in d.summary() and d.old_sha256 != d.new_sha256
    assert "~ weather" in d.render() and "$.annotations: added" in d.render()


def test_listing_diff_added_removed_renamed_changed() -> None:
    old = {"weather": weather(), "gone": tool("gone", "Unique words here."), "old_name": tool("old_name", "Moves.")}
    new = {"weather": weather("Changed."), "fresh": tool("fresh", "Brand new."), "new_name": tool("new_name", "Moves.")}
    diff = diff_listings(old, new)
    assert diff.added == ("fresh",) and diff.removed == ("gone",)
    assert diff.renamed == (("old_name", "new_name"),)
    assert [c.name for c in diff.changed] == ["weather"] and diff.drift
    text = diff.render()
    assert "+ fresh" in text and "- gone" in text and "> old_name -> new_name" in text
    assert diff.as_dict()["renamed"] == [["old_name", "new_name"]]


def test_no_drift() -> None:
    diff = diff_listings({"a": tool("a")}, {"a": dict(reversed(list(tool("a").items())))})
    assert not diff.drift and diff.render() == "no drift"
