from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("generations.urls")),
]

if settings.LUMA_SIMULATOR:
    urlpatterns.append(path("sim/v1/", include("generations.luma.simulator.urls")))
