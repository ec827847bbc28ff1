"""The MCP server end to end: the official `mcp` client over Streamable HTTP against a live app."""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core import signing
from django.utils import timezone
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, ListToolsResult

from generations import credits, providers
from generations.mcp import answers, server
from generations.mcp.tokens import issue_token
from generations.models import Generation, Lineage, Price, ProviderBalance, State, Via
from generations.providers.dream_machine.provider import DreamMachineProvider
from tests.conftest import terminal

pytestmark = pytest.mark.integration

SEED_TOOLS = {
    "ping",
    "create_generation",
    "generate_image",
    "get_generation",
    "list_generations",
    "delete_generation",
    "upscale_generation",
    "add_audio",
    "get_credits",
    "get_camera_motions",
}
NEW_TOOLS = {
    "edit_image",
    "edit_video",
    "reframe_video",
    "split_layers",
    "remix_generation",
    "wait_for_generation",
}


def _in_own_thread(function: Callable[..., Any], *args: Any) -> Any:
    """`anyio.run` in a thread of its own: a browser test's Playwright may keep an event loop
    running in the main thread, where another loop cannot start."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, function, *args).result()


class Agent:
    """An MCP client acting with one person's token; each call is one client session."""

    def __init__(self, url: str, user: User, mode: str = "auto") -> None:
        self.url = f"{url}/mcp"
        self.user = user
        self.mode = mode
        _, self.token = issue_token(user, f"{user.username}'s agent")

    async def _session(self, work: Callable[[Client], Any]) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=90) as http,
            Client(
                streamable_http_client(self.url, http_client=http), cache=None, mode=self.mode
            ) as client,
        ):
            return await work(client)

    def tools(self) -> ListToolsResult:
        return _in_own_thread(self._session, lambda client: client.list_tools())

    def call(self, tool: str, **arguments: Any) -> CallToolResult:
        return _in_own_thread(self._session, lambda client: client.call_tool(tool, arguments))

    def ok(self, tool: str, **arguments: Any) -> dict[str, Any]:
        """A call that must succeed; its structured content."""
        answer = self.call(tool, **arguments)
        assert not answer.is_error, answer.content
        assert answer.structured_content is not None
        return answer.structured_content

    def refused(self, tool: str, **arguments: Any) -> str:
        """A call that must be an error result; its text."""
        answer = self.call(tool, **arguments)
        assert answer.is_error, answer.structured_content
        assert answer.structured_content is None
        return text_of(answer)


def text_of(answer: CallToolResult) -> str:
    return "\n".join(block.text for block in answer.content if block.type == "text")


@pytest.fixture
def agent(live_app: str, owner: User) -> Agent:
    return Agent(live_app, owner)


@pytest.fixture
def finished(agent: Agent, run_worker: Callable[..., None]) -> Callable[..., Generation]:
    """Start a job through MCP and let the worker finish it."""

    def make(tool: str = "generate_image", **arguments: Any) -> Generation:
        arguments.setdefault("prompt", "a lighthouse at dusk")
        job = Generation.objects.get(uuid=agent.ok(tool, **arguments)["id"])
        run_worker(terminal(job))
        assert job.state == State.COMPLETED, job.failure_reason
        return job

    return make


def test_the_tools_keep_the_seeds_names_and_say_what_they_do(agent: Agent) -> None:
    tools = {tool.name: tool for tool in agent.tools().tools}
    assert set(tools) == SEED_TOOLS | NEW_TOOLS
    assert set(tools["list_generations"].input_schema["properties"]) >= {"limit", "offset"}
    assert set(tools["create_generation"].input_schema["properties"]) >= {
        "prompt", "model", "resolution", "duration", "aspect_ratio", "loop", "keyframes",
        "callback_url", "idempotency_key",
    }  # fmt: skip
    assert tools["get_generation"].annotations.read_only_hint
    assert tools["delete_generation"].annotations.destructive_hint
    assert not tools["generate_image"].annotations.read_only_hint
    assert "state" in tools["get_generation"].output_schema["properties"]


