"""Create a generation of any type from the command line: the web form's twin for scripts."""

import json
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from pydantic import BaseModel, ValidationError

from generations.models import Generation
from generations.providers import ProviderOff
from generations.providers.agents import schema
from generations.providers.dream_machine import schema as dm
from generations.providers.proxy import schema as proxy_schema
from generations.submission import SubmissionRefused
from generations.tasks import start_generation

PROVIDERS = {"agents": "agents", "dream-machine": "dream_machine", "proxy": "proxy"}
# Dream Machine's model when none is given, by request type (upscale and audio take none).
_DREAM_MODELS = {
    "video": "ray-2",
    "reframe_video": "ray-2",
    "modify_video": "ray-2",
    "image": "photon-1",
    "reframe_image": "photon-1",
}


def _either(*values: tuple[str, ...]) -> list[str]:
    """The values either provider takes (its schema then refuses what it does not)."""
    return list(dict.fromkeys(value for group in values for value in group))


class Command(BaseCommand):
    help = (
        "Create a generation from flags or a JSON request body (the API's schema), record it in "
        "the team history as --user, optionally --wait for it, and print the result as JSON."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--user", required=True, help="Username the job is recorded under.")
        parser.add_argument(
            "--provider",
            choices=PROVIDERS,
            default="agents",
            help="The upstream: agents (default), dream-machine, or proxy (a reseller's gateway: "
            "video only; --source is then its start image).",
        )
        parser.add_argument("--json", help="A file with the request body, or - for stdin.")
        parser.add_argument("--prompt")
        parser.add_argument("--type", choices=_either(schema.GENERATION_TYPES, dm.REQUEST_TYPES))
        parser.add_argument(
            "--model", choices=_either(schema.MODELS, dm.VIDEO_MODELS, dm.IMAGE_MODELS)
        )
        parser.add_argument(
            "--aspect-ratio", choices=_either(schema.ASPECT_RATIOS, dm.ASPECT_RATIOS)
        )
        parser.add_argument("--duration", choices=_either(schema.VIDEO_DURATIONS, dm.DURATIONS))
        parser.add_argument(
            "--resolution", choices=_either(schema.VIDEO_RESOLUTIONS, dm.RESOLUTIONS)
        )
        parser.add_argument("--loop", action="store_true", help="A seamless loop (videos).")
        parser.add_argument(
            "--source", help="UUID of a finished generation in the gallery to use as source."
        )
        parser.add_argument("--wait", action="store_true", help="Wait until the job finishes.")
        parser.add_argument("--timeout", type=float, default=600.0)

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r}.")
        provider = PROVIDERS[options["provider"]]
        try:
            request: BaseModel
            if provider == "dream_machine":
                request = dm.parse_request(self._dream_body(options))
            elif provider == "proxy":
                request = proxy_schema.ProxyRequest.model_validate(self._proxy_body(options))
            else:
                request = schema.GenerationRequest.model_validate(self._body(options))
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
                user, request, provider=provider, parent=parent, check_limits=True
            )
        except SubmissionRefused as exc:
            raise CommandError(str(exc)) from None
        except ProviderOff as exc:
            raise CommandError(str(exc)) from None
        if options["wait"]:
            generation = self._wait(generation, options["timeout"])
        self.stdout.write(json.dumps(_summary(generation), indent=2))
        if generation.state in ("failed", "unknown"):
            sys.exit(1)

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

    def _dream_body(self, options: dict[str, Any]) -> dict[str, Any]:
        """A Dream Machine request: --type is its generation_type (video by default); --source
        is extended (video), upscaled or given audio, or reframed or modified by its URL."""
        body = self._json(options)
        body.setdefault("generation_type", options["type"] or "video")
        for flag in ("prompt", "model", "aspect_ratio", "duration", "resolution"):
            if options[flag]:
                body[flag] = options[flag]
        if options["loop"]:
            body["loop"] = True
        kind = body["generation_type"]
        body.setdefault("model", _DREAM_MODELS.get(kind))
        if options["source"]:
            source = self._source(options["source"])
            if kind in ("upscale_video", "add_audio"):
                body["generation_id"] = source.upstream_id
            elif kind == "video":
                body["keyframes"] = {"frame0": {"type": "generation", "id": source.upstream_id}}
            else:
                output = source.outputs.order_by("index").first()
                body["media"] = {"url": output.url if output else ""}
        return {key: value for key, value in body.items() if value is not None}

    def _source(self, uuid: str) -> Generation:
        source = Generation.objects.filter(uuid=uuid).first()
        if source is None or not source.upstream_id:
            raise CommandError(f"No finished generation {uuid} to use.")
        return source

    def _json(self, options: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if options["json"]:
            text = sys.stdin.read() if options["json"] == "-" else Path(options["json"]).read_text()
            try:
                body = json.loads(text)
            except json.JSONDecodeError as exc:
                raise CommandError(f"--json is not valid JSON: {exc}") from None
        return body

    def _body(self, options: dict[str, Any]) -> dict[str, Any]:
        body = self._json(options)
        for flag, key in (("prompt", "prompt"), ("type", "type"), ("model", "model")):
            if options[flag]:
                body[key] = options[flag]
        if options["aspect_ratio"]:
            body["aspect_ratio"] = options["aspect_ratio"]
        video: dict[str, Any] = {k: options[k] for k in ("duration", "resolution") if options[k]}
        if options["loop"]:
            video["loop"] = True
        if video:
            body["video"] = {**body.get("video", {}), **video}
        if body.get("type") in schema.VIDEO_TYPES:
            body.setdefault("model", schema.VIDEO_MODEL)
        if options["source"]:
            body["source"] = {"generation_id": self._source(options["source"]).upstream_id}
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
