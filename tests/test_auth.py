"""Sessions follow the account: a deactivated person or a changed password ends them."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


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
