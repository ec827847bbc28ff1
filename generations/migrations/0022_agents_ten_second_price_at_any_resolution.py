from django.db import migrations

# Migration 0011 priced the Agents API's 10 s videos only with a resolution named, so a 10 s
# video sent without one matched the any-resolution 5 s row and counted half its cost against
# money budgets. Each video model's any-resolution row gets its 10 s twin at twice its price, as
# every named resolution has.
ANY = {"provider": "agents", "kind": "video", "resolution": ""}


def seed(apps, schema_editor):
    Price = apps.get_model("generations", "Price")
    # A row an admin already added for the same options is theirs: it stays as it is.
    Price.objects.bulk_create(
        (
            Price(**ANY, model=row.model, duration="10s", cents=row.cents * 2)
            for row in Price.objects.filter(**ANY, duration="")
        ),
        ignore_conflicts=True,
    )


def unseed(apps, schema_editor):
    """Only the rows this migration seeds, at its figures: an admin's own rows stay."""
    Price = apps.get_model("generations", "Price")
    for row in Price.objects.filter(**ANY, duration=""):
        Price.objects.filter(**ANY, model=row.model, duration="10s", cents=row.cents * 2).delete()


class Migration(migrations.Migration):
    dependencies = [("generations", "0021_gateway_requests_without_their_hook")]

    operations = [migrations.RunPython(seed, unseed)]