def test_ping_says_who_the_agent_acts_as(agent: Agent) -> None:
    pong = agent.ok("ping")
    assert pong["user"] == "olivia"
    assert pong["providers"] == [p.display_name for p in providers.enabled()]
    assert "Luma Agents API" in pong["providers"]


def test_clients_of_the_older_handshake_are_served_too(live_app: str, owner: User) -> None:
    """Claude Desktop's bridge and older SDKs open with `initialize`, not `server/discover`."""
    legacy = Agent(live_app, owner, mode="legacy")
    assert {tool.name for tool in legacy.tools().tools} == SEED_TOOLS | NEW_TOOLS
    assert legacy.ok("ping")["user"] == "olivia"


def test_an_image_is_made_waited_for_and_opened_without_a_login(
    agent: Agent, run_worker: Callable[..., None]
) -> None:
    started = agent.call("generate_image", prompt="a red kite", aspect_ratio="1:1")
    assert f"Created image generation with ID: {started.structured_content['id']}" in text_of(
        started
    )
    job = Generation.objects.get(uuid=started.structured_content["id"])
    assert (job.created_by, job.via, job.kind, job.aspect_ratio) == (
        agent.user,
        Via.MCP,
        "image",
        "1:1",
    )
    run_worker(terminal(job))
    seen = agent.call("wait_for_generation", generation_id=str(job.uuid), timeout=5)
    info = seen.structured_content
    assert (info["state"], info["finished"]) == ("completed", True)
    assert text_of(seen).startswith("Finished: completed.")
    assert info["page_url"].endswith(job.get_absolute_url())
    link = info["media"][0]["url"]
    assert f"Image URL: {link}" in text_of(seen)
    fetched = httpx.get(link, follow_redirects=True)  # no cookie, no token
    assert fetched.status_code == 200
    assert fetched.headers["content-type"].startswith("image/")
    forged = httpx.get(link[:-3] + "xyz")
    assert forged.status_code == 403
    assert agent.ok("get_generation", generation_id=str(job.uuid))["media"]


def test_waiting_is_bounded_and_returns_the_state_seen(agent: Agent) -> None:
    job_id = agent.ok("generate_image", prompt="a slow one")["id"]  # no worker runs
    seen = agent.call("wait_for_generation", generation_id=job_id, timeout=0.5)
    assert not seen.is_error
    assert (seen.structured_content["state"], seen.structured_content["finished"]) == (
        "draft",
        False,
    )
    assert "call wait_for_generation again" in text_of(seen)
    too_long = agent.refused("wait_for_generation", generation_id=job_id, timeout=61)
    assert "timeout: Input should be less than or equal to 60" in too_long


def test_waits_leave_threads_for_pages(agent: Agent, settings) -> None:
    """Found from outside (an attacker): ten waits from one token held every web thread, and
    /healthz took 24 s. Past LUMAWEB_MCP_MAX_WAITS at once, a wait answers at once."""
    from generations.mcp import server

    settings.LUMAWEB_MCP_MAX_WAITS = 1
    job_id = agent.ok("generate_image", prompt="a slow one")["id"]  # no worker runs
    with ThreadPoolExecutor(1) as pool:
        holding = pool.submit(agent.call, "wait_for_generation", generation_id=job_id, timeout=60)
        deadline = time.monotonic() + 30
        while server.WAITS.held < 1:
            assert time.monotonic() < deadline, "the first wait never started"
            assert not holding.done(), holding.result()
            time.sleep(0.05)
        busy = agent.call("wait_for_generation", generation_id=job_id, timeout=60)
        assert not busy.is_error
        assert busy.structured_content["state"] == "draft"
        assert "other waits" in text_of(busy)
        Generation.objects.filter(uuid=job_id).update(state=State.FAILED)
        assert text_of(holding.result(timeout=60)).startswith("Finished: failed.")
    assert server.WAITS.held == 0


