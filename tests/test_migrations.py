"""Data migrations, run forward from the migration before them on rows written as they were."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.integration

BEFORE = [("generations", "0018_amounts_not_below_zero")]
AFTER = [("generations", "0019_board_folded_name")]


def migrate(targets: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_boards_whose_names_fold_alike_are_told_apart_and_no_other_board_is_renamed() -> None:
    # Found in review: the oldest-first renaming took "spring (2)" for a twin when a genuine
    # "Spring (2)" came later, and renamed that one, which had no twin, "Spring (2) (2)".
    apps = migrate(BEFORE)
    User = apps.get_model("auth", "User")
    Board = apps.get_model("generations", "Board")
    owner = User.objects.create(username="lead")
    for name in ("Spring", "spring", "Spring (2)", "Éclair", "e\u0301clair", "Autumn"):
        Board.objects.create(name=name, created_by=owner)
    apps = migrate(AFTER)
    Board = apps.get_model("generations", "Board")
    names = list(Board.objects.order_by("created_at", "id").values_list("name", flat=True))
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())  # as the other tests need
    renamed = ["Spring", "spring (3)", "Spring (2)", "Éclair", "e\u0301clair (2)", "Autumn"]
    assert names == renamed


@pytest.mark.django_db(transaction=True)
def test_gateway_jobs_sent_before_forget_their_hook() -> None:
    # Found from outside (an attacker): a gateway job's page showed its signed hook, which
    # anyone may call; archives and the admin show the stored request too.
    apps = migrate([("generations", "0020_dream_machine_and_gateway_prices")])
    User = apps.get_model("auth", "User")
    Generation = apps.get_model("generations", "Generation")
    owner = User.objects.create(username="lead")
    hooked = {"user_prompt": "cat dance", "notify_hook": "https://studio.example/hooks/x:sig"}
    sent = Generation.objects.create(
        created_by=owner, provider="proxy", kind="video", model="luma (gateway)",
        prompt="cat dance", request=hooked,
    )  # fmt: skip
    other = Generation.objects.create(
        created_by=owner, kind="image", model="uni-1", prompt="a kite",
        request={"prompt": "a kite", "notify_hook": "not a gateway's"},
    )  # fmt: skip
    apps = migrate([("generations", "0021_gateway_requests_without_their_hook")])
    Generation = apps.get_model("generations", "Generation")
    requests = [Generation.objects.get(pk=g.pk).request for g in (sent, other)]
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())  # as the other tests need
    assert requests == [{"user_prompt": "cat dance"}, other.request]
