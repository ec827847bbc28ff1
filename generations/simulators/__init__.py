"""Contract-faithful simulators of every upstream, one package each; installed only when on.

`agents/` answers under /sim/v1/, `proxy/` (a reseller's gateway) under /sim/proxy/. The Django
app (models, migrations) is this package; settings install it only in demo mode, when
`LUMA_SIMULATOR` is set, or in tests.
"""
