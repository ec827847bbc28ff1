"""The upstream dialect of Luma's Agents API (luma-api.md §1): schema, client, provider."""
