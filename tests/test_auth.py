"""The per-request user lookup (lumaweb/auth.py) finds exactly what Django's own backend finds."""

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from lumaweb.auth import UserLookupBackend

pytestmark = pytest.mark.django_db


def test_it_loads_the_same_person_field_for_field(owner: User) -> None:
    assert Client().login(username=owner.username, password="pass-word-123")  # sets last_login
    ours = UserLookupBackend().get_user(owner.pk)
    django = ModelBackend().get_user(owner.pk)
    assert ours is not None
    assert django is not None
    for field in User._meta.concrete_fields:
        mine, theirs = getattr(ours, field.attname), getattr(django, field.attname)
        assert (mine, type(mine)) == (theirs, type(theirs)), field.name
    assert ours._state.adding is False
    assert ours.last_login is not None
    assert ours.last_login.tzinfo is not None


@pytest.mark.parametrize("user_id", [10**9, "not a number", None])
def test_nobody_is_found_for_an_unknown_or_malformed_id(user_id: object) -> None:
    assert UserLookupBackend().get_user(user_id) is None


def test_a_deactivated_person_is_logged_out_on_their_next_request(
    owner_client: Client, owner: User
) -> None:
    assert owner_client.get(reverse("gallery")).status_code == 200
    User.objects.filter(pk=owner.pk).update(is_active=False)
    assert owner_client.get(reverse("gallery")).status_code == 302


def test_a_password_change_ends_sessions_elsewhere(owner_client: Client, owner: User) -> None:
    assert owner_client.get(reverse("gallery")).status_code == 200
    owner.set_password("a new one, long enough")
    owner.save()
    assert owner_client.get(reverse("gallery")).status_code == 302
