"""Create a generation of any type from the command line: the web form's twin for scripts."""

import json
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from pydantic import ValidationError

from generations import providers
from generations.models import Generation
from generations.providers.agents import schema
from generations.providers.proxy import schema as proxy_schema
from generations.submission import SubmissionRefused
from generations.tasks import start_generation


class Command(BaseCommand):
    help = (
        "Create a generation from flags or a JSON request body (the API's schema), record it in "
        "the team history as --user, optionally --wait for it, and print the result as JSON."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--user", required=True, help="Username the job is recorded under.")
        parser.add_argument(
            "--provider",
            choices=sorted(providers.CLASSES),
            default="agents",
            help="The upstream: agents (default), or proxy (a reseller's gateway: video only; "
            "--source is then its start image).",
        )
        parser.add_argument("--json", help="A file with the request body, or - for stdin.")
        parser.add_argument("--prompt")
        parser.add_argument("--type", choices=schema.GENERATION_TYPES)
        parser.add_argument("--model", choices=schema.MODELS)
        parser.add_argument("--aspect-ratio", choices=schema.ASPECT_RATIOS)
        parser.add_argument("--duration", choices=schema.VIDEO_DURATIONS)
        parser.add_argument("--resolution", choices=schema.VIDEO_RESOLUTIONS)
        parser.add_argument(
            "--source", help="UUID of a finished generation in the gallery to use as source."
        )
        parser.add_argument("--wait", action="store_true", help="Wait until the job finishes.")
        parser.add_argument("--timeout", type=float, default=600.0)

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r}.")
        proxy = options["provider"] == "proxy"
        body = self._proxy_body(options) if proxy else self._body(options)
        model = proxy_schema.ProxyRequest if proxy else schema.GenerationRequest
        try:
            request = model.model_validate(body)
        except ValidationError as exc:
            problems = schema.field_errors(exc)
            lines = [f"  {path}: {' '.join(msgs)}" for path, msgs in problems.items()]
            raise CommandError("The request is refused:\n" + "\n".join(lines)) from None
        parent = None
        if options["source"]:
            parent = Generation.objects.filter(uuid=options["source"]).first()
        try:
            # The person's rate and budget limits hold here as on the form.
            generation, _ = start_generation(
                user, request, provider=options["provider"], parent=parent, check_limits=True
            )
        except SubmissionRefused as exc:
            raise CommandError(str(exc)) from exc
        except providers.ProviderOff as exc:
            raise CommandError(str(exc)) from None
        if options["wait"]:
            generation = self._wait(generation, options["timeout"])
        self.stdout.write(json.dumps(_summary(generation), indent=2))
        if generation.state in ("failed", "unknown"):
            sys.exit(1)

    def _json(self, options: dict[str, Any]) -> dict[str, Any]:
        if not options["json"]:
            return {}
        text = sys.stdin.read() if options["json"] == "-" else Path(options["json"]).read_text()
        try:
            body: dict[str, Any] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--json is not valid JSON: {exc}") from None
        return body

    def _proxy_body(self, options: dict[str, Any]) -> dict[str, Any]:
        """The gateway's body: the prompt is its user_prompt, a --source piece its start image."""
        body = self._json(options)
        if options["prompt"]:
            body["user_prompt"] = options["prompt"]
        if options["aspect_ratio"]:
            body["aspect_ratio"] = options["aspect_ratio"]
        if options["source"]:
            source = Generation.objects.filter(uuid=options["source"], kind="image").first()
            if source is None:
                raise CommandError(f"No finished image {options['source']} to start from.")
            body["image_url"] = f"{proxy_schema.PIECE_REFERENCE}{source.uuid}"
        return body

    def _body(self, options: dict[str, Any]) -> dict[str, Any]:
        body = self._json(options)
        for flag, key in (("prompt", "prompt"), ("type", "type"), ("model", "model")):
            if options[flag]:
                body[key] = options[flag]
        if options["aspect_ratio"]:
            body["aspect_ratio"] = options["aspect_ratio"]
        video = {k: options[k] for k in ("duration", "resolution") if options[k]}
        if video:
            body["video"] = {**body.get("video", {}), **video}
        if body.get("type") in schema.VIDEO_TYPES:
            body.setdefault("model", schema.VIDEO_MODEL)
        if options["source"]:
            source = Generation.objects.filter(uuid=options["source"]).first()
            if source is None or not source.upstream_id:
                raise CommandError(f"No finished generation {options['source']} to use.")
            body["source"] = {"generation_id": source.upstream_id}
        return body

    def _wait(self, generation: Generation, timeout: float) -> Generation:
        deadline = time.monotonic() + timeout
        while not generation.is_terminal:
            if time.monotonic() > deadline:
                raise CommandError(f"Still {generation.state} after {timeout:g} s.")
            time.sleep(min(1.0, settings.LUMAWEB_POLL_INTERVAL))
            generation.refresh_from_db()
        return generation


def _summary(generation: Generation) -> dict[str, Any]:
    return {
        "id": str(generation.uuid),
        "state": generation.state,
        "kind": generation.kind,
        "upstream_id": generation.upstream_id,
        "failure_code": generation.failure_code or None,
        "failure_reason": generation.failure_reason or None,
        "outputs": [output.url for output in generation.outputs.all()],
    }
