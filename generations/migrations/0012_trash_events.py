# The trash's two event kinds (choices only: no change to the table).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('generations', '0011_boards_and_spend'),
    ]

    operations = [
        migrations.AlterField(
            model_name='generationevent',
            name='kind',
            field=models.CharField(choices=[('created', 'Created'), ('submitted', 'Accepted upstream'), ('state', 'State change'), ('failed', 'Failed'), ('unknown', 'Outcome unknown'), ('error', 'Upstream error'), ('archive_failed', 'Archiving failed'), ('retried', 'Retried'), ('reviewed', 'Reviewed'), ('reopened', 'Reopened'), ('refreshed', 'Refreshed from upstream'), ('hook', 'Notified by upstream'), ('trashed', 'Moved to the trash'), ('restored', 'Restored from the trash')], max_length=16),
        ),
    ]
