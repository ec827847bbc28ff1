"""The studio's door for agents: an MCP server at /mcp, on the team's history and limits.

`tokens` issues and checks personal access tokens, `server` holds the tools, `requests` maps a
tool's arguments onto the request model of a provider that is on, `answers` shapes what a tool
returns, and `views` serves the endpoint (the SDK's stateless Streamable HTTP transport, JSON
answers, inside an ordinary Django view) and the tokens page. docs/mcp.md is the user's guide.
"""
