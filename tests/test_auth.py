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


def test_a_person_changes_their_password_in_the_studio_not_the_admin(
    owner_client: Client, owner: User
) -> None:
    """Found from outside: nothing linked to the password change, and it was the Django admin's
    page, whose Home link led a teammate to an admin login they cannot use."""
    studio = owner_client.get(reverse("gallery")).content.decode()
    assert f'href="{reverse("password_change")}"' in studio
    page = owner_client.get(reverse("password_change")).content.decode()
    assert "Django administration" not in page
    assert 'class="topbar"' in page  # the studio's own page
    assert "Change your password" in page
    refused = owner_client.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": "x", "new_password2": "y"},
    ).content.decode()
    assert "Your old password was entered incorrectly" in refused
    done = owner_client.post(
        reverse("password_change"),
        {
            "old_password": "pass-word-123",
            "new_password1": "a new one, long enough",
            "new_password2": "a new one, long enough",
        },
        follow=True,
    ).content.decode()
    assert "Your password was changed" in done
    assert "Django administration" not in done
    owner.refresh_from_db()
    assert owner.check_password("a new one, long enough")