def test_bad_arguments_are_error_results_naming_the_field(agent: Agent) -> None:
    assert "prompt: Write a prompt." in agent.refused("generate_image", prompt=" ")
    refused = agent.refused("generate_image", prompt="x", aspect_ratio="7:1")
    assert "aspect_ratio: Input should be" in refused
    assert "video.duration" in agent.refused("create_generation", prompt="x", duration="9s")
    assert "model: 'ray-9' cannot make videos here; use ray-3.2" in agent.refused(
        "create_generation", prompt="x", model="ray-9"
    )
    # ray-2 is Dream Machine's, whose own rules then apply.
    assert "prompt: The prompt is 1 characters long: 3 at least." in agent.refused(
        "create_generation", prompt="x", model="ray-2"
    )
    # Found from outside: an unknown keyframe (a typo) was dropped and a text-to-video started.
    frame = {"type": "image", "url": "https://example.com/a.png"}
    refused = agent.refused("create_generation", prompt="a kite", keyframes={"frame_0": frame})
    assert "keyframes.frame_0" in refused
    assert not Generation.objects.filter(prompt="a kite").exists()
    assert "not a job id of this studio" in agent.refused("get_generation", generation_id="42")
    missing = "00000000-0000-4000-8000-000000000000"
    assert f"no job {missing}" in agent.refused("get_generation", generation_id=missing)
    frame = {"frame0": {"type": "generation", "id": missing}}
    assert "keyframes.frame0.id: no job" in agent.refused(
        "create_generation", prompt="x", keyframes=frame
    )
    assert "keyframes.frame0.url: give the image's URL" in agent.refused(
        "create_generation", prompt="x", keyframes={"frame0": {"type": "image"}}
    )
    assert "Check the arguments of list_generations" in agent.refused(
        "list_generations", limit="many"
    )
    # Found from outside (an attacker): a NUL in a prompt was recorded (the web form refuses
    # it; PostgreSQL would not store it), and an offset of 2**70 failed with no words.
    assert "holds a NUL character" in agent.refused("generate_image", prompt="a\x00b")
    assert "offset: Input should be less than or equal to 1000000000" in agent.refused(
        "list_generations", offset=2**70
    )
    assert not Generation.objects.exists()


def test_a_missing_capability_names_what_it_needs(
    agent: Agent, finished: Callable[..., Generation]
) -> None:
    video = finished("create_generation", duration="5s")
    upscale = agent.refused("upscale_generation", generation_id=str(video.uuid))
    # Dream Machine is on (demo mode), but upscales only its own jobs.
    assert "Dream Machine API works only on its own finished jobs" in upscale
    assert "'gateway' is not a provider name" in agent.refused(
        "generate_image", prompt="x", provider="gateway"
    )
    assert "cannot make images" in agent.refused("generate_image", prompt="x", provider="proxy")
    assert Generation.objects.count() == 1


def test_credits_are_the_stored_readings_and_for_staff_only(
    live_app: str, agent: Agent, staff: User, monkeypatch
) -> None:
    # Found from outside (an attacker): any person's token read the upstream balance, which the
    # studio's pages show to staff alone, and each call asked the upstream: a loop of them spent
    # the key's rate limit, stalling the team's jobs and, waiting on 429s, the pages.
    assert credits.refresh_balances() == 1  # the worker's reading (Dream Machine's)

    def asked(*args: Any) -> None:
        raise AssertionError("get_credits asked the upstream")

    monkeypatch.setattr(DreamMachineProvider, "credits", asked)
    rows = {row["provider"]: row for row in agent.ok("get_credits")["providers"]}
    assert len(rows) == len(providers.enabled())
    assert (
        rows["Luma Agents API"]["note"] == "not available: this upstream does not report a balance"
    )
    machine = rows["Luma Dream Machine API"]
    assert machine["balance_usd"] is None
    assert machine["note"] == "shown to staff only, as on the studio's pages"
    reading = ProviderBalance.objects.get(provider="dream_machine")
    staffs = Agent(live_app, staff).call("get_credits")
    machine = {row["provider"]: row for row in staffs.structured_content["providers"]}[
        "Luma Dream Machine API"
    ]
    assert machine["balance_usd"] == float(reading.cents) / 100
    assert machine["read_at"] is not None
    assert f"Luma Dream Machine API: ${reading.cents / 100:,.2f} (read " in text_of(staffs)


