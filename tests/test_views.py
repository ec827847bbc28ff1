"""The studio's pages: login everywhere, the prompt form, cards that poll our database."""

import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import get_resolver, reverse
from django.utils import timezone

from generations.models import Generation, Kind, State, WorkerHeartbeat
from generations.providers.agents import schema
from generations.tasks import start_generation
from tests.factories import all_url_patterns, concrete

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

# Reachable without logging in: the login page, health checks and Prometheus (token or staff),
# the simulators' APIs, which demand a bearer token as the real ones do, an upstream's doors (a
# job's hook, an input's link), each of which demands its own signature (tests/test_proxy.py,
# tests/test_dream_machine.py), and the MCP endpoint (a personal access token;
# tests/test_mcp_tokens.py) with its signed links.
PUBLIC_PREFIXES = (
    "accounts/login/",
    "admin/login/",
    "healthz",
    "metrics",
    "sim/v1/",
    "sim/proxy/",
    "sim/dream-machine/v1/",
    "hooks/",
    "public/",
    "mcp",
)


def test_every_url_requires_login_except_the_public_ones(client: Client) -> None:
    routes = [r for r in all_url_patterns(get_resolver()) if "(?P" not in r]
    assert len(routes) > 10
    checked = 0
    for route in routes:
        if route.startswith(PUBLIC_PREFIXES):
            continue
        url = concrete(route)
        response = client.get(url)
        assert response.status_code == 302, f"{url} answered {response.status_code}"
        assert response["Location"].startswith((reverse("login"), "/admin/login/")), url
        checked += 1
    assert checked >= 5


def test_admin_pages_are_for_staff_only(client: Client, owner_client: Client) -> None:
    response = client.get("/admin/generations/generation/")
    assert response.status_code == 302
    assert "login/" in response["Location"]
    refused = owner_client.get("/admin/generations/generation/")
    assert refused.status_code == 302
    assert "/admin/login/" in refused["Location"]


def test_the_home_page_shows_the_form_and_the_team_gallery(
    owner_client: Client, owner: User, teammate: User
) -> None:
    start_generation(teammate, schema.GenerationRequest(prompt="teammate's lighthouse"))
    response = owner_client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Generate" in html
    assert "teammate&#x27;s lighthouse" in html
    assert "Demo mode" in html
    # Found from outside: "nothing is charged" beside a credit that fell with each job.
    assert "any credit shown is the simulator's pretend balance" in html


ACTIVE_TAB = re.compile(r'modes__tab--active" href="/\?mode=(\w+)"')


def test_the_studio_opens_at_the_mode_last_opened(
    owner_client: Client, teammate: User, settings
) -> None:
    """Found from outside: the top bar's Studio link opened Image mode every time, so someone who
    works in video all day chose Video again on each visit. It opens their last mode; a
    teammate's studio keeps its own."""
    assert ACTIVE_TAB.findall(owner_client.get("/").content.decode()) == ["image"]
    owner_client.get("/?mode=dm_video")
    assert ACTIVE_TAB.findall(owner_client.get("/").content.decode()) == ["dm_video"]
    # A form posted without its mode (a script's) is the first mode's, as before.
    posted = {"prompt": "a fox", "model": "uni-1", "aspect_ratio": "1:1", "idempotency_key": "k"}
    assert owner_client.post("/", posted).status_code == 302
    assert Generation.objects.get().kind == Kind.IMAGE
    teammates = Client()
    teammates.force_login(teammate)
    assert ACTIVE_TAB.findall(teammates.get("/").content.decode()) == ["image"]
    # A mode whose upstream was turned off since opens the first one there is.
    settings.LUMA_PROVIDERS = {
        name: config for name, config in settings.LUMA_PROVIDERS.items() if name != "dream_machine"
    }
    assert ACTIVE_TAB.findall(owner_client.get("/").content.decode()) == ["image"]


def test_the_phones_list_of_modes_names_each_ones_upstream(owner_client: Client) -> None:
    """Found from outside: at 390 px the list read Video, Video, Video: the chosen one showed
    without its upstream, which only the (closed) list's group headings named."""
    page = owner_client.get("/?mode=dm_video").content.decode()
    picker = page[page.index('<select id="mode-pick"') :]
    picker = picker[: picker.index("</select>")]
    assert '<option value="dm_video" selected>Video · Dream Machine</option>' in picker
    assert '<option value="video">Video</option>' in picker  # the Agents API's: no tag


