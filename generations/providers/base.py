"""The one interface between the studio's core and an upstream dialect (a *provider*).

The core (history and its state machine, submission, tasks, archive, retry, gallery, review)
knows only what is here. Each provider is a package beside this module (`agents/`,
`dream_machine/`, `proxy/`) that alone knows its wire format: a pydantic schema, an httpx client
built on `generations.providers.http.UpstreamClient` (its retry rule: a job-creating POST whose
outcome is unknown is never repeated), and a `Provider` subclass registered in `__init__.py`.
docs/providers.md walks through adding one.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from generations.models import Generation

# The studio's states a provider maps its own onto (e.g. Dream Machine's `dreaming`).
UPSTREAM_STATES = ("queued", "processing", "completed", "failed")


# A failure's words, where an upstream gives no code (Dream Machine's `failure_reason`, and the
# gateways that relay it): they sort it into the studio's codes, so that a refusal is explained
# plainly and only a passing failure is retried automatically.
PASSING = re.compile(
    r"too many requests|rate.?limit|busy|overloaded|timed? ?out|try again later|temporar",
    re.IGNORECASE,
)
MODERATION = re.compile(
    r"moderat|flagged|safety|nsfw|inappropriate|policy|violat|not allowed|prohibited|blocked",
    re.IGNORECASE,
)
INVALID = re.compile(
    r"prompt is too|too (short|long)|invalid|unsupported|not supported|could not (load|fetch|"
    r"download|read)|failed to (load|fetch|download|read)|unreachable|not found|no such|"
    r"must be|is required|aspect ratio|resolution",
    re.IGNORECASE,
)


def failure_code_for(reason: str) -> str:
    """The studio's failure code for an upstream's words: moderation, a request or input it
    cannot run (not retried), else a passing failure of the model (retried). Words of a passing
    failure win: "blocked: too many requests" is no moderation."""
    if PASSING.search(reason):
        return "generation_failed"
    if MODERATION.search(reason):
        return "content_moderated"
    if INVALID.search(reason):
        return "invalid_request"
    return "generation_failed"


@dataclass(frozen=True)
class UpstreamOutput:
    """One output of a finished job: its kind (`image`, `video`, `audio`) and presigned URL."""

    kind: str
    url: str
    layer: dict[str, Any] | None = None


@dataclass(frozen=True)
class UpstreamJob:
    """A provider's answer about one job, in the studio's words; `raw` is the answer verbatim."""

    id: str
    state: str
    raw: dict[str, Any]
    request_id: str = ""
    failure_code: str = ""
    failure_reason: str = ""
    outputs: tuple[UpstreamOutput, ...] = ()

    def __post_init__(self) -> None:
        if self.state not in UPSTREAM_STATES:
            raise ValueError(f"unknown studio state {self.state!r}")


@dataclass(frozen=True)
class Summary:
    """What the history shows of a request (kind, model, prompt, ratio) and the options priced."""

    kind: str
    model: str
    prompt: str
    aspect_ratio: str = ""
    # The options that change a job's price (`resolution`, `duration`), for the price table.
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do, for forms, chain actions, the MCP tools and the detail page."""

    # Studio kinds (generations.models.Kind values) this provider can make.
    kinds: tuple[str, ...]
    # The models and aspect ratios its jobs may name (the gallery's filters offer them).
    models: tuple[str, ...] = ()
    aspect_ratios: tuple[str, ...] = ()
    # Inputs must be URLs the upstream can fetch (no upload API): uploads need a public link.
    public_inputs: bool = False
    # Jobs can carry a URL the upstream calls when their state changes.
    callbacks: bool = False
    # Every send reads the job's uploads from the studio's storage again (nothing is uploaded
    # ahead), so a retry may reuse the uploads of the job it retries.
    resends_uploads: bool = False
    # Jobs can be deleted upstream.
    delete: bool = False
    # The account's balance can be read (`credits()`).
    credits: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Provider(ABC):
    """One upstream dialect, configured. Errors are `generations.providers.errors.LumaError`s;
    `submit` raises `OutcomeUnknown` when the upstream may or may not have the job."""

    name: ClassVar[str]  # stored in Generation.provider: "agents", "dream_machine", "proxy"
    label: ClassVar[str]  # shown to people: "Luma Agents API"
    key_setting: ClassVar[str]  # the setting that holds its key: "LUMA_AGENTS_API_KEY"
    capabilities: ClassVar[Capabilities]

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        simulated: bool,
        name: str = "",
        client_options: dict[str, Any] | None = None,
    ) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.simulated = simulated
        # What people call this upstream here (a reseller's gateway has its own name).
        self.display_name = name or self.label
        self._client_options = client_options or {}

    def client_options(self) -> dict[str, Any]:
        """What every provider's `UpstreamClient` is built with: timeouts, retries, the call
        counter and (in tests) the transport; `generations.providers.get` supplies them."""
        return dict(self._client_options)

    @abstractmethod
    def summary(self, request: BaseModel) -> Summary:
        """The history's view of a validated request model of this provider."""

    @abstractmethod
    def parse(self, request: dict[str, Any]) -> BaseModel:
        """A stored request (`Generation.request`) as this provider's validated model, for a retry
        or a remix; raises pydantic's ValidationError when it is no longer valid."""

    @abstractmethod
    def prepare(self, request: BaseModel, *, user_id: str) -> dict[str, Any]:
        """The request as stored on the job (`Generation.request`) before it is sent."""

    @abstractmethod
    def submit(self, generation: Generation) -> UpstreamJob:
        """Send a recorded job (its inputs first, where the dialect needs that) exactly once."""

    @abstractmethod
    def poll(self, upstream_id: str) -> UpstreamJob:
        """Ask how a job is doing; a completed job's outputs come with fresh URLs."""

    @classmethod
    def settings_in_words(cls, request: dict[str, Any]) -> str:
        """A stored request's settings as a person says them ("5 seconds, 720p, loops"), or ""
        when this provider has no such reading (the detail page lists the fields instead)."""
        return ""

    @classmethod
    def references(cls, request: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """Every media input of a stored request, labelled for people ("Start frame"), each a
        dict with one of `generation_id` (an upstream job id), `file_id` or `url`."""
        return []

    def delete(self, upstream_id: str) -> None:
        """Delete the job upstream (only when `capabilities.delete`)."""
        raise NotImplementedError(f"{self.label} cannot delete jobs")

    def credits(self) -> float | None:
        """The account's balance in US cents, when the upstream says (`capabilities.credits`)."""
        return None

    def upstream_state(self, raw: dict[str, Any]) -> str:
        """The upstream's own word for a job's state in a kept answer (`UpstreamJob.raw`) when
        the studio's states leave it out (a state the provider does not know), else ""."""
        return ""

    def ping(self) -> bool:
        """Whether the upstream answers at all, for /healthz."""
        return True
