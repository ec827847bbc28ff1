"""What an attacker with an ordinary account (or none) tried, and what now stops them: lockouts
that hit only the name and address guessed, a password change throttled like a login, sessions
that end at logout, idempotency keys and lineage nobody can borrow, bad query strings answered
400/404 (never 500), and forms that cannot be made to work hard."""

import io
import secrets
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

PASSWORD = "pass-word-123"

pytestmark = pytest.mark.django_db


def log_in(client: Client, username: str, password: str = PASSWORD, **headers: str) -> Any:
    return client.post("/accounts/login/", {"username": username, "password": password}, **headers)


# --- login lockout: per name and address, the address from the proxies as configured ---


def test_random_names_from_one_address_lock_out_nobody(owner: User, staff: User, settings) -> None:
    settings.LUMAWEB_LOGIN_MAX_FAILURES = 2
    attacker = Client()
    for _ in range(12):
        log_in(attacker, secrets.token_hex(6), "wrong")
    assert log_in(Client(), owner.username).status_code == 302
    assert log_in(Client(), staff.username).status_code == 302


def test_behind_a_proxy_the_lock_is_on_the_forwarded_client_address(owner: User, settings) -> None:
    settings.LUMAWEB_PROXY_COUNT = 1
    settings.LUMAWEB_LOGIN_MAX_FAILURES = 3
    guesser = {"HTTP_X_FORWARDED_FOR": "203.0.113.5"}  # as nginx forwards it
    for _ in range(2):
        assert log_in(Client(), owner.username, "wrong", **guesser).status_code == 200
    assert log_in(Client(), owner.username, "wrong", **guesser).status_code == 429
    assert log_in(Client(), owner.username, **guesser).status_code == 429
    # The same name from another client behind the same proxy is not locked.
    elsewhere = {"HTTP_X_FORWARDED_FOR": "203.0.113.6"}
    assert log_in(Client(), owner.username, **elsewhere).status_code == 302
    # A client cannot choose its address: what it writes left of the proxy's entry is ignored.
    spoofed = {"HTTP_X_FORWARDED_FOR": "203.0.113.6, 203.0.113.5"}
    assert log_in(Client(), owner.username, **spoofed).status_code == 429


def test_without_proxies_a_forwarded_address_is_not_believed(owner: User, settings) -> None:
    settings.LUMAWEB_LOGIN_MAX_FAILURES = 2
    for number in range(2):
        forged = {"HTTP_X_FORWARDED_FOR": f"198.51.100.{number}"}
        log_in(Client(), owner.username, "wrong", **forged)
    assert log_in(Client(), owner.username).status_code == 429


def test_an_admin_lifts_a_lock(owner: User, staff: User, settings) -> None:
    settings.LUMAWEB_LOGIN_MAX_FAILURES = 2
    for _ in range(2):
        log_in(Client(), owner.username, "wrong")
    locked = log_in(Client(), owner.username)
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode()
    admin = Client()
    admin.force_login(staff)
    attempts = admin.get("/admin/axes/accessattempt/")
    assert owner.username in attempts.content.decode()
    call_command("axes_reset_username", owner.username, stdout=io.StringIO())
    assert log_in(Client(), owner.username).status_code == 302


# --- password change and logout ---


def test_the_old_password_check_is_throttled_like_a_login(
    owner_client: Client, owner: User, settings
) -> None:
    settings.LUMAWEB_LOGIN_MAX_FAILURES = 3
    new = {"new_password1": "another long one 42", "new_password2": "another long one 42"}
    for _ in range(2):
        wrong = owner_client.post("/accounts/password_change/", {"old_password": "no", **new})
        assert wrong.status_code == 200
        assert "incorrectly" in wrong.content.decode()
    third = owner_client.post("/accounts/password_change/", {"old_password": "no", **new})
    assert third.status_code == 429
    right = owner_client.post("/accounts/password_change/", {"old_password": PASSWORD, **new})
    assert right.status_code == 429
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
    # The lock is the login's too: that name from this address cannot log in either.
    assert log_in(Client(), owner.username).status_code == 429


def test_a_copied_session_cookie_ends_at_logout(owner: User) -> None:
    person = Client()
    assert log_in(person, owner.username).status_code == 302
    stolen = {name: morsel.value for name, morsel in person.cookies.items()}
    assert person.get("/gallery/").status_code == 200
    person.post("/accounts/logout/")
    thief = Client()
    for name, value in stolen.items():
        thief.cookies[name] = value
    assert thief.get("/gallery/").status_code == 302
