from django.urls import path

from . import (
    boards,
    gallery,
    health,
    hooks,
    media_views,
    public,
    selection,
    trash_views,
    triage,
    usage,
    views,
)
from .mcp import pages as mcp_pages
from .mcp import views as mcp_views

urlpatterns = [
    path("", views.home, name="home"),
    path("create/options", views.create_options, name="create-options"),
    path("g/<uuid:uuid>/", views.detail, name="generation-detail"),
    path("g/<uuid:uuid>/card", views.card, name="generation-card"),
    path("gallery/", gallery.gallery, name="gallery"),
    path("g/<uuid:uuid>/star", gallery.star, name="generation-star"),
    path("g/<uuid:uuid>/delete", trash_views.delete, name="generation-delete"),
    path("g/<uuid:uuid>/restore", trash_views.restore, name="generation-restore"),
    path("trash/", trash_views.trash_page, name="trash"),
    path("g/<uuid:uuid>/download/<int:index>", gallery.download, name="generation-download"),
    path("g/<uuid:uuid>/boards", boards.piece_boards, name="generation-boards"),
    path("boards/", boards.boards, name="boards"),
    path("boards/<uuid:uuid>/", boards.board, name="board"),
    path("boards/<uuid:uuid>/edit", boards.edit, name="board-edit"),
    path("boards/<uuid:uuid>/download", boards.download, name="board-download"),
    path("selection/", selection.selection, name="selection"),
    path("usage/", usage.usage, name="usage"),
    path("toasts", gallery.toasts, name="toasts"),
    path("media/<path:name>", media_views.media, name="media"),
    path("review/", triage.triage, name="triage"),
    path("review/<uuid:uuid>", triage.act, name="triage-act"),
    path("mcp", mcp_views.endpoint, name="mcp"),
    path("mcp/media/<str:signed>", mcp_views.media, name="mcp-media"),
    path("tokens/", mcp_pages.tokens, name="mcp-tokens"),
    path("tokens/<str:key_id>/revoke", mcp_pages.revoke, name="mcp-token-revoke"),
    path("hooks/<str:token>", hooks.hook, name="upstream-hook"),
    path("public/<str:token>", public.public_media, name="public-media"),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", health.metrics, name="metrics"),
]
