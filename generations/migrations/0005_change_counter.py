"""The change counter and the triggers that bump it (see generations.models.ChangeCounter).

SQLite runs a row trigger inside the writing statement. PostgreSQL runs a deferred constraint
trigger at commit: the counter row is then the last lock a transaction takes, so two writers
never wait on each other through it, and the new value is visible exactly when the data is.
"""

from django.conf import settings
from django.db import migrations, models

COUNTER = "generations_changecounter"
# Bookkeeping no page shows: a job polled every two seconds must not empty the page cache.
UNSHOWN = {"generation": {"next_poll_at", "last_polled_at", "poll_count"}}
WATCHED = ["generation", "output", "input", "generationevent", "star"]
PEOPLE_SHOWN = ["username", "is_staff", "is_active"]


def _watched(apps):
    """(table, columns whose update counts) for every watched table."""
    tables = []
    for name in WATCHED:
        meta = apps.get_model("generations", name)._meta
        skip = UNSHOWN.get(name, set())
        columns = [f.column for f in meta.concrete_fields if f.name not in skip]
        tables.append((meta.db_table, columns))
    people = apps.get_model(settings.AUTH_USER_MODEL)._meta
    shown = [people.get_field(name).column for name in PEOPLE_SHOWN]
    tables.append((people.db_table, shown))
    return tables


def install(apps, schema_editor):
    apps.get_model("generations", "ChangeCounter").objects.create(pk=1, value=0)
    quote = schema_editor.quote_name
    bump = f"UPDATE {COUNTER} SET value = value + 1 WHERE id = 1"
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE FUNCTION lumaweb_count_change() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {bump}; RETURN NULL; END $$"
        )
    for table, columns in _watched(apps):
        of = ", ".join(quote(column) for column in columns)
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f"CREATE CONSTRAINT TRIGGER lumaweb_changes AFTER INSERT OR DELETE OR UPDATE OF "
                f"{of} ON {quote(table)} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                "EXECUTE FUNCTION lumaweb_count_change()"
            )
            continue
        for event in ("INSERT", "DELETE", f"UPDATE OF {of}"):
            name = quote(f"lumaweb_changes_{table}_{event.split()[0].lower()}")
            schema_editor.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {quote(table)} BEGIN {bump}; END"
            )


def uninstall(apps, schema_editor):
    quote = schema_editor.quote_name
    for table, _columns in _watched(apps):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER lumaweb_changes ON {quote(table)}")
            continue
        for event in ("insert", "delete", "update"):
            schema_editor.execute(f"DROP TRIGGER {quote(f'lumaweb_changes_{table}_{event}')}")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION lumaweb_count_change()")


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0004_review"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ChangeCounter",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),  # fmt: skip
                ("value", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(install, uninstall),
    ]
