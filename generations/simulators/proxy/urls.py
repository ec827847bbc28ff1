from django.urls import path

from generations.simulators.agents.views import output
from generations.simulators.api import faults

from . import views

app_name = "luma_sim_proxy"

urlpatterns = [
    path("luma/generations", views.generations, name="generations"),
    path("luma/generations/<uuid:generation_id>", views.generation, name="generation"),
    path("outputs/<uuid:output_id>/<str:filename>", output, name="output"),
    path("_sim/faults", faults, name="faults"),
]
