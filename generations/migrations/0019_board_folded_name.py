"""Boards get their folded name as a unique column (models.fold_name). Boards made before whose
names fold alike (two made at the same instant could both go in) keep the oldest's name; the
later ones are renamed "name (2)", "name (3)", so that nothing is lost and each can be told
apart."""

import unicodedata

from django.db import migrations, models


def fold_name(name):  # models.fold_name as it is today: a migration keeps its own copy
    return unicodedata.normalize("NFKC", name).casefold()


def fold_existing(apps, schema_editor):
    Board = apps.get_model("generations", "Board")
    boards = list(Board.objects.order_by("created_at", "id"))
    taken = {fold_name(board.name) for board in boards}  # no new name is one already there
    kept = set()
    for board in boards:
        name, n = board.name, 1
        if fold_name(name) in kept:  # an older board has this name: this one is renamed
            while fold_name(name) in taken:
                n += 1
                name = f"{board.name[: 80 - len(f' ({n})')]} ({n})"
            taken.add(fold_name(name))
        kept.add(fold_name(name))
        Board.objects.filter(pk=board.pk).update(name=name, folded_name=fold_name(name))


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0018_amounts_not_below_zero"),
    ]

    operations = [
        migrations.AddField(
            model_name="board",
            name="folded_name",
            field=models.TextField(editable=False, null=True),
        ),
        migrations.RunPython(fold_existing, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="board",
            name="folded_name",
            field=models.TextField(editable=False, unique=True),
        ),
    ]
