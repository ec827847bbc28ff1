from django.urls import path

from . import gallery, health, media_views, triage, views

urlpatterns = [
    path("", views.home, name="home"),
    path("create/options", views.create_options, name="create-options"),
    path("g/<uuid:uuid>/", views.detail, name="generation-detail"),
    path("g/<uuid:uuid>/card", views.card, name="generation-card"),
    path("poll", views.poll, name="poll"),
    path("gallery/", gallery.gallery, name="gallery"),
    path("g/<uuid:uuid>/star", gallery.star, name="generation-star"),
    path("g/<uuid:uuid>/delete", gallery.delete, name="generation-delete"),
    path("g/<uuid:uuid>/cancel", gallery.cancel, name="generation-cancel"),
    path("g/<uuid:uuid>/download/<int:index>", gallery.download, name="generation-download"),
    path("toasts", gallery.toasts, name="toasts"),
    path("media/<path:name>", media_views.media, name="media"),
    path("review/", triage.triage, name="triage"),
    path("review/<uuid:uuid>", triage.act, name="triage-act"),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", health.metrics, name="metrics"),
]
