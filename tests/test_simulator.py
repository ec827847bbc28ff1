"""The simulator over HTTP: the contract of luma-api.md §1, accepted and refused."""

import base64
import importlib
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.core.handlers.wsgi import WSGIHandler
from PIL import Image

from generations import media_probe
from generations.simulators import media as sim_media
from generations.simulators.agents import engine
from generations.simulators.clock import clock
from generations.simulators.models import SimGeneration
from tests.conftest import SIM_URL, TEST_TOKEN
from tests.schema_cases import FIELD_CHECKS, RULES

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.usefixtures("sim_clock")]


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=SIM_URL,
        transport=httpx.WSGITransport(app=WSGIHandler()),
        headers={"Authorization": f"Bearer {TEST_TOKEN}"},
    ) as client:
        yield client


def png(color: str = "red", size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def wait_completed(http: httpx.Client, generation_id: str) -> dict[str, Any]:
    """Move the simulator's clock on until the job has finished (a simulated day at most)."""
    for _ in range(24 * 60):
        reply = http.get(f"/generations/{generation_id}").json()
        if reply["state"] in ("completed", "failed"):
            return reply
        clock.advance(60)
    raise AssertionError("the simulated job never finished")


def create(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post("/generations", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_requests_without_a_bearer_token_get_401(http: httpx.Client) -> None:
    with httpx.Client(transport=httpx.WSGITransport(app=WSGIHandler())) as anonymous:
        response = anonymous.post(f"{SIM_URL}/generations", json={"prompt": "x"})
    assert response.status_code == 401
    assert "API key" in response.json()["detail"]


def test_headers_echo_the_request_id_and_name_the_api_version(http: httpx.Client) -> None:
    response = http.post("/generations", json={"prompt": "a cat"}, headers={"X-Request-Id": "r-1"})
    assert response.headers["X-Request-Id"] == "r-1"
    assert response.headers["X-API-Version"]


def test_an_image_job_moves_from_queued_to_completed_with_a_real_png(
    http: httpx.Client, settings
) -> None:
    settings.LUMA_SIM_SPEED = 100.0  # 14 s of work become 0.14 s
    job = create(http, prompt="a lighthouse at dusk", type="image", aspect_ratio="16:9")
    assert job["state"] == "queued"
    assert job["output"] == []
    done = wait_completed(http, job["id"])
    assert done["state"] == "completed"
    [output] = done["output"]
    assert output["type"] == "image"
    image = http.get(output["url"])
    assert image.status_code == 200
    assert image.content.startswith(b"\x89PNG")
    width, height = Image.open(io.BytesIO(image.content)).size
    assert width / height == pytest.approx(16 / 9, rel=0.02)


def test_jobs_survive_a_restart_because_state_is_in_the_database(http: httpx.Client) -> None:
    job = create(http, prompt="persisted")
    # A restart: the process's simulator state goes (the engine's module is loaded afresh) and
    # a new WSGI app answers; only the database carries the job over.
    importlib.reload(engine)
    with httpx.Client(
        base_url=SIM_URL,
        transport=httpx.WSGITransport(app=WSGIHandler()),
        headers={"Authorization": f"Bearer {TEST_TOKEN}"},
    ) as restarted:
        done = wait_completed(restarted, job["id"])
    assert done["id"] == job["id"]
    assert done["state"] == "completed"
    assert SimGeneration.objects.get(pk=job["id"]).request["prompt"] == "persisted"


def test_jpeg_output_format_gives_jpeg_bytes(http: httpx.Client) -> None:
    job = create(http, prompt="jpeg please", output_format="jpeg")
    done = wait_completed(http, job["id"])
    assert http.get(done["output"][0]["url"]).content.startswith(b"\xff\xd8")


def test_a_video_is_a_real_h264_mp4_of_the_requested_length(http: httpx.Client) -> None:
    job = create(
        http,
        prompt="waves",
        type="video",
        model="ray-3.2",
        aspect_ratio="9:16",
        video={"duration": "10s", "resolution": "720p"},
    )
    done = wait_completed(http, job["id"])
    data = http.get(done["output"][0]["url"]).content
    info = media_probe.probe_video(data, max_pixels=None)
    assert info.mime_type == "video/mp4"
    assert info.duration == pytest.approx(10.0, abs=0.1)
    assert info.width < info.height


def test_layering_returns_labelled_layers_with_alpha(http: httpx.Client) -> None:
    source = base64.b64encode(png("blue")).decode()
    job = create(
        http,
        prompt="split",
        type="layering",
        model="uni-1",
        source={"data": source, "media_type": "image/png"},
        layering={"resolution": "1k"},
    )
    done = wait_completed(http, job["id"])
    assert len(done["output"]) >= 2
    for index, output in enumerate(done["output"]):
        assert output["layer"]["index"] == index
        assert output["layer"]["label"]
        layer = Image.open(io.BytesIO(http.get(output["url"]).content))
        assert layer.mode == "RGBA"


def test_an_image_edit_chains_from_a_prior_image_by_generation_id(http: httpx.Client) -> None:
    first = wait_completed(http, create(http, prompt="a red barn")["id"])
    edit = create(
        http,
        prompt="make it snow",
        type="image_edit",
        source={"generation_id": first["id"]},
    )
    assert wait_completed(http, edit["id"])["state"] == "completed"


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"prompt": ""}, 400, "prompt"),
        ({"prompt": "x", "type": "sculpture"}, 400, "type"),
        ({"prompt": "x", "surprise": True}, 400, "surprise"),
        (
            {
                "prompt": "x",
                "type": "video",
                "model": "ray-3.2",
                "video": {"duration": "10s", "loop": True},
            },
            422,
            "Loop is not available for 10-second videos",
        ),
        (
            {"prompt": "x", "type": "video", "model": "ray-3.2", "video": {"exr_export": True}},
            422,
            "HDR",
        ),
        ({"prompt": "x", "type": "video", "model": "uni-1"}, 422, "ray-3.2"),
        (
            {"prompt": "x", "type": "video", "model": "ray-3.2", "aspect_ratio": "3:1"},
            422,
            "not available on ray-3.2",
        ),
    ],
)
def test_invalid_requests_are_refused_with_a_detail(
    http: httpx.Client, body: dict[str, Any], status: int, fragment: str
) -> None:
    response = http.post("/generations", json=body)
    assert response.status_code == status, response.text
    assert fragment in response.json()["detail"]
    assert not SimGeneration.objects.exists()


