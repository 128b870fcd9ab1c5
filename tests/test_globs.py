"""Globs: `*` is the only wildcard; the memoised form matches the same as the plain one."""

from proxy.globs import cached_globs, compile_globs


def test_only_star_is_a_wildcard() -> None:
    pattern = compile_globs(["[::1]:*", "svc?"])
    assert pattern.fullmatch("[::1]:8080") and pattern.fullmatch("svc?")
    assert not pattern.fullmatch("1:8080") and not pattern.fullmatch("svc1")


def test_cached_globs_is_memoised_and_equivalent() -> None:
    first, again = cached_globs(("shell.*", "fs.delete")), cached_globs(("shell.*", "fs.delete"))
    assert first is again
    assert first.fullmatch("shell.exec") and first.fullmatch("fs.delete") and not first.fullmatch("fs.read")
