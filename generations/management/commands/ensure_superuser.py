"""Create the first admin from DJANGO_SUPERUSER_* (or a generated password) if none exists."""

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create a superuser from DJANGO_SUPERUSER_USERNAME / _PASSWORD / _EMAIL when that user "
        "does not exist; with no variables and no users at all, create 'admin' with a generated "
        "password and print it once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
        if username:
            if users.objects.filter(username=username).exists():
                return
            if not password:
                self.stderr.write("DJANGO_SUPERUSER_PASSWORD is not set: no superuser created.")
                return
            users.objects.create_superuser(username, email, password)
            self.stdout.write(f"Created superuser {username!r}.")
            return
        if users.objects.exists():
            return
        password = secrets.token_urlsafe(12)
        users.objects.create_superuser("admin", "", password)
        self.stdout.write(
            self.style.SUCCESS(
                f"First run: created user 'admin' with password {password}\n"
                "  (shown once; change it under Admin > Users, or set DJANGO_SUPERUSER_* next time)"
            )
        )
