"""The simulated reseller gateway ("Luma proxy" dialect), under /sim/proxy/."""