def test_without_dream_machine_its_tools_say_what_they_need(
    agent: Agent, finished: Callable[..., Generation], settings
) -> None:
    video = finished("create_generation", duration="5s")
    settings.LUMA_PROVIDERS = {
        name: config for name, config in settings.LUMA_PROVIDERS.items() if name != "dream_machine"
    }
    upscale = agent.refused("upscale_generation", generation_id=str(video.uuid))
    assert "needs Luma's Dream Machine API to be configured here" in upscale
    audio = agent.refused("add_audio", generation_id=str(video.uuid), prompt="waves")
    assert "needs Luma's Dream Machine API" in audio
    assert "Dream Machine API" in agent.refused("get_camera_motions")


def test_dream_machine_upscales_and_scores_its_own_videos_and_names_camera_moves(
    agent: Agent, run_worker
) -> None:
    made = agent.ok("create_generation", prompt="a slow pan", provider="dream_machine")
    run_worker(lambda: Generation.objects.get(uuid=made["id"]).is_terminal)
    assert Generation.objects.get(uuid=made["id"]).state == "completed"
    upscaled = agent.ok("upscale_generation", generation_id=made["id"], resolution="1080p")
    audio = agent.ok("add_audio", generation_id=made["id"], prompt="rain on the sea")
    for started in (upscaled, audio):
        job = Generation.objects.get(uuid=started["id"])
        assert (job.provider, job.parent_id) == (
            "dream_machine",
            Generation.objects.get(uuid=made["id"]).pk,
        )
    assert agent.ok("get_camera_motions")["camera_motions"]


def test_pieces_are_made_from_finished_jobs_with_their_lineage(
    agent: Agent, finished: Callable[..., Generation]
) -> None:
    image = finished(aspect_ratio="16:9")
    edit = agent.ok("edit_image", prompt="make it snow", source=str(image.uuid))
    layers = agent.ok("split_layers", source=str(image.uuid))
    animated = agent.ok(
        "create_generation",
        prompt="the camera pulls back",
        keyframes={"frame0": {"type": "generation", "id": str(image.uuid)}},
    )
    remix = agent.ok(
        "remix_generation", generation_id=str(image.uuid), prompt="a lighthouse at dawn"
    )
    for made, lineage, kind in [
        (edit, Lineage.EDIT, "image_edit"),
        (layers, Lineage.LAYERS, "layering"),
        (animated, Lineage.ANIMATE, "video"),
        (remix, Lineage.REMIX, "image"),
    ]:
        assert (made["parent_id"], made["lineage"], made["kind"]) == (
            str(image.uuid),
            lineage,
            kind,
        )
    edited = Generation.objects.get(uuid=edit["id"])
    assert edited.request["source"] == {"generation_id": image.upstream_id}
    remixed = Generation.objects.get(uuid=remix["id"])
    assert (remixed.prompt, remixed.request["aspect_ratio"]) == ("a lighthouse at dawn", "16:9")
    assert "is an image (image); this needs a video." in agent.refused(
        "edit_video", prompt="x", source=str(image.uuid)
    )


def test_videos_are_edited_and_reframed_from_a_finished_video(
    agent: Agent, finished: Callable[..., Generation]
) -> None:
    video = finished("create_generation", duration="5s")
    edit = agent.ok("edit_video", prompt="as claymation", source=str(video.uuid), strength="flex_2")
    reframe = agent.ok("reframe_video", source=str(video.uuid), aspect_ratio="9:16")
    assert (edit["kind"], edit["lineage"]) == ("video_edit", Lineage.EDIT)
    assert (reframe["kind"], reframe["lineage"]) == ("video_reframe", Lineage.REFRAME)
    extended = agent.ok(
        "create_generation",
        prompt="and then it rains",
        keyframes={"frame0": {"type": "generation", "id": str(video.uuid)}},
    )
    assert extended["lineage"] == Lineage.EXTEND
    by_url = agent.ok("reframe_video", source="https://example.com/clip.mov", aspect_ratio="1:1")
    stored = Generation.objects.get(uuid=by_url["id"]).request["source"]
    assert stored == {"url": "https://example.com/clip.mov", "media_type": "video/quicktime"}


