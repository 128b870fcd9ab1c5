"""The canonical-JSON fast path must give exactly the bytes of the RFC 8785 reference."""

from __future__ import annotations

import hashlib

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.canonical import canonical_json, canonical_sha256

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_canonical_json_equals_the_rfc8785_reference(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        return  # values JCS cannot represent (e.g. integers beyond 2**53) are not compared
    assert canonical_json(value) == expected


def test_key_order_does_not_change_the_hash() -> None:
    a = {"b": 1, "a": {"y": [1, 2], "x": "é"}}
    b = {"a": {"x": "é", "y": [1, 2]}, "b": 1}
    assert canonical_sha256(a) == canonical_sha256(b) == hashlib.sha256(rfc8785.dumps(a)).hexdigest()


def test_non_ascii_keys_and_floats_use_the_reference_ordering() -> None:
    value = {"\ue000": 1, "\U0001f600": 2.5, "a": 1e21}
    assert canonical_json(value) == rfc8785.dumps(value)
