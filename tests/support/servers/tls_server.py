"""The demo MCP server (`proxy.demo.server`) over HTTPS, optionally requiring a client certificate (mTLS).

    python -m tests.support.servers.tls_server --port 8443 --cert server.pem --key server-key.pem \
        [--client-ca ca.pem]        # https://127.0.0.1:8443/mcp; with --client-ca, mTLS is required
"""

from __future__ import annotations

import argparse
import ssl

import uvicorn

from proxy.demo.server import build_server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--cert", required=True, help="server certificate (PEM)")
    parser.add_argument("--key", required=True, help="its private key (PEM)")
    parser.add_argument("--client-ca", help="require a client certificate issued by this CA (PEM)")
    ns = parser.parse_args(argv)
    app = build_server().streamable_http_app(host=ns.host)
    uvicorn.run(app, host=ns.host, port=ns.port, http="h11", log_level="warning", ssl_certfile=ns.cert,
                ssl_keyfile=ns.key, ssl_ca_certs=ns.client_ca,
                ssl_cert_reqs=ssl.CERT_REQUIRED if ns.client_ca else ssl.CERT_NONE)


if __name__ == "__main__":
    main()
