"""Shadowing: same names, case and confusable look-alikes across upstreams."""

from __future__ import annotations

from proxy.pins.shadowing import collisions_for, find_collisions, skeleton, winner

CYRILLIC_E = "\u0435"
ZWSP = "\u200b"


def test_skeleton_folds_case_width_homoglyphs_and_separators() -> None:
    assert skeleton("Read_File") == skeleton("read-file") == skeleton(f"r{CYRILLIC_E}ad_file") == "read_file"
    assert skeleton(f"read{ZWSP}_file") == "read_file"
    assert skeleton("\uff52\uff45\uff41\uff44_file") == "read_file"  # full-width letters
    assert skeleton("send") != skeleton("spend")


def test_collision_kinds() -> None:
    found = {c.skeleton: c for c in find_collisions({
        "a": ["search", "fetch", "read_file", "only_a"], "b": ["search", "Fetch", f"r{CYRILLIC_E}ad_file"],
    })}
    assert set(found) == {"search", "fetch", "read_file"}
    assert found["search"].kind == "exact" and found["fetch"].kind == "case"
    assert found["read_file"].kind == "confusable"
    assert found["search"].members == (("a", "search"), ("b", "search"))
    assert "on a" in found["search"].describe()


def test_same_upstream_is_not_shadowing() -> None:
    assert find_collisions({"a": ["x", "X"]}) == []


def test_collisions_for_one_upstream_and_the_winner() -> None:
    hits = collisions_for("b", ["search", "mine"], {"a": ["search"], "b": ["stale"]})
    assert set(hits) == {"search"}
    assert winner(hits["search"], ["a", "b"]) == "a"
    assert winner(hits["search"], ["c"]) is None
