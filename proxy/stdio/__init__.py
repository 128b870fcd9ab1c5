"""`drawbridge stdio`: wrap a stdio MCP server and inspect every line both ways."""
