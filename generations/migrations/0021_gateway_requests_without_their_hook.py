from django.db import migrations


def forget_hooks(apps, schema_editor):
    """A gateway job's stored request kept its signed hook (the gateway's alone: anyone
    holding it may call it), and pages, archives and the admin show the stored request."""
    Generation = apps.get_model("generations", "Generation")
    kept = Generation.objects.filter(provider="proxy", request__has_key="notify_hook")
    for generation in kept.only("pk", "request").iterator():
        request = {k: v for k, v in generation.request.items() if k != "notify_hook"}
        Generation.objects.filter(pk=generation.pk).update(request=request)


class Migration(migrations.Migration):
    dependencies = [("generations", "0020_dream_machine_and_gateway_prices")]

    operations = [migrations.RunPython(forget_hooks, migrations.RunPython.noop)]
