"""The bundled demo: a small MCP server with safe and unsafe tools, and a scripted agent.

`python -m proxy.demo.run` (or `make demo`) puts Drawbridge between the two and shows what it lets
through, what it refuses, and the audit trail of both.
"""
