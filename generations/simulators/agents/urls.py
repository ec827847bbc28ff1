from django.urls import path

from generations.simulators.api import faults

from . import views

app_name = "luma_sim"

urlpatterns = [
    path("generations", views.generations, name="generations"),
    path("generations/<uuid:generation_id>", views.generation, name="generation"),
    path("files", views.files, name="files"),
    path("files/<uuid:file_id>", views.file_detail, name="file"),
    path("files/<uuid:file_id>/complete", views.file_complete, name="file-complete"),
    path("uploads/<uuid:file_id>", views.upload, name="upload"),
    path("outputs/<uuid:output_id>/<str:filename>", views.output, name="output"),
    path("_sim/faults", faults, name="faults"),
]
