"""Property-based fuzzing (hypothesis): every form answers without a server error, and every
JSON reply the client parses gives a typed answer or a LumaError, never anything else."""

import contextlib
import json
from typing import Any

import httpx
import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generations.forms import MODE_FORMS
from generations.models import Generation
from generations.providers import errors
from generations.providers.agents import schema
from generations.providers.agents.client import AgentsClient

pytestmark = pytest.mark.integration

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

text = st.text(max_size=80) | st.sampled_from(["", "0", "-1", "1e309", "NaN", "true", "../x"])


def form_data(form_class: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Any subset of the form's own fields, each with text, one of its choices, or a list."""
    fields = form_class().fields
    values = {}
    for name, field in fields.items():
        options = [str(value) for value, _ in getattr(field, "choices", [])][:20]
        candidates = text | st.lists(text, max_size=3)
        values[name] = st.sampled_from(options) | candidates if options else candidates
    return st.fixed_dictionaries({}, optional=values)


@pytest.fixture
def fuzz_client(owner_client: Client, settings) -> Client:
    settings.LUMAWEB_SUBMIT_PER_MINUTE = 0
    owner_client.raise_request_exception = True  # an unhandled exception fails the example
    return owner_client


@pytest.mark.django_db
@pytest.mark.parametrize("mode", sorted(MODE_FORMS))
def test_no_create_form_input_causes_a_server_error(fuzz_client: Client, mode: str) -> None:
    @FUZZ
    @given(data=form_data(MODE_FORMS[mode]), htmx=st.booleans())
    def check(data: dict[str, Any], htmx: bool) -> None:
        headers = {"HX-Request": "true"} if htmx else {}
        response = fuzz_client.post("/", {**data, "mode": mode}, headers=headers)
        assert response.status_code in (200, 302, 400), response.status_code
        options = fuzz_client.post("/create/options", {**data, "mode": mode})
        assert options.status_code == 200

    check()


@pytest.mark.django_db
@FUZZ
@given(username=text, password=text, next_url=text)
def test_no_login_input_causes_a_server_error(username: str, password: str, next_url: str) -> None:
    client = Client(raise_request_exception=True)
    response = client.post(
        "/accounts/login/", {"username": username, "password": password, "next": next_url}
    )
    assert response.status_code in (200, 429)  # 429: a name tried too often is locked (axes)


@pytest.mark.django_db
@given(action=text, note=text)
@FUZZ
def test_no_review_action_causes_a_server_error(staff, owner, action: str, note: str) -> None:
    generation = Generation.objects.create(
        created_by=owner, kind="image", model="uni-1", prompt="x", request={}, state="failed"
    )
    client = Client(raise_request_exception=True)
    client.force_login(staff)
    response = client.post(f"/review/{generation.uuid}", {"action": action, "note": note})
    assert response.status_code in (200, 302, 400)


# --- every JSON reply the client parses ---

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
GENERATION = {
    "id": "3f1c0f4e-1d2b-4c5a-9e8f-0a1b2c3d4e5f",
    "type": "image",
    "model": "uni-1",
    "state": "completed",
    "created_at": "2026-01-01T00:00:00Z",
    "output": [{"type": "image", "url": "https://cdn.example/x.png"}],
}


def mutated_generation() -> st.SearchStrategy[Any]:
    """A valid reply with fields dropped, replaced by anything, or new ones added."""
    return st.fixed_dictionaries(
        {},
        optional={key: st.just(value) | json_values for key, value in GENERATION.items()}
        | {"new_field": json_values, "failure_code": json_values, "failure_reason": json_values},
    )


bodies = (
    mutated_generation().map(json.dumps)
    | json_values.map(json.dumps)
    | st.binary(max_size=200).map(lambda b: b.decode("latin-1"))
    | st.just(json.dumps(GENERATION)[:30])
)


@FUZZ
@given(
    status=st.sampled_from([200, 201, 204, 400, 401, 402, 404, 409, 422, 429, 500, 502, 503]),
    body=bodies,
    retry_after=st.none() | text,
)
def test_every_reply_parses_to_a_result_or_a_luma_error(
    status: int, body: str, retry_after: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after.encode("ascii", "ignore").decode() or "x"

    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body.encode(), headers=headers)

    client = AgentsClient(
        "https://luma.test/v1",
        "luma-api-fuzz",
        transport=httpx.MockTransport(reply),
        sleep=lambda seconds: None,
        max_retries=1,
    )
    calls = [
        lambda: client.create_generation(schema.GenerationRequest(prompt="x")),
        lambda: client.get_generation(GENERATION["id"]),
        lambda: client.get_file(GENERATION["id"]),
        lambda: client.list_files(),
        lambda: client.complete_file(GENERATION["id"]),
        lambda: client.delete_file(GENERATION["id"]),
    ]
    with client:
        for call in calls:
            with contextlib.suppress(errors.LumaError):
                call()