def test_the_list_is_the_teams_history_newest_first_with_filters(
    live_app: str, agent: Agent, teammate: User
) -> None:
    theirs = Agent(live_app, teammate)
    first = agent.ok("generate_image", prompt="a blue whale")["id"]
    second = agent.ok("create_generation", prompt="a whale breaching")["id"]
    third = theirs.ok("generate_image", prompt="a paper boat")["id"]
    everything = theirs.ok("list_generations")
    assert [g["id"] for g in everything["generations"]] == [third, second, first]
    assert everything["has_more"] is False
    page = theirs.call("list_generations", limit=2)
    assert [g["id"] for g in page.structured_content["generations"]] == [third, second]
    assert page.structured_content["has_more"] is True
    assert "call list_generations with offset=2" in text_of(page)
    rest = theirs.ok("list_generations", limit=2, offset=2)
    assert ([g["id"] for g in rest["generations"]], rest["has_more"]) == ([first], False)

    def ids(**filters: Any) -> list[str]:
        return [g["id"] for g in theirs.ok("list_generations", **filters)["generations"]]

    assert ids(mine=True) == [third]
    assert ids(person="olivia") == [second, first]
    assert ids(kind="video") == [second]
    assert ids(kind="upscale_video") == []  # as the gallery's Kind filter offers it (review)
    assert ids(search="whale") == [second, first]
    assert ids(state="active") == [third, second, first]
    assert ids(state="completed") == []
    assert ids(provider="agents") == [third, second, first]
    assert "person: Select a valid choice" in theirs.refused("list_generations", person="nobody")
    assert "mine, person: give one of them" in theirs.refused(
        "list_generations", mine=True, person="olivia"
    )
    assert "kind: Input should be" in theirs.refused("list_generations", kind="song")


def test_only_the_owner_or_staff_delete(
    live_app: str, agent: Agent, teammate: User, staff: User
) -> None:
    mine = agent.ok("generate_image", prompt="keep me")["id"]
    refused = Agent(live_app, teammate).refused("delete_generation", generation_id=mine)
    assert "Only olivia, who made job" in refused
    assert Generation.objects.filter(uuid=mine).exists()
    assert agent.ok("delete_generation", generation_id=mine) == {"id": mine, "deleted": True}
    assert not Generation.objects.alive().filter(uuid=mine).exists()  # in the trash
    again = agent.ok("generate_image", prompt="staff may")["id"]
    Agent(live_app, staff).ok("delete_generation", generation_id=again)
    assert Generation.objects.get(uuid=again).deleted_by == staff


def test_a_teammates_trashed_piece_is_neither_named_nor_remade_from(
    live_app: str, agent: Agent, teammate: User, finished: Callable[..., Generation]
) -> None:
    # Found from outside (an attacker): after its owner trashed the image a video was animated
    # from, get_generation still named it as the video's parent, and remix_generation sent it
    # upstream again (a new job from it was refused, as the studio's own Remix refuses it).
    image = finished(aspect_ratio="16:9")
    theirs = Agent(live_app, teammate)
    frame = {"frame0": {"type": "generation", "id": str(image.uuid)}}
    video = theirs.ok("create_generation", prompt="the camera pulls back", keyframes=frame)
    assert video["parent_id"] == str(image.uuid)
    agent.ok("delete_generation", generation_id=str(image.uuid))
    shown = theirs.call("get_generation", generation_id=video["id"])
    assert shown.structured_content is not None
    assert shown.structured_content["parent_id"] is None
    assert str(image.uuid) not in text_of(shown)
    refused = theirs.refused("remix_generation", generation_id=video["id"])
    assert "made from a piece that has since been moved to the Trash" in refused
    assert str(image.uuid) not in refused
    assert Generation.objects.filter(kind="video").count() == 1


