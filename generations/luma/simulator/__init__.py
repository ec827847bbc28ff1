"""A contract-faithful simulator of Luma's Agents API, served under /sim/v1/ in demo mode."""
