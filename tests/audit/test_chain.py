"""The hash chain: what each line carries, what a checkpoint states and signs, where a new process links."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import orjson

from proxy.audit.chain import GENESIS, Chain, canonical, tail_sha256

KEY = b"chain-key-for-tests"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def line(**fields: object) -> bytes:
    return orjson.dumps(fields, option=orjson.OPT_APPEND_NEWLINE)


def test_each_line_gets_seq_and_the_hash_of_the_line_before_it() -> None:
    chain = Chain()
    written = [chain.link(line(n=n, text="é\n")) for n in range(3)]
    events = [orjson.loads(raw) for raw in written]
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert events[0]["prev_sha256"] == GENESIS == "0" * 64
    assert events[1]["prev_sha256"] == sha(written[0]) and events[2]["prev_sha256"] == sha(written[1])
    assert [e["n"] for e in events] == [0, 1, 2] and events[0]["text"] == "é\n"
    assert all(raw.endswith(b"}\n") and raw.count(b"\n") == 1 for raw in written)
    assert written[0].startswith(line(n=0, text="é\n")[:-2])  # the original bytes, untouched


def test_an_empty_object_is_linked_too() -> None:
    assert orjson.loads(Chain().link(b"{}\n")) == {"seq": 1, "prev_sha256": GENESIS}


def test_a_checkpoint_every_n_events_signed_over_its_canonical_fields() -> None:
    chain = Chain(key=KEY, every=2, stamp={"host": "h1", "replica_id": "h1-1-abc"})
    first, second = chain.link(line(a=1)), chain.link(line(a=2))
    assert chain.due
    raw = chain.checkpoint("interval")
    checkpoint = orjson.loads(raw)
    assert checkpoint["event_type"] == "audit_checkpoint" and checkpoint["reason"] == "interval"
    assert checkpoint["seq"] == 3 and checkpoint["count"] == 2
    assert checkpoint["prev_sha256"] == checkpoint["chain_sha256"] == sha(second) != sha(first)
    assert checkpoint["host"] == "h1" and checkpoint["replica_id"] == "h1-1-abc"
    unsigned = {k: v for k, v in checkpoint.items() if k != "hmac_sha256"}
    expected = hmac.new(KEY, orjson.dumps(unsigned, option=orjson.OPT_SORT_KEYS), hashlib.sha256).hexdigest()
    assert checkpoint["hmac_sha256"] == expected == hmac.new(KEY, canonical(checkpoint), hashlib.sha256).hexdigest()
    assert not chain.due
    assert orjson.loads(chain.link(line(a=3)))["prev_sha256"] == sha(raw)  # the checkpoint is in the chain


def test_without_a_key_checkpoints_are_unsigned() -> None:
    chain = Chain(every=1)
    chain.link(line(a=1))
    assert orjson.loads(chain.checkpoint("close"))["hmac_sha256"] is None


def test_a_new_process_links_to_the_last_line_already_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    assert tail_sha256(path) == (GENESIS, False)
    path.write_bytes(b"")
    assert tail_sha256(path) == (GENESIS, False)
    last = b'{"big":"' + b"x" * 200_000 + b'"}\n'  # longer than one backwards read
    path.write_bytes(b'{"a":1}\n' + last)
    assert tail_sha256(path) == (sha(last), False)
    path.write_bytes(b'{"a":1}\n')
    assert tail_sha256(path) == (sha(b'{"a":1}\n'), False)


def test_a_line_cut_short_is_reported_torn(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"a":1}\n{"b":')
    assert tail_sha256(path) == (sha(b'{"b":\n'), True)
