"""The simulated Luma Dream Machine API v1, at /sim/dream-machine/v1."""
