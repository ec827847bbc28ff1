from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    name = "generations.simulators"
    label = "luma_sim"
    verbose_name = "Luma simulators"
    default_auto_field = "django.db.models.BigAutoField"