def test_a_body_that_is_not_json_is_a_400(http: httpx.Client) -> None:
    response = http.post(
        "/generations", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_unknown_generation_is_404(http: httpx.Client) -> None:
    response = http.get("/generations/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.json()["detail"]


def test_another_keys_generation_is_invisible(http: httpx.Client) -> None:
    job = create(http, prompt="mine")
    other = http.get(f"/generations/{job['id']}", headers={"Authorization": "Bearer someone-else"})
    assert other.status_code == 404
    chained = http.post(
        "/generations",
        json={"prompt": "steal", "type": "image_edit", "source": {"generation_id": job["id"]}},
        headers={"Authorization": "Bearer someone-else"},
    )
    assert chained.status_code == 400
    assert "no generation" in chained.json()["detail"]


def test_an_image_edit_from_a_video_is_refused(http: httpx.Client) -> None:
    video = wait_completed(http, create(http, prompt="v", type="video", model="ray-3.2")["id"])
    response = http.post(
        "/generations",
        json={"prompt": "edit", "type": "image_edit", "source": {"generation_id": video["id"]}},
    )
    assert response.status_code == 422
    assert "is a video, not an image" in response.json()["detail"]


def test_a_video_file_as_an_image_reference_is_refused(http: httpx.Client) -> None:
    video = sim_media.render_video("clip", seconds=1, long_side=64)
    file_id = http.post("/files", files={"file": ("c.mp4", video, "video/mp4")}).json()["id"]
    clock.advance(1)
    response = http.post("/generations", json={"prompt": "x", "image_ref": [{"file_id": file_id}]})
    assert response.status_code == 422
    assert "image_ref[0]: this input is a video, not an image" in response.json()["detail"]


def test_a_keyframe_on_the_last_grid_position_renders(http: httpx.Client) -> None:
    image = wait_completed(http, create(http, prompt="anchor")["id"])
    job = create(
        http,
        prompt="to the end",
        type="video",
        model="ray-3.2",
        video={"keyframes": [{"generation_id": image["id"]}], "keyframe_indexes": [120]},
    )
    assert wait_completed(http, job["id"])["state"] == "completed"


def test_a_deleted_input_does_not_break_an_accepted_job(http: httpx.Client, settings) -> None:
    settings.LUMA_SIM_SPEED = 50.0
    file_id = http.post("/files", files={"file": ("a.png", png(), "image/png")}).json()["id"]
    clock.advance(1)
    job = create(http, prompt="edit", type="image_edit", source={"file_id": file_id})
    assert http.delete(f"/files/{file_id}").status_code == 204
    assert wait_completed(http, job["id"])["state"] == "completed"


def test_failure_fields_appear_only_once_failed(http: httpx.Client, settings) -> None:
    settings.LUMA_SIM_SPEED = 0.01
    job = create(http, prompt="doomed [fail:generation_failed]")
    assert "failure_code" not in http.get(f"/generations/{job['id']}").json()


def test_a_source_that_has_not_finished_is_refused(http: httpx.Client, settings) -> None:
    settings.LUMA_SIM_SPEED = 0.01
    job = create(http, prompt="slow")
    response = http.post(
        "/generations",
        json={"prompt": "edit", "type": "image_edit", "source": {"generation_id": job["id"]}},
    )
    assert response.status_code == 422
    assert "not completed" in response.json()["detail"]


def test_a_video_edit_of_a_source_longer_than_18_seconds_is_refused(
    http: httpx.Client, tmp_path
) -> None:
    long_video = sim_media.render_video("long", seconds=19, long_side=64)
    response = http.post(
        "/generations",
        json={
            "prompt": "edit",
            "type": "video_edit",
            "model": "ray-3.2",
            "source": {"data": base64.b64encode(long_video).decode(), "media_type": "video/mp4"},
        },
    )
    assert response.status_code == 422
    assert "18 s at most" in response.json()["detail"]


def test_fail_directive_fails_the_job_with_that_code_and_a_reason(http: httpx.Client) -> None:
    job = create(http, prompt="a forbidden thing [fail:content_moderated]")
    done = wait_completed(http, job["id"])
    assert done["state"] == "failed"
    assert done["failure_code"] == "content_moderated"
    assert "moderation" in done["failure_reason"]
    assert done.get("output", []) == []


def test_stuck_directive_stays_processing(http: httpx.Client) -> None:
    job = create(http, prompt="never ends [stuck]")
    clock.advance(24 * 3600)
    assert http.get(f"/generations/{job['id']}").json()["state"] == "processing"


def test_output_urls_are_fresh_on_every_get_and_refused_once_expired(
    http: httpx.Client, settings
) -> None:
    done = wait_completed(http, create(http, prompt="expiring")["id"])
    settings.LUMA_SIM_URL_TTL = 1
    url = http.get(f"/generations/{done['id']}").json()["output"][0]["url"]
    assert http.get(url).status_code == 200
    clock.advance(2)
    expired = http.get(url)
    assert expired.status_code == 403
    assert "expired" in expired.text
    fresh = http.get(f"/generations/{done['id']}").json()["output"][0]["url"]
    assert fresh != url
    assert http.get(fresh).status_code == 200


def test_a_tampered_signature_is_refused(http: httpx.Client) -> None:
    done = wait_completed(http, create(http, prompt="tamper")["id"])
    url = done["output"][0]["url"]
    assert http.get(url.replace("signature=", "signature=0")).status_code == 403
    assert http.get(url.split("?")[0]).status_code == 403


def test_requests_per_minute_limit_answers_429_with_retry_after(
    http: httpx.Client, settings
) -> None:
    settings.LUMA_SIM_RPM = 3
    for _ in range(3):
        assert http.get("/files").status_code == 200
    limited = http.get("/files")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


def test_concurrent_unfinished_jobs_limit_answers_429(http: httpx.Client, settings) -> None:
    settings.LUMA_SIM_SPEED = 0.01
    settings.LUMA_SIM_MAX_CONCURRENT = 2
    create(http, prompt="one")
    create(http, prompt="two")
    third = http.post("/generations", json={"prompt": "three"})
    assert third.status_code == 429
    assert "Retry-After" in third.headers
    assert SimGeneration.objects.count() == 2


# --- files ---


def test_inline_upload_becomes_ready_and_can_be_used_as_a_source(http: httpx.Client) -> None:
    created = http.post(
        "/files",
        files={"file": ("cat.png", png(), "image/png")},
        data={"purpose": "input"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["state"] == "pending"
    assert body["upload"] is None
    assert body["file"]["filename"] == "cat.png"
    clock.advance(1)
    assert http.get(f"/files/{body['id']}").json()["state"] == "ready"
    job = create(http, prompt="edit it", type="image_edit", source={"file_id": body["id"]})
    assert wait_completed(http, job["id"])["state"] == "completed"


def test_a_corrupt_upload_ends_failed_with_a_reason(http: httpx.Client) -> None:
    created = http.post("/files", files={"file": ("x.png", png()[:40], "image/png")}).json()
    clock.advance(1)
    record = http.get(f"/files/{created['id']}").json()
    assert record["state"] == "failed"
    assert "image" in record["failure_reason"]
    refused = http.post(
        "/generations",
        json={"prompt": "x", "type": "image_edit", "source": {"file_id": created["id"]}},
    )
    assert refused.status_code == 422
    assert "not ready" in refused.json()["detail"]


def test_presigned_upload_put_then_complete(http: httpx.Client) -> None:
    data = png("green")
    created = http.post(
        "/files", json={"mime_type": "image/png", "size_bytes": len(data), "filename": "g.png"}
    ).json()
    upload = created["upload"]
    assert upload["method"] == "PUT"
    assert created["state"] == "pending"
    with httpx.Client(transport=httpx.WSGITransport(app=WSGIHandler())) as storage:
        put = storage.put(upload["url"], content=data, headers=upload["headers"])
    assert put.status_code == 200, put.text
    completed = http.post(f"/files/{created['id']}/complete")
    assert completed.status_code == 200
    clock.advance(1)
    assert http.get(f"/files/{created['id']}").json()["state"] == "ready"


def test_complete_before_the_bytes_arrive_is_refused(http: httpx.Client) -> None:
    created = http.post("/files", json={"mime_type": "image/png", "size_bytes": 10}).json()
    response = http.post(f"/files/{created['id']}/complete")
    assert response.status_code == 409
    assert "Expected 10 bytes" in response.json()["detail"]


def test_file_list_is_keyset_paginated_newest_first(http: httpx.Client) -> None:
    ids = [
        http.post("/files", files={"file": (f"{i}.png", png(), "image/png")}).json()["id"]
        for i in range(5)
    ]
    first = http.get("/files", params={"limit": 2}).json()
    assert first["has_more"] is True
    second = http.get("/files", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    third = http.get("/files", params={"limit": 2, "cursor": second["next_cursor"]}).json()
    seen = [f["id"] for page in (first, second, third) for f in page["data"]]
    assert seen == list(reversed(ids))
    assert third["has_more"] is False
    assert http.get("/files", params={"limit": 101}).status_code == 400


def test_delete_is_soft_and_answers_204(http: httpx.Client) -> None:
    file_id = http.post("/files", files={"file": ("a.png", png(), "image/png")}).json()["id"]
    assert http.delete(f"/files/{file_id}").status_code == 204
    assert http.get(f"/files/{file_id}").json()["state"] == "deleted"
    assert http.delete("/files/00000000-0000-4000-8000-000000000000").status_code == 404


# --- fault injection ---


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_queued_status_faults_strike_the_next_calls_then_stop(
    http: httpx.Client, status: int
) -> None:
    assert http.post("/_sim/faults", json={"kind": str(status), "count": 2}).status_code == 201
    assert http.get("/files").status_code == status
    assert http.get("/files").status_code == status
    assert http.get("/files").status_code == 200


def test_a_fault_can_target_one_path_and_method(http: httpx.Client) -> None:
    http.post("/_sim/faults", json={"kind": "503", "path": "/generations", "method": "POST"})
    assert http.get("/files").status_code == 200
    assert http.post("/generations", json={"prompt": "x"}).status_code == 503
    assert not SimGeneration.objects.exists()


def test_a_malformed_reply_after_the_work_still_creates_the_job(http: httpx.Client) -> None:
    response = http.post(
        "/generations", json={"prompt": "x"}, headers={"X-Sim-Fault": "malformed;after"}
    )
    assert response.status_code == 200
    with pytest.raises(ValueError, match="Expecting value"):
        response.json()
    assert SimGeneration.objects.count() == 1


def test_unknown_fault_kind_is_refused(http: httpx.Client) -> None:
    response = http.post("/_sim/faults", json={"kind": "explode"})
    assert response.status_code == 400
    assert "kind must be an HTTP status" in response.json()["detail"]


# --- every documented rule, through HTTP: the simulator validates with the same schema ---


def _refused_by_reference_only(response: httpx.Response) -> bool:
    """A body the schema accepted may still name a generation or file this key does not own."""
    detail = response.json().get("detail", "")
    return response.status_code == 400 and ("no generation" in detail or "no file" in detail)


@pytest.mark.parametrize(("ok", "bad", "loc", "fragment"), RULES)
def test_every_rule_is_enforced_over_http(
    request: pytest.FixtureRequest,
    http: httpx.Client,
    ok: dict[str, Any],
    bad: dict[str, Any],
    loc: tuple[Any, ...],
    fragment: str,
) -> None:
    refused = http.post("/generations", json=bad)
    expected = 400 if request.node.callspec.id in FIELD_CHECKS else 422
    assert refused.status_code == expected, refused.text
    assert fragment in refused.json()["detail"]
    assert not SimGeneration.objects.exists()
    accepted = http.post("/generations", json=ok)
    assert accepted.status_code in (201, 422) or _refused_by_reference_only(accepted), accepted.text
    if accepted.status_code == 422:
        # Only the simulator's own checks beyond the schema may refuse a valid neighbour:
        # the ray-3.2 aspect ratios, or placeholder bytes that are not readable media.
        detail = accepted.json()["detail"]
        assert "ray-3.2" in detail or "we can read" in detail, detail


def test_a_bad_fault_header_or_purpose_is_a_400_not_a_500(http: httpx.Client) -> None:
    response = http.get("/files", headers={"X-Sim-Fault": "200"})
    assert response.status_code == 400
    assert "not a fault kind" in response.json()["detail"]
    upload = http.post(
        "/files", files={"file": ("a.png", png(), "image/png")}, data={"purpose": "art"}
    )
    assert upload.status_code == 400
    assert "purpose must be one of" in upload.json()["detail"]
    assert http.get("/files").status_code == 200


def test_queued_faults_never_strike_the_fault_controls(http: httpx.Client) -> None:
    http.post("/_sim/faults", json={"kind": "500", "count": 5})
    assert http.get("/_sim/faults").status_code == 200
    assert http.delete("/_sim/faults").status_code == 204
    assert http.get("/files").status_code == 200


def test_an_output_url_honours_queued_faults_then_serves_normally(http: httpx.Client) -> None:
    job = create(http, prompt="a lighthouse at dusk")
    [output] = wait_completed(http, job["id"])["output"]
    whole = http.get(output["url"]).content
    http.post("/_sim/faults", json={"kind": "500"})  # no path: meant for the API alone
    for kind in ("403", "partial"):
        http.post("/_sim/faults", json={"kind": kind, "method": "GET", "path": "/sim/v1/outputs/"})
    denied = http.get(output["url"])
    assert denied.status_code == 403
    assert denied.headers["Content-Type"] == "application/xml"
    assert "<Code>AccessDenied</Code>" in denied.text
    cut = http.get(output["url"])
    assert cut.status_code == 200
    assert cut.headers["Content-Length"] == str(len(whole))
    assert cut.content == whole[: len(whole) // 2]
    assert http.get(output["url"]).content == whole
    assert http.get("/files").status_code == 500
