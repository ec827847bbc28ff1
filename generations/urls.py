from django.urls import path

from . import health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("g/<uuid:uuid>/", views.detail, name="generation-detail"),
    path("g/<uuid:uuid>/card", views.card, name="generation-card"),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", health.metrics, name="metrics"),
]
