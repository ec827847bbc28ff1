"""The whole-page cache is gone (generations.pagecache): drop its change counter and triggers.

On SQLite a table rebuilt by a later migration has already lost its triggers, hence IF EXISTS.
"""

from django.conf import settings
from django.db import migrations

WATCHED = ["generation", "output", "input", "generationevent", "star"]


def drop_triggers(apps, schema_editor):
    quote = schema_editor.quote_name
    tables = [apps.get_model("generations", name)._meta.db_table for name in WATCHED]
    tables.append(apps.get_model(settings.AUTH_USER_MODEL)._meta.db_table)
    postgres = schema_editor.connection.vendor == "postgresql"
    for table in tables:
        if postgres:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS lumaweb_changes ON {quote(table)}")
            continue
        for event in ("insert", "delete", "update"):
            name = quote(f"lumaweb_changes_{table}_{event}")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
    if postgres:
        schema_editor.execute("DROP FUNCTION IF EXISTS lumaweb_count_change()")


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0006_provider"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(drop_triggers, migrations.RunPython.noop),
        migrations.DeleteModel(name="ChangeCounter"),
    ]
