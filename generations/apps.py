from django.apps import AppConfig
from django.db.models.signals import post_migrate


class GenerationsConfig(AppConfig):
    name = "generations"
    verbose_name = "Generations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from generations import providers
        from generations.models import UpstreamCallCount
        from generations.search import ensure_search_index

        post_migrate.connect(ensure_search_index, sender=self)
        providers.on_call = lambda call: UpstreamCallCount.record(call.endpoint, call.status)
