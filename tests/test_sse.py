"""SSE codec: table tests, chunking edge cases, size limit, encoder, and split-invariance properties."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.sse import SSEEvent, SSEEventTooLarge, SSEParser, encode_event


def parse(*chunks: bytes, limit: int = 4 * 1024 * 1024) -> list[SSEEvent]:
    p = SSEParser(max_event_bytes=limit)
    return [ev for c in chunks for ev in p.feed(c)]


def sem(ev: SSEEvent) -> tuple[object, ...]:
    return (ev.event, ev.data, ev.id, ev.retry, ev.has_data, ev.comment_only)


# (stream, expected [(event, data, id, retry, has_data, comment_only)])
TABLE = [
    (b"data: hello\n\n", [(None, "hello", None, None, True, False)]),
    (b"data: a\r\ndata: b\r\n\r\n", [(None, "a\nb", None, None, True, False)]),
    (b"data: a\rdata: b\r\r", [(None, "a\nb", None, None, True, False)]),
    (b"data: a\r\ndata: b\rdata: c\n\r\n", [(None, "a\nb\nc", None, None, True, False)]),
    (b": keep-alive\n\n", [(None, "", None, None, False, True)]),
    (b"id: 1\ndata:\n\n", [(None, "", "1", None, True, False)]),  # priming event
    (b"id: 7\n\n", [(None, "", "7", None, False, False)]),
    (b"id\n\n", [(None, "", "", None, False, False)]),  # resets last-event-id
    (b"event: ping\ndata: x\n\n", [("ping", "x", None, None, True, False)]),
    (b"event:\ndata: x\n\n", [(None, "x", None, None, True, False)]),
    (b"event: a\nevent: b\ndata: x\n\n", [("b", "x", None, None, True, False)]),
    (b"retry: 1500\n\n", [(None, "", None, 1500, False, False)]),
    (b"retry: 15x\n\n", [(None, "", None, None, False, False)]),
    (b"retry: -1\n\n", [(None, "", None, None, False, False)]),
    (b"data\n\n", [(None, "", None, None, True, False)]),
    (b"data:  two\n\n", [(None, " two", None, None, True, False)]),
    (b"data:nospace\n\n", [(None, "nospace", None, None, True, False)]),
    (b"data: a:b: c\n\n", [(None, "a:b: c", None, None, True, False)]),
    (b"data: \n\n", [(None, "", None, None, True, False)]),
    (b"data\ndata\n\n", [(None, "\n", None, None, True, False)]),
    (b"id: a\0b\ndata: x\n\n", [(None, "x", None, None, True, False)]),
    (b"foo: bar\n\n", [(None, "", None, None, False, False)]),
    (b": c1\ndata: x\n: c2\n\n", [(None, "x", None, None, True, False)]),
    (b"\xef\xbb\xbfdata: bom\n\n", [(None, "bom", None, None, True, False)]),
    (b"data: 1\n\n\xef\xbb\xbfdata: 2\n\n", [(None, "1", None, None, True, False),
                                             (None, "", None, None, False, False)]),
    (b"\n\n\r\ndata: x\n\n\n\n", [(None, "x", None, None, True, False)]),
    (b"data: caf\xc3\xa9 \xe2\x9c\x93\n\n", [(None, "caf\u00e9 \u2713", None, None, True, False)]),
    (b"data: \xff\xfe\n\n", [(None, "\ufffd\ufffd", None, None, True, False)]),
    (b"data: unfinished\n", []),
    (b"data: x\n\ndata: y\n\n", [(None, "x", None, None, True, False), (None, "y", None, None, True, False)]),
]


@pytest.mark.parametrize(("stream", "expected"), TABLE)
def test_table(stream: bytes, expected: list[tuple[object, ...]]) -> None:
    assert [sem(e) for e in parse(stream)] == expected
    # same result fed one byte at a time
    assert [sem(e) for e in parse(*[stream[i : i + 1] for i in range(len(stream))])] == expected


def test_events_are_ordinary_frozen_dataclass_instances() -> None:
    raw = b"event: e\nid: 1\nretry: 5\ndata: x\n\n"
    (ev,) = parse(raw)
    expected = SSEEvent(event="e", data="x", id="1", retry=5, raw=raw, has_data=True, comment_only=False)
    assert ev == expected and hash(ev) == hash(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.data = "y"  # type: ignore[misc]


def test_raw_is_exact_block_bytes() -> None:
    stream = b"\xef\xbb\xbf: ka\r\n\r\n\n\nid: 1\r\ndata: {}\r\n\r\nevent: e\rdata: z\r\r"
    evs = parse(stream)
    assert [e.raw for e in evs] == [b": ka\r\n\r\n", b"id: 1\r\ndata: {}\r\n\r\n", b"event: e\rdata: z\r\r"]
    assert evs[0].comment_only and not evs[1].comment_only


def test_split_inside_crlf_within_block_keeps_raw_exact() -> None:
    evs = parse(b"data: a\r", b"\ndata: b\r", b"\n\r\n")
    assert [(e.data, e.raw) for e in evs] == [("a\nb", b"data: a\r\ndata: b\r\n\r\n")]


def test_split_inside_terminating_crlf_dispatches_at_once() -> None:
    p = SSEParser()
    first = p.feed(b"data: a\r\n\r")
    assert [(e.data, e.raw) for e in first] == [("a", b"data: a\r\n\r")]
    # the LF completing that CRLF is not a blank line and does not corrupt the next event
    assert [(e.data, e.raw) for e in p.feed(b"\ndata: b\r\n\r\n")] == [("b", b"data: b\r\n\r\n")]


def test_split_inside_utf8_char_and_bom() -> None:
    stream = b"\xef\xbb\xbfdata: \xe2\x9c\x93\n\n"
    for cut in range(1, len(stream)):
        evs = parse(stream[:cut], stream[cut:])
        assert [(e.data, e.raw) for e in evs] == [("\u2713", b"data: \xe2\x9c\x93\n\n")], cut


def test_partial_bom_prefix_that_is_not_a_bom_is_kept() -> None:
    evs = parse(b"\xef", b"\xbb", b"Xdata: 1\n\ndata: 2\n\n")
    # the two bytes are not a BOM, so they become part of the first field name (an unknown field)
    assert [(e.data, e.has_data, e.raw) for e in evs] == [
        ("", False, b"\xef\xbbXdata: 1\n\n"), ("2", True, b"data: 2\n\n")]
    assert [e.data for e in parse(b"d", b"ata: 1\n\n")] == ["1"]


def test_unfinished_line_over_limit_raises() -> None:
    p = SSEParser(max_event_bytes=100)
    p.feed(b"data: " + b"x" * 90)
    with pytest.raises(SSEEventTooLarge):
        p.feed(b"x" * 20)


def test_unfinished_block_of_many_lines_over_limit_raises() -> None:
    p = SSEParser(max_event_bytes=100)
    with pytest.raises(SSEEventTooLarge):
        for _ in range(20):
            p.feed(b"data: 123456\n")


def test_complete_event_over_limit_raises_even_in_one_chunk() -> None:
    with pytest.raises(SSEEventTooLarge):
        parse(b"data: " + b"x" * 200 + b"\n\n", limit=100)


def test_events_under_limit_and_blank_lines_do_not_accumulate() -> None:
    p = SSEParser(max_event_bytes=64)
    for _ in range(1000):
        assert [e.data for e in p.feed(b"data: " + b"y" * 40 + b"\n\n\n\n\n")] == ["y" * 40]


def test_encode_event_format() -> None:
    assert encode_event("hi") == b"data: hi\n\n"
    assert encode_event("", id="0") == b"id: 0\ndata:\n\n"
    assert encode_event("a\r\nb\rc\nd", event="m", id="9") == b"event: m\nid: 9\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
    assert encode_event(" lead") == b"data:  lead\n\n"
    assert encode_event("\u2713") == b"data: \xe2\x9c\x93\n\n"


@pytest.mark.parametrize("kw", [{"event": "a\nb"}, {"event": "a\rb"}, {"id": "1\n"}, {"id": "a\0"}])
def test_encode_event_rejects_field_injection(kw: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="must not contain"):
        encode_event("x", **kw)


# ---------------------------------------------------------------- properties
_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\0"), max_size=12)
_line = st.one_of(
    st.tuples(st.just("data"), _text),
    st.tuples(st.just("event"), _text),
    st.tuples(st.just("id"), _text),
    st.tuples(st.just("retry"), st.from_regex(r"[0-9]{1,6}|[0-9]x", fullmatch=True)),
    st.tuples(st.just(":"), _text),
    st.tuples(st.just("bare"), st.just("")),
    st.tuples(st.just("zz"), _text),
)
_eol = st.sampled_from(["\n", "\r\n", "\r"])
_block = st.tuples(st.lists(st.tuples(_line, _eol), min_size=1, max_size=5), _eol, st.integers(0, 2))


def _build(blocks: list[tuple[list[tuple[tuple[str, str], str]], str, int]],
           bom: bool) -> tuple[bytes, list[tuple[object, ...]], list[bytes]]:
    """Serialize generated blocks; return (stream, expected semantics, expected raws)."""
    out = [b"\xef\xbb\xbf"] if bom else []
    expected: list[tuple[object, ...]] = []
    raws: list[bytes] = []
    prev = "\n"
    for lines, end, extra in blocks:
        raw = []
        data: list[str] = []
        event = ident = retry = None
        fields = False
        for (kind, value), eol in lines:
            if kind == ":":
                text = ":" + value
            else:
                fields = True
                text = "data" if kind == "bare" else f"{kind}: {value}"
                if kind in ("data", "bare"):
                    data.append(value)
                elif kind == "event":
                    event = value or None
                elif kind == "id":
                    ident = value
                elif kind == "retry" and value.isdigit():
                    retry = int(value)
            raw.append((text + eol).encode())
            prev = eol
        # a LF right after a CR would merge into one CRLF: pick a CR-based ending instead
        end = "\r\n" if prev == "\r" and end == "\n" else end
        raw.append(end.encode())
        block = b"".join(raw)
        expected.append((event, "\n".join(data), ident, retry, bool(data), not fields))
        raws.append(block)
        gap = ("\r" if end == "\r" else "\n") * extra
        out += [block, gap.encode()]
        prev = gap[-1:] or end
    return b"".join(out), expected, raws


@settings(max_examples=300, deadline=None)
@given(st.lists(_block, max_size=6), st.booleans(), st.lists(st.integers(0, 10_000), max_size=8))
def test_property_any_split_yields_same_events(blocks: list[Any], bom: bool, cuts: list[int]) -> None:
    stream, expected, raws = _build(blocks, bom)
    whole = parse(stream)
    assert [sem(e) for e in whole] == expected
    assert [e.raw for e in whole] == raws
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    split = parse(*chunks)
    assert [sem(e) for e in split] == expected
    for got, want in zip(split, raws, strict=True):
        # only documented difference: a cut between the CR and LF that end a block
        assert got.raw == want or (want.endswith(b"\r\n") and got.raw == want[:-1])


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
       st.one_of(st.none(), _text), st.one_of(st.none(), _text))
def test_property_encode_then_parse_round_trips(data: str, event: str | None, ident: str | None) -> None:
    (ev,) = parse(encode_event(data, event=event, id=ident))
    assert ev.data == data.replace("\r\n", "\n").replace("\r", "\n")
    assert ev.event == (event or None)
    assert ev.id == ident
    assert ev.has_data


# ------------------------------------------------- chunking equivalence against a reference
_EOL = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)")


def _reference(stream: bytes) -> tuple[list[tuple[object, ...]], list[bytes]]:
    """A plain, whole-stream reading of the documented rules: (semantics, raw) of each finished block."""
    if stream.startswith(b"\xef\xbb\xbf"):
        stream = stream[3:]
    expected: list[tuple[object, ...]] = []
    raws: list[bytes] = []
    pending: list[bytes] = []
    for line in _EOL.findall(stream):  # an unfinished last line is not matched: dropped, as is its block
        body = line.rstrip(b"\r\n")
        if body:
            pending.append(line)
            continue
        if not pending:
            continue  # blank lines between blocks belong to no block
        data: list[bytes] = []
        event = ident = None
        retry = None
        fields = False
        for field in pending:
            field = field.rstrip(b"\r\n")
            if field.startswith(b":"):
                continue
            fields = True
            name, colon, value = field.partition(b":")
            value = value[1:] if colon and value.startswith(b" ") else value
            if name == b"data":
                data.append(value)
            elif name == b"event":
                event = value.decode("utf-8", "replace") or None
            elif name == b"id" and b"\0" not in value:
                ident = value.decode("utf-8", "replace")
            elif name == b"retry" and value.isdigit():
                retry = int(value)
        expected.append((event, b"\n".join(data).decode("utf-8", "replace"), ident, retry, bool(data), not fields))
        raws.append(b"".join([*pending, line]))
        pending = []
    return expected, raws


_field_line = st.one_of(
    st.just(b"data:"),  # empty data line (priming event)
    st.just(b"data"),
    st.just(b"data: "),
    st.builds(lambda v: b"data: " + v, st.binary(max_size=8).filter(lambda b: b"\r" not in b and b"\n" not in b)),
    st.builds(lambda n: b"data: " + b"L" * n, st.integers(0, 600)),  # long lines span many chunks
    st.sampled_from([b"event: ping", b"event:", b"id: 7", b"id", b"id: a\0b", b"retry: 250", b"retry: 2x",
                     b": keep-alive", b":", b"unknown: field", b"data: caf\xc3\xa9", b"data: \xe2\x9c\x93",
                     b"\xef\xbb\xbfdata: not-a-bom-here"]),
    st.just(b""),  # a blank line: ends a block, or is dropped between blocks
)
_stream_lines = st.lists(st.tuples(_field_line, st.sampled_from([b"\n", b"\r", b"\r\n"])), max_size=25)


@settings(max_examples=300, deadline=None)
@given(_stream_lines, st.booleans(), st.binary(max_size=4).filter(lambda b: b"\r" not in b and b"\n" not in b),
       st.lists(st.integers(0, 20_000), max_size=40))
def test_property_random_chunking_matches_whole_stream_and_reference(
        lines: list[tuple[bytes, bytes]], bom: bool, trailer: bytes, cuts: list[int]) -> None:
    stream = (b"\xef\xbb\xbf" if bom else b"") + b"".join(text + eol for text, eol in lines) + trailer
    expected, raws = _reference(stream)
    whole = parse(stream)
    assert [sem(e) for e in whole] == expected
    assert [e.raw for e in whole] == raws
    assert b"".join(e.raw for e in whole) == b"".join(raws)
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    for split in (parse(*chunks), parse(*[stream[i : i + 1] for i in range(len(stream))])):
        assert [sem(e) for e in split] == [sem(e) for e in whole]
        for got, want in zip(split, whole, strict=True):
            # only documented difference: a cut between the CR and LF that end a block
            assert got.raw == want.raw or (want.raw.endswith(b"\r\n") and got.raw == want.raw[:-1])


def test_long_line_in_small_chunks_is_linear() -> None:
    """Guards the quadratic regression: a 2 MiB ``data:`` line fed in 256-byte chunks.

    The parser used to prepend its pending partial line to every chunk and re-split the result, so
    this input cost ~8 GiB of copying and scanning (several seconds, growing with the square of the
    line length); a linear parser finishes in milliseconds.
    """
    payload = bytes(range(32, 127)) * (2 * 1024 * 1024 // 95)
    stream = b"id: 1\r\ndata: " + payload + b"\r\n\r\n"
    p = SSEParser(max_event_bytes=4 * 1024 * 1024)
    events: list[SSEEvent] = []
    for i in range(0, len(stream), 256):
        events += p.feed(stream[i : i + 256])
    assert len(events) == 1
    (ev,) = events
    assert ev.data == payload.decode() and ev.id == "1" and ev.raw == stream
    # the parser is reusable afterwards and holds nothing of the long line
    assert [e.data for e in p.feed(b"data: next\n\n")] == ["next"]


def test_long_line_split_across_chunks_with_crlf_and_following_events() -> None:
    line = b"data: " + b"q" * 5000
    stream = b"event: e\n" + line + b"\r\n\r\ndata: 2\r\rdata: 3\n\n"
    lf = stream.index(b"\r\n\r\n") + 3  # the LF of the CRLF that ends the first block
    for size in (1, 7, 256, 4999, 5006):
        evs = parse(*[stream[i : i + size] for i in range(0, len(stream), size)])
        assert [(e.event, e.data) for e in evs] == [("e", "q" * 5000), (None, "2"), (None, "3")], size
        # a cut right before that LF returns the block at once and drops the LF (documented)
        want = stream[:lf] + stream[lf + 1 :] if lf % size == 0 else stream
        assert b"".join(e.raw for e in evs) == want, size


@pytest.mark.parametrize("prefix", [b"", b"\xef\xbb\xbf", b"event: big\n: note\r\n"])
def test_long_unfinished_line_in_small_chunks_hits_limit_before_it_ends(prefix: bytes) -> None:
    limit = 10_000
    p = SSEParser(max_event_bytes=limit)
    assert p.feed(prefix + b"data: ") == []
    fed = len(prefix.removeprefix(b"\xef\xbb\xbf")) + len(b"data: ")
    while fed + 100 <= limit:
        assert p.feed(b"x" * 100) == []  # still within the limit: no error yet
        fed += 100
    with pytest.raises(SSEEventTooLarge, match="unfinished"):
        p.feed(b"x" * 100)  # the line has no ending yet, but the block is now over the limit


@pytest.mark.parametrize("chunk", [1, 64, 4096])
def test_parsing_work_is_linear_in_the_event_size_by_count(chunk: int) -> None:
    """The bytes the parser scans or copies grow with the event, not with its square: every byte of a long
    event fed in small chunks is handled a bounded number of times (counted, not timed)."""
    def handled(size: int) -> int:
        stream = b"data: " + b"x" * size + b"\n\n"
        parser = SSEParser(max_event_bytes=8 * 1024 * 1024)
        events = [e for i in range(0, len(stream), chunk) for e in parser.feed(stream[i:i + chunk])]
        assert len(events) == 1 and len(events[0].data) == size
        return parser.bytes_handled

    small, large = handled(64 * 1024), handled(256 * 1024)
    assert small <= 3 * (64 * 1024 + 8) and large <= 3 * (256 * 1024 + 8)
    assert 3.5 <= large / small <= 4.5  # four times the event, four times the work
