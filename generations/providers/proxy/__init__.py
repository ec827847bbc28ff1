"""The resellers' "Luma proxy" dialect (luma-api.md §3, seed 003)."""
