"""The state tests' store fixtures (`make_store` on SQLite and on a real Redis), for shared evidence."""

from tests.state.conftest import backend, make_store, stores

__all__ = ["backend", "make_store", "stores"]
