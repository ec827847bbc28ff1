"""Events may record an upstream's notification ("hook"), kept as received."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0009_mcp_tokens"),
    ]

    operations = [
        migrations.AlterField(
            model_name="generationevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("created", "Created"),
                    ("submitted", "Accepted upstream"),
                    ("state", "State change"),
                    ("failed", "Failed"),
                    ("unknown", "Outcome unknown"),
                    ("error", "Upstream error"),
                    ("archive_failed", "Archiving failed"),
                    ("retried", "Retried"),
                    ("reviewed", "Reviewed"),
                    ("reopened", "Reopened"),
                    ("refreshed", "Refreshed from upstream"),
                    ("hook", "Notified by upstream"),
                ],
                max_length=16,
            ),
        ),
    ]
