"""What an approver is shown of a held call: its arguments with credentials masked, bounded in size."""

from __future__ import annotations

import json

from proxy.approvals.requests import MAX_ARGUMENTS_SHOWN, new_approval_id, shown_arguments

AWS_KEY = "AKIAZ3MXQ7R2ABCDTE6P"


def test_credentials_in_the_arguments_are_masked_for_the_approver() -> None:
    shown = json.loads(shown_arguments({"to": "ops@example.com", "body": f"key {AWS_KEY} attached"}))
    assert shown["to"] == "ops@example.com"
    assert AWS_KEY not in shown["body"] and "[MASKED AKIA" in shown["body"]


def test_huge_arguments_are_cut_to_a_bounded_view() -> None:
    shown = shown_arguments({"blob": "x" * (4 * MAX_ARGUMENTS_SHOWN)})
    assert len(shown) < MAX_ARGUMENTS_SHOWN + 100 and "[truncated]" in json.loads(shown)


def test_approval_ids_are_random_and_well_formed() -> None:
    ids = {new_approval_id() for _ in range(100)}
    assert len(ids) == 100 and all(i.startswith("ap-") and len(i) == 19 for i in ids)
