from django.urls import include, path

# Each simulator under its own prefix, as its upstream's base URL ends
# (settings.LUMA_SIMULATOR_PATHS).
urlpatterns = [
    path("v1/", include("generations.simulators.agents.urls")),
    path("dream-machine/v1/", include("generations.simulators.dream_machine.urls")),
    path("proxy/", include("generations.simulators.proxy.urls")),
]
