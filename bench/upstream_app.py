"""The bench upstream as an importable ASGI app (stateless, JSON answers), so uvicorn can run it with several
worker processes and the upstream stops being the bottleneck (`python -m bench --upstream-workers N`):

    python -m uvicorn bench.upstream_app:app --workers 8 --port 18001 --loop uvloop --http httptools
"""

from __future__ import annotations

from bench.payload import make_blob
from bench.upstream import HOST, PATH, build_server

for _size in (100, 4096, 65536):
    make_blob(_size)
app = build_server().streamable_http_app(streamable_http_path=PATH, json_response=True, stateless_http=True,
                                          host=HOST)
