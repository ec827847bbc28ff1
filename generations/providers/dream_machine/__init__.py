"""Luma Dream Machine API v1 (luma-api.md §2)."""
