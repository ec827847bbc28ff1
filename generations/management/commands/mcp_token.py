"""Make a personal access token for the MCP endpoint and print it (alone on the last line)."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from generations.mcp.tokens import issue_token


class Command(BaseCommand):
    help = (
        "Create a personal access token for USERNAME to use at /mcp. The token is printed once, "
        "alone on the last line; only its digest is kept."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="Made with manage.py mcp_token")

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model()
        try:
            user = users.objects.get(**{users.USERNAME_FIELD: options["username"]})
        except users.DoesNotExist:
            raise CommandError(f"No user is called {options['username']!r}.") from None
        if not user.is_active:
            raise CommandError(f"{options['username']!r} is deactivated: a token would not work.")
        record, token = issue_token(user, options["name"])
        self.stderr.write(f"Token “{record.name}” for {user.get_username()} (shown once):")
        self.stdout.write(token)