def test_a_plain_post_creates_a_draft_and_redirects(owner_client: Client, owner: User) -> None:
    response = owner_client.post(
        "/",
        {
            "prompt": "a fox in snow",
            "model": "uni-1",
            "aspect_ratio": "4:3",
            "idempotency_key": "a",
        },
    )
    assert response.status_code == 302
    generation = Generation.objects.get()
    assert (generation.prompt, generation.aspect_ratio, generation.state) == (
        "a fox in snow",
        "4:3",
        State.DRAFT,
    )
    assert generation.created_by == owner


def test_a_double_submission_makes_one_job(owner_client: Client) -> None:
    form = {"prompt": "once", "model": "uni-1", "aspect_ratio": "1:1", "idempotency_key": "same"}
    owner_client.post("/", form)
    owner_client.post("/", form)
    assert Generation.objects.count() == 1


def test_an_htmx_post_returns_the_new_card_and_a_fresh_form(owner_client: Client) -> None:
    response = owner_client.post(
        "/",
        {"prompt": "htmx fox", "model": "uni-1", "aspect_ratio": "1:1", "idempotency_key": "h"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    generation = Generation.objects.get()
    assert f'id="card-{generation.uuid}"' in html
    assert 'hx-swap-oob="true"' in html
    assert "<html" not in html


@pytest.mark.parametrize(
    ("prompt", "message"),
    [("", "Write a prompt."), ("   ", "Write a prompt."), ("x" * 6001, "6000 at most")],
)
def test_an_empty_or_overlong_prompt_is_refused_on_the_form(
    owner_client: Client, prompt: str, message: str
) -> None:
    form = {"prompt": prompt, "model": "uni-1", "aspect_ratio": "1:1", "idempotency_key": "e"}
    response = owner_client.post("/", form)
    assert response.status_code == 400
    assert message in response.content.decode()
    htmx = owner_client.post("/", form, headers={"HX-Request": "true"})
    assert htmx["HX-Retarget"] == "#create-form"
    assert message in htmx.content.decode()
    assert not Generation.objects.exists()


def test_a_prompt_is_as_long_as_the_page_counts_it(owner_client: Client) -> None:
    # Found from outside (a creative): the page's counter and the studio disagreed on a prompt's
    # length. A browser sends a line break as two characters (CR LF) that its box counts as one;
    # the studio takes it as one too, and sends it so.
    prompt = "a fox\r\n" * 1000  # 7,000 characters as sent, 6,000 as the page counts them
    form = {"prompt": prompt, "model": "uni-1", "aspect_ratio": "1:1", "idempotency_key": "n"}
    response = owner_client.post("/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Generation.objects.get().prompt == "a fox\n" * 1000


def test_an_unknown_choice_is_refused_on_its_field(owner_client: Client) -> None:
    form = {"prompt": "p", "model": "ray-3.2", "aspect_ratio": "5:4", "idempotency_key": "c"}
    response = owner_client.post("/", form)
    assert response.status_code == 400
    assert response.content.decode().count("Select a valid choice") == 2
    assert not Generation.objects.exists()


def make(user: User, state: str = State.PROCESSING, **fields: object) -> Generation:
    return Generation.objects.create(
        created_by=user,
        kind=fields.pop("kind", "image"),
        model="uni-1",
        prompt="a watched pot",
        request={"prompt": "a watched pot"},
        state=state,
        **fields,
    )


def test_the_card_of_an_unfinished_job_is_watched_by_the_pages_poll(
    owner_client: Client, owner: User
) -> None:
    generation = make(owner)
    html = owner_client.get(reverse("home")).content.decode()
    assert (
        f'id="card-{generation.uuid}" data-state="processing" data-card\n  data-poll="processing"'
        in html
    )
    assert 'hx-get="/poll" hx-trigger="every 1s"' in html


def test_the_card_of_a_finished_job_is_swapped_in_by_the_poll_and_watched_no_more(
    owner_client: Client, owner: User
) -> None:
    generation = make(owner)
    Generation.objects.filter(pk=generation.pk).update(state=State.COMPLETED)
    generation.outputs.create(
        index=0,
        kind="image",
        url="https://cdn.test/a.png",
        url_expires_at=timezone.now() + timedelta(hours=1),
    )
    response = owner_client.get(reverse("poll"), {"seen": f"{generation.uuid}:processing"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "https://cdn.test/a.png" in html
    assert "data-poll" not in html


def test_a_failed_card_explains_in_plain_language(owner_client: Client, owner: User) -> None:
    generation = make(
        owner, State.FAILED, failure_code="content_moderated", failure_reason="Flagged."
    )
    html = owner_client.get(reverse("generation-card", args=[generation.uuid])).content.decode()
    assert "Blocked by content moderation" in html
    assert "Rephrase" in html
    assert "Flagged." in html


def test_an_unknown_failure_says_how_to_try_again(owner_client: Client, owner: User) -> None:
    """Found from outside: it said "Try again" on a page whose only way to is Remix."""
    generation = make(owner, State.FAILED, failure_code="mystery", failure_reason="Odd.")
    html = owner_client.get(generation.get_absolute_url()).content.decode()
    assert "Remix sends it again; if it keeps failing, tell an admin." in html
    # Found from outside: the page said it twice, in the media's place and beside it.
    assert html.count("Remix sends it again; if it keeps failing") == 1
    assert html.count("Odd.") == 1
    assert html.count("Something went wrong") == 2, "named where the media would be, and beside"


def test_the_detail_page_shows_prompt_and_parameters(
    owner_client: Client, owner: User, django_assert_max_num_queries
) -> None:
    generation, _ = start_generation(
        owner, schema.GenerationRequest(prompt="detail me", aspect_ratio="21:9", model="uni-1-max")
    )
    with django_assert_max_num_queries(6):
        response = owner_client.get(generation.get_absolute_url())
    html = response.content.decode()
    assert "detail me" in html
    assert "21:9" in html
    assert "uni-1-max" in html
    # Found from outside: "Dec. 7, 2026, 1:18 a.m." here, "7 Dec 2026" everywhere else.
    made = timezone.localtime(generation.created_at)
    assert f">{made:%-d %b %Y, %H:%M}</time>" in html


@pytest.mark.parametrize("kind", ["image_edit", "video_reframe"])
def test_pages_name_a_kind_in_words_not_its_code(
    owner_client: Client, staff: User, owner: User, kind: str
) -> None:
    """One vocabulary: the detail page, the Review page and the delete confirmation say
    "Edit image", never "image_edit"."""
    generation = make(owner, State.FAILED, kind=kind, failure_code="generation_failed",
                      failure_reason="It broke.")  # fmt: skip
    staff_client = Client()
    staff_client.force_login(staff)
    pages = {
        "detail": owner_client.get(generation.get_absolute_url()),
        "review": staff_client.get(reverse("triage")),
        "delete": owner_client.get(reverse("generation-delete", args=[generation.uuid])),
    }
    label = Kind(kind).label
    for name, response in pages.items():
        html = response.content.decode()
        assert label in html or label.lower() in html, name
        assert f" {kind} " not in html, name


def test_home_page_queries_do_not_grow_with_the_gallery(
    owner_client: Client, owner: User, django_assert_max_num_queries
) -> None:
    for _ in range(30):
        make(owner, State.COMPLETED)
    with django_assert_max_num_queries(8):
        assert owner_client.get("/").status_code == 200


def test_an_unknown_generation_is_404(owner_client: Client) -> None:
    assert owner_client.get(f"/g/{uuid.uuid4()}/").status_code == 404


# --- operations ---


def test_healthz_is_503_when_no_worker_is_alive(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "database": "ok",
        "worker": "down",
        "upstream": "simulator",
        "providers": {"agents": "simulator", "dream_machine": "simulator", "proxy": "simulator"},
        "provider_names": {
            "agents": "Luma Agents API",
            "dream_machine": "Luma Dream Machine API",
            "proxy": "Luma proxy",
        },
        "status": "degraded",
    }


def test_healthz_is_200_with_a_live_worker(client: Client) -> None:
    WorkerHeartbeat.objects.create(worker_id="w1", hostname="h", pid=1, queues="default,bulk")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["worker"] == "ok"


def test_healthz_is_503_while_a_queue_has_no_worker(client: Client) -> None:
    """`make run` starts a worker per queue; a deployment that starts only one is told which."""
    WorkerHeartbeat.objects.create(worker_id="w1", hostname="h", pid=1, queues="default")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["worker"] == "no worker takes the bulk queue"
    WorkerHeartbeat.objects.create(worker_id="w2", hostname="h", pid=2, queues="bulk")
    assert client.get("/healthz").json()["worker"] == "ok"


def test_healthz_ignores_a_worker_that_stopped_beating(client: Client) -> None:
    WorkerHeartbeat.objects.create(
        worker_id="w1",
        hostname="h",
        pid=1,
        queues="default,bulk",
        seen_at=timezone.now() - timedelta(minutes=5),
    )
    assert client.get("/healthz").status_code == 503


def test_metrics_are_for_staff_or_a_token(
    client: Client,
    owner_client: Client,
    owner: User,
    staff: User,
    settings,
    django_capture_on_commit_callbacks,
) -> None:
    assert client.get("/metrics").status_code == 403
    assert owner_client.get("/metrics").status_code == 403
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    response = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 200
    client.force_login(staff)
    text = client.get("/metrics").content.decode()
    assert 'lumaweb_jobs{state="completed"} 0' in text
    assert 'lumaweb_task_queue_depth{queue="default"} 0\n' in text
    assert 'lumaweb_task_queue_depth{queue="bulk"} 0\n' in text
    with django_capture_on_commit_callbacks(execute=True):  # the send is enqueued on commit
        start_generation(owner, schema.GenerationRequest(prompt="a queued job"))
    text = client.get("/metrics").content.decode()
    assert 'lumaweb_task_queue_depth{queue="default"} 1\n' in text
    assert 'lumaweb_task_queue_depth{queue="bulk"} 0\n' in text


def test_pages_carry_a_strict_content_security_policy(owner_client: Client) -> None:
    policy = owner_client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy


# --- Generate keeps the prompt and options (issue 16) ---

SENT = {
    "prompt": "a glass city",
    "model": "uni-1-max",
    "aspect_ratio": "3:2",
    "style": "manga",
    "output_format": "jpeg",
}


def test_after_generate_the_form_keeps_what_was_sent(owner_client: Client) -> None:
    response = owner_client.post(
        "/", {**SENT, "idempotency_key": "first"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "a glass city</textarea>" in html
    for value in ("uni-1-max", "3:2", "manga", "jpeg"):
        assert f'value="{value}" selected' in html
    assert 'value="first"' not in html  # a fresh key: pressing Generate again is a new job
    # It names the button as it is labelled (found from outside: "Generate again" was bold).
    assert "press <strong>Generate</strong> again" in html
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    assert key is not None
    owner_client.post("/", {**SENT, "idempotency_key": key[1]}, headers={"HX-Request": "true"})
    assert Generation.objects.count() == 2


def test_after_a_plain_generate_the_next_page_keeps_what_was_sent(owner_client: Client) -> None:
    response = owner_client.post("/", {**SENT, "idempotency_key": "plain"}, follow=True)
    html = response.content.decode()
    assert "a glass city</textarea>" in html
    assert 'value="manga" selected' in html
    assert 'value="plain"' not in html
    # Only once: a later visit starts blank.
    assert "a glass city</textarea>" not in owner_client.get("/").content.decode()


def test_an_htmx_generate_of_four_variations_shows_four_cards(owner_client: Client) -> None:
    form = {**SENT, "idempotency_key": "x4", "variations": "4"}
    html = owner_client.post("/", form, headers={"HX-Request": "true"}).content.decode()
    made = Generation.objects.all()
    assert made.count() == 4
    assert len({generation.batch for generation in made}) == 1
    for generation in made:
        assert f'id="card-{generation.uuid}"' in html
    assert 'value="4" selected' in html  # the next Generate makes four again


def test_a_variations_page_shows_the_others_of_its_generate(owner_client: Client) -> None:
    owner_client.post("/", {**SENT, "idempotency_key": "x2", "variations": "2"})
    first, second = Generation.objects.order_by("id")
    html = owner_client.get(first.get_absolute_url()).content.decode()
    assert "Variations from the same Generate" in html
    assert second.get_absolute_url() in html
    owner_client.post("/", {**SENT, "idempotency_key": "x1"})
    single = Generation.objects.order_by("id").last()
    assert single.batch is None
    assert "Variations from" not in owner_client.get(single.get_absolute_url()).content.decode()


def test_an_address_asked_the_wrong_way_answers_a_page_in_words(owner_client: Client) -> None:
    """Found from outside: /accounts/logout/ typed into the address bar, or any address visited
    that only takes a form, was a blank page (Django's 405 has no body)."""
    html = {"HTTP_ACCEPT": "text/html,application/xhtml+xml"}
    logout = owner_client.get("/accounts/logout/", **html)
    assert logout.status_code == 405
    assert logout["Allow"] == "POST, OPTIONS"
    text = logout.content.decode()
    assert "This address is for a form\u2019s button, not a visit." in text
    assert 'action="/accounts/logout/"' in text  # the top bar's Log out is on it
    assert "To log out, use Log out at the top." in text
    star = owner_client.get(f"/g/{uuid.uuid4()}/star", **html)
    assert star.status_code == 405
    assert "not a visit" in star.content.decode()
    assert "To log out" not in star.content.decode()
    # A program that does not ask for a page gets Django's bare answer.
    assert owner_client.get("/accounts/logout/").content == b""