@pytest.mark.django_db
def test_a_trashed_piece_of_another_upstream_does_not_stop_a_remix(owner: User) -> None:
    # Review: the check matched upstream ids of every upstream; a gateway's short ids could
    # match another upstream's trashed piece.
    trashed = Generation.objects.create(
        created_by=owner, provider="proxy", kind="video", upstream_id="7", request={},
        deleted_at=timezone.now(),
    )  # fmt: skip
    request = {
        "prompt": "x",
        "type": "image_edit",
        "model": "uni-1",
        "source": {"generation_id": "7"},
    }
    job = Generation(created_by=owner, provider="agents", kind="image_edit", request=request)
    assert not server._made_from_trashed(job)
    Generation.objects.filter(pk=trashed.pk).update(provider="agents")
    assert server._made_from_trashed(job)


def test_the_persons_rate_limit_applies_through_mcp(agent: Agent, settings) -> None:
    settings.LUMAWEB_SUBMIT_PER_MINUTE = 1
    agent.ok("generate_image", prompt="one")
    refused = agent.refused("generate_image", prompt="two")
    assert "You have started 1 jobs in the last minute" in refused
    assert Generation.objects.count() == 1


def test_the_persons_budget_applies_through_mcp(agent: Agent, settings) -> None:
    settings.LUMAWEB_PERSON_MONTHLY_BUDGET_USD = Decimal("1.00")
    # A live server's test empties the tables between tests, seeded prices too: price it here.
    Price.objects.create(provider="agents", kind="video", model="ray-3.2", cents=150)
    refused = agent.refused("create_generation", prompt="an expensive shot")
    assert "This job is estimated at $1.50" in refused
    assert "of this month's $1.00 budget left. Nothing was sent" in refused
    assert not Generation.objects.exists()
    agent.ok("generate_image", prompt="a cheap one")


def test_an_idempotency_key_finds_the_first_job_for_its_person_only(
    live_app: str, agent: Agent, teammate: User
) -> None:
    first = agent.ok("generate_image", prompt="once", idempotency_key="k-1")["id"]
    again = agent.call("generate_image", prompt="once", idempotency_key="k-1")
    assert again.structured_content["id"] == first
    assert "already started job" in text_of(again)
    theirs = Agent(live_app, teammate).ok("generate_image", prompt="once", idempotency_key="k-1")
    assert theirs["id"] != first
    assert Generation.objects.count() == 2


def test_a_key_whose_job_is_in_the_trash_starts_a_new_job(agent: Agent) -> None:
    # Found from outside: the same key after delete_generation was "Error executing tool"
    # (the first job was looked up among living ones only). The trashed job gives its key up.
    first = agent.ok("generate_image", prompt="once", idempotency_key="k-trash")["id"]
    agent.ok("delete_generation", generation_id=first)
    again = agent.ok("generate_image", prompt="once", idempotency_key="k-trash")["id"]
    assert again != first
    assert Generation.objects.get(uuid=first).deleted_at is not None
    assert agent.ok("generate_image", prompt="once", idempotency_key="k-trash")["id"] == again


def test_the_gallery_shows_a_job_came_via_mcp(agent: Agent, owner_client) -> None:
    job_id = agent.ok("generate_image", prompt="from an agent")["id"]
    card = owner_client.get(f"/g/{job_id}/card").content.decode()
    assert "via MCP" in card


@pytest.mark.django_db
def test_a_media_link_a_download_and_the_health_check_answer_head(owner: User) -> None:
    # Left open before: a script checking a link with HEAD (curl -I) got 405 where GET works.
    from django.test import Client as Browser

    from tests.factories import archived_file, piece, png

    output = archived_file(piece(owner), png())
    link = answers.media_link(output, "").url
    asked = Browser().head(link)
    assert (asked.status_code, asked["Content-Type"]) == (200, "image/png")
    person = Browser()
    person.force_login(owner)
    assert person.head(f"/g/{output.generation.uuid}/download/0").status_code == 200
    assert Browser().head("/healthz").status_code != 405


def test_a_media_link_stops_working_when_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    signed = signing.TimestampSigner(salt=answers.MEDIA_SALT).sign("job_0")
    assert answers.unsign_media(signed) == ("job", 0)
    later = time.time() + django_settings.LUMAWEB_MCP_LINK_TTL + 1
    monkeypatch.setattr(signing.time, "time", lambda: later)
    assert answers.unsign_media(signed) is None
    assert answers.unsign_media(signed.replace("job", "other")) is None
