from django.urls import path

from generations.simulators.api import faults

from . import views

app_name = "luma_sim_dm"

urlpatterns = [
    path("ping", views.ping, name="ping"),
    path("credits", views.credits, name="credits"),
    path("generations", views.generations, name="generations"),
    path("generations/video", views.create, {"kind": "video"}, name="video"),
    path("generations/image", views.create, {"kind": "image"}, name="image"),
    path("generations/image/reframe", views.create, {"kind": "reframe_image"}),
    path("generations/video/reframe", views.create, {"kind": "reframe_video"}),
    path("generations/video/modify", views.create, {"kind": "modify_video"}),
    path("generations/concepts/list", views.concepts, name="concepts"),
    path("generations/camera_motion/list", views.camera_motions, name="camera-motions"),
    path("generations/<str:generation_id>", views.generation, name="generation"),
    path("generations/<str:generation_id>/upscale", views.chained, {"kind": "upscale_video"}),
    path("generations/<str:generation_id>/audio", views.chained, {"kind": "add_audio"}),
    path("assets/<uuid:generation_id>/<str:filename>", views.asset, name="asset"),
    path("_sim/faults", faults, name="faults"),
]
