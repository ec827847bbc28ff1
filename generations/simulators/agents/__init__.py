"""The simulator of Luma's Agents API (luma-api.md §1), served under /sim/v1/."""
