"""The MCP server: season, dominance and outlook as tools an AI assistant can call (``coinseason mcp``)."""
