from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    name = "generations.luma.simulator"
    label = "luma_sim"
    verbose_name = "Luma simulator"
    default_auto_field = "django.db.models.BigAutoField"
