"""Personal access tokens for /mcp: made and shown once, kept hashed, revoked, never a login."""

import json
import threading
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from generations.mcp.tokens import check_token, issue_token
from generations.models import AccessToken, Generation

pytestmark = pytest.mark.integration

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "pytest", "version": "1"},
    },
}


def post_mcp(client: Client, token: str | None = None) -> object:
    headers = {"accept": "application/json, text/event-stream"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return client.post(
        "/mcp", json.dumps(INITIALIZE), content_type="application/json", headers=headers
    )


def test_a_token_is_kept_only_as_a_digest_and_checks_out(owner: User) -> None:
    record, token = issue_token(owner, "laptop")
    stored = AccessToken.objects.get(pk=record.pk)
    assert token not in (stored.digest, stored.key_id, stored.name)
    assert token.startswith(stored.shown_as.removesuffix("…"))
    found = check_token(token)
    assert found is not None
    assert found.user == owner
    assert found.last_used_at is not None
    assert check_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert check_token("lwmcp_" + stored.key_id) is None
    assert check_token("") is None


def test_a_revoked_token_or_a_deactivated_person_no_longer_checks_out(owner: User) -> None:
    record, token = issue_token(owner, "laptop")
    assert record.revoke(owner)
    assert not record.revoke(owner)  # the first revocation stands
    assert check_token(token) is None
    _, second = issue_token(owner, "desktop")
    owner.is_active = False
    owner.save()
    assert check_token(second) is None


def test_the_command_prints_the_token_alone_on_its_last_line(owner: User) -> None:
    out, err = StringIO(), StringIO()
    call_command("mcp_token", owner.username, "--name", "CI agent", stdout=out, stderr=err)
    token = out.getvalue().strip().splitlines()[-1]
    assert out.getvalue().strip() == token
    record = check_token(token)
    assert record is not None
    assert (record.user, record.name) == (owner, "CI agent")
    with pytest.raises(CommandError, match="No user is called 'nobody'"):
        call_command("mcp_token", "nobody", stdout=out, stderr=err)


def test_the_page_shows_a_new_token_once_and_lists_it_by_name(owner_client: Client) -> None:
    """Found from outside: reloading the page that showed a new token posted its form again and
    made a second working token. The form's answer is a redirect; the page after it shows the
    token, once."""
    response = owner_client.post(reverse("mcp-tokens"), {"name": "Claude Desktop"})
    assert response.status_code == 302
    assert response["Location"] == reverse("mcp-tokens")
    shown = owner_client.get(response["Location"])
    assert "no-store" in shown["Cache-Control"]  # found from outside: it could be cached
    token = shown.context["new_token"]
    assert token in shown.content.decode()
    assert check_token(token) is not None
    assert AccessToken.objects.count() == 1
    again = owner_client.get(reverse("mcp-tokens"))  # a reload
    assert AccessToken.objects.count() == 1
    page = again.content.decode()
    assert token not in page
    assert "Claude Desktop" in page
    assert "never used" not in page  # check_token above used it
    assert "http://testserver/mcp" in page


def test_a_token_needs_a_name(owner_client: Client) -> None:
    response = owner_client.post(reverse("mcp-tokens"), {"name": "  "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not AccessToken.objects.exists()


def test_people_revoke_their_own_tokens_and_not_a_teammates(
    owner: User, owner_client: Client, teammate: User
) -> None:
    mine, my_token = issue_token(owner, "mine")
    theirs, their_token = issue_token(teammate, "theirs")
    refused = owner_client.post(reverse("mcp-token-revoke", args=[theirs.key_id]))
    assert refused.status_code == 404
    assert check_token(their_token) is not None
    assert "theirs" not in owner_client.get(reverse("mcp-tokens")).content.decode()
    done = owner_client.post(reverse("mcp-token-revoke", args=[mine.key_id]), follow=True)
    assert "Revoked “mine”" in done.content.decode()
    assert check_token(my_token) is None
    mine.refresh_from_db()
    assert mine.revoked_by == owner
    assert "just now</time> by" not in done.content.decode()  # their own doing


def test_staff_see_and_revoke_anyones_token(staff: User, owner: User) -> None:
    record, token = issue_token(owner, "olivia's agent")
    client = Client()
    client.force_login(staff)
    page = client.get(reverse("mcp-tokens")).content.decode()
    assert "olivia&#x27;s agent" in page
    assert "Everyone else" in page
    client.post(reverse("mcp-token-revoke", args=[record.key_id]))
    assert check_token(token) is None
    record.refresh_from_db()
    assert record.revoked_by == staff
    # Found from outside: its owner saw "revoked just now" and not who did it.
    owners = Client()
    owners.force_login(owner)
    assert "just now</time> by sam" in owners.get(reverse("mcp-tokens")).content.decode()


def test_mcp_without_a_token_is_401_with_a_bearer_challenge(db: None) -> None:
    response = post_mcp(Client())
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="lumaweb"'
    assert "Authorization: Bearer" in response.json()["error"]


@pytest.mark.parametrize("token", ["lwmcp_0123456789ab_wrong", "not-even-a-token", ""])
def test_mcp_with_a_wrong_token_is_401_invalid_token(db: None, token: str) -> None:
    response = post_mcp(Client(), token)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer realm="lumaweb"')
    if token:
        assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_mcp_with_a_revoked_token_is_401(owner: User) -> None:
    record, token = issue_token(owner, "old")
    assert post_mcp(Client(), token).status_code == 200
    record.revoke(owner)
    response = post_mcp(Client(), token)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_a_session_is_not_enough_for_mcp(owner_client: Client) -> None:
    assert post_mcp(owner_client).status_code == 401


def test_a_token_is_never_a_login(owner: User) -> None:
    _, token = issue_token(owner, "agent")
    client = Client(headers={"authorization": f"Bearer {token}"})
    for page in (reverse("home"), reverse("gallery"), reverse("mcp-tokens")):
        response = client.get(page)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert post_mcp(client, token).status_code == 200
    assert "_auth_user_id" not in client.session


def test_malformed_requests_get_json_rpc_errors_never_a_crash(owner: User) -> None:
    _, token = issue_token(owner, "agent")
    client = Client(headers={"authorization": f"Bearer {token}"})
    accept = {"accept": "application/json, text/event-stream"}
    broken = client.post("/mcp", "{not json", content_type="application/json", headers=accept)
    assert broken.status_code == 400
    assert broken.json()["error"]["message"].startswith("Parse error")
    assert client.get("/mcp").status_code == 405  # no event stream: answers are JSON
    assert client.delete("/mcp").status_code == 405  # stateless: no session to end


def test_arguments_a_lax_reading_would_bend_are_refused_in_words(owner: User) -> None:
    # Left open before (an attacker's try): loop "yes" was read as true, and a timeout of NaN
    # was refused as "less than or equal to 60".
    _, token = issue_token(owner, "agent")
    client = Client(headers={"authorization": f"Bearer {token}"})

    def refused(tool: str, arguments: str) -> str:
        call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": tool}}
        body = json.dumps(call).replace(
            '"name": "' + tool + '"', f'"name": "{tool}", "arguments": {arguments}'
        )
        answer = client.post(
            "/mcp", body, content_type="application/json",
            headers={"accept": "application/json, text/event-stream"},
        )  # fmt: skip
        result = answer.json()["result"]
        assert result["isError"], result
        return str(result["content"][0]["text"])

    assert "loop: Input should be a valid boolean" in refused(
        "create_generation", '{"prompt": "a kite", "loop": "yes"}'
    )
    job = "00000000-0000-4000-8000-000000000000"
    assert "timeout: Input should be a finite number" in refused(
        "wait_for_generation", f'{{"generation_id": "{job}", "timeout": NaN}}'
    )
    # Found from outside: the rest were still read laxly.
    for timeout in ("true", '"2"'):
        assert "timeout: Input should be a valid number" in refused(
            "wait_for_generation", f'{{"generation_id": "{job}", "timeout": {timeout}}}'
        )
    for mine in ('"yes"', '"no"', "1"):
        assert "mine: Input should be a valid boolean" in refused(
            "list_generations", f'{{"mine": {mine}}}'
        )
    assert "limit: Input should be a valid integer" in refused("list_generations", '{"limit": "5"}')
    assert not Generation.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_event_stream_asked_for_is_refused_at_once_not_held(owner: User) -> None:
    """Found from outside (an attacker): GET /mcp asking for an event stream never answered, and
    its thread spun on after the client left; ten such requests took the studio down. This
    server is stateless and answers in JSON: a GET is refused with 405, as the MCP spec allows."""
    _, token = issue_token(owner, "agent")
    client = Client(headers={"authorization": f"Bearer {token}"})
    answers: list[object] = []
    asking = threading.Thread(
        target=lambda: answers.append(client.get("/mcp", headers={"accept": "text/event-stream"})),
        daemon=True,
    )
    asking.start()
    asking.join(timeout=60)
    assert answers, "GET /mcp did not answer within a minute"
    refused = answers[0]
    assert refused.status_code == 405  # type: ignore[attr-defined]
    assert refused["Allow"] == "POST"  # type: ignore[index]
    assert "POST" in refused.json()["error"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("host", ["[::1]", "[::1]:8000", "localhost:8000"])
def test_mcp_answers_at_any_allowed_host(owner: User, host: str) -> None:
    """Found from outside: Host: [::1]:8777 was a 500 (its port read from the first colon)."""
    _, token = issue_token(owner, "agent")
    assert (
        Client(HTTP_HOST=host)
        .post(
            "/mcp",
            json.dumps(INITIALIZE),
            content_type="application/json",
            headers={
                "accept": "application/json, text/event-stream",
                "authorization": f"Bearer {token}",
            },
        )
        .status_code
        == 200
    )


def test_a_body_too_big_gets_a_json_rpc_error_in_words_not_a_page(owner: User, settings) -> None:
    """Found from outside (an agent's view): a body over Django's limit got the studio's HTML
    error page, and the log a traceback."""
    _, token = issue_token(owner, "agent")
    client = Client(headers={"authorization": f"Bearer {token}"})
    big = {**INITIALIZE, "params": {**INITIALIZE["params"], "padding": "a" * 3_000_000}}
    answer = client.post(
        "/mcp",
        json.dumps(big),
        content_type="application/json",
        headers={"accept": "application/json, text/event-stream"},
    )
    assert answer.status_code == 413
    error = answer.json()["error"]
    assert error["code"] == -32600
    assert "at most 2.5 MB" in error["message"]


def test_a_body_that_is_not_json_gets_a_json_rpc_error(owner: User) -> None:
    """Found from outside: a body sent as text/plain was answered "Invalid Content-Type header"
    labelled as an HTML page."""
    _, token = issue_token(owner, "agent")
    client = Client(headers={"authorization": f"Bearer {token}"})
    answer = client.post(
        "/mcp",
        json.dumps(INITIALIZE),
        content_type="text/plain",
        headers={"accept": "application/json, text/event-stream"},
    )
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/json"
    error = answer.json()["error"]
    assert error["code"] == -32600
    assert "Content-Type" in error["message"]
    assert "application/json" in error["message"]
