"""Luma's official `lumaai` SDK works against the Dream Machine simulator, over real HTTP, for
every call it has."""

import io
import time
from collections.abc import Iterator

import av
import httpx
import lumaai
import pytest
from lumaai.types import Generation

from generations import media_probe

pytestmark = pytest.mark.integration

SIGNATURES = {"png": b"\x89PNG\r\n\x1a\n", "jpg": b"\xff\xd8\xff"}


@pytest.fixture
def sdk(live_app: str, settings) -> Iterator[lumaai.LumaAI]:
    settings.LUMA_SIM_SPEED = 400.0
    with lumaai.LumaAI(
        base_url=f"{live_app}/sim/dream-machine/v1",
        auth_token="luma-dm-sdk-test",
        max_retries=0,  # a repeated POST could pay twice: the SDK would retry it
    ) as client:
        yield client


def finish(sdk: lumaai.LumaAI, generation_id: str | None) -> Generation:
    assert generation_id
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        generation = sdk.generations.get(generation_id)
        if generation.state in ("completed", "failed"):
            return generation
        time.sleep(0.02)
    raise AssertionError(f"{generation_id} never finished")


def asset(generation: Generation, kind: str) -> bytes:
    assert generation.state == "completed", generation.failure_reason
    assert generation.assets is not None
    url = getattr(generation.assets, kind)
    assert url, generation.assets
    return httpx.get(url).raise_for_status().content


def streams(video: bytes) -> list[str]:
    with av.open(io.BytesIO(video)) as container:
        return [stream.type for stream in container.streams]


def test_the_sdk_makes_images_videos_extends_upscales_and_audio(sdk: lumaai.LumaAI) -> None:
    assert sdk.ping.check().message == "pong"
    before = sdk.credits.get().credit_balance
    concepts = sdk.generations.concepts.list()
    assert "dolly_zoom" in concepts

    image = finish(
        sdk,
        sdk.generations.image.create(
            prompt="a lighthouse at dawn", model="photon-1", aspect_ratio="9:21", format="jpg"
        ).id,
    )
    jpeg = asset(image, "image")
    assert jpeg.startswith(SIGNATURES["jpg"])
    info = media_probe.probe_image(jpeg, max_pixels=10**8)
    assert info.height > info.width * 2  # 9:21
    image_url = image.assets.image if image.assets else None
    assert image_url

    referenced = sdk.generations.image.create(
        prompt="the same lighthouse at night",
        model="photon-flash-1",
        image_ref=[{"url": image_url, "weight": 0.85}],
        style_ref=[{"url": image_url, "weight": 0.5}],
        character_ref={"identity0": {"images": [image_url]}},
        modify_image_ref={"url": image_url, "weight": 1.0},
    )
    assert asset(finish(sdk, referenced.id), "image").startswith(SIGNATURES["png"])

    video = finish(
        sdk,
        sdk.generations.video.create(
            prompt="waves roll past the lighthouse",
            model="ray-2",
            resolution="540p",
            duration="5s",
            aspect_ratio="16:9",
            loop=True,
            keyframes={"frame0": {"type": "image", "url": image_url}},
            concepts=[{"key": "dolly_zoom"}],
        ).id,
    )
    mp4 = asset(video, "video")
    small = media_probe.probe_video(mp4, max_pixels=None)
    assert (small.mime_type, small.codec, small.duration) == ("video/mp4", "h264", 5.0)

    extend = finish(
        sdk,
        sdk.generations.video.create(
            prompt="the camera rises over the sea",
            model="ray-flash-2",
            keyframes={"frame0": {"type": "generation", "id": video.id or ""}},
        ).id,
    )
    assert media_probe.probe_video(asset(extend, "video"), max_pixels=None).codec == "h264"

    upscale = finish(sdk, sdk.generations.upscale(video.id or "", resolution="1080p").id)
    big = media_probe.probe_video(asset(upscale, "video"), max_pixels=None)
    assert big.width > small.width
    assert big.height > small.height

    audio = finish(
        sdk, sdk.generations.audio(video.id or "", prompt="surf", negative_prompt="music").id
    )
    assert streams(asset(audio, "video")) == ["video", "audio"]

    page = sdk.generations.list(limit=2, offset=0)
    assert page.count == 2
    assert page.has_more
    everything = sdk.generations.list(limit=100)
    assert not everything.has_more
    assert {g.id for g in everything.generations} >= {video.id, extend.id, upscale.id, audio.id}

    assert sdk.credits.get().credit_balance < before


def test_the_sdk_reframes_and_modifies(sdk: lumaai.LumaAI) -> None:
    image = finish(sdk, sdk.generations.image.create(prompt="a red kite", model="photon-1").id)
    video = finish(
        sdk,
        sdk.generations.video.create(
            prompt="a kite flies", model="ray-flash-2", resolution="540p"
        ).id,
    )
    image_url = image.assets.image if image.assets else ""
    video_url = video.assets.video if video.assets else ""

    reframed = finish(
        sdk,
        sdk.generations.image.reframe(
            aspect_ratio="1:1",
            generation_type="reframe_image",
            media={"url": image_url or ""},
            model="photon-flash-1",
        ).id,
    )
    square = media_probe.probe_image(asset(reframed, "image"), max_pixels=10**8)
    assert square.width == square.height

    tall = finish(
        sdk,
        sdk.generations.video.reframe(
            aspect_ratio="9:16",
            generation_type="reframe_video",
            media={"url": video_url or ""},
            model="ray-2",
            prompt="extend the sky",
        ).id,
    )
    portrait = media_probe.probe_video(asset(tall, "video"), max_pixels=None)
    assert portrait.height > portrait.width

    modified = finish(
        sdk,
        sdk.generations.video.modify(
            generation_type="modify_video",
            media={"url": video_url or ""},
            mode="flex_2",
            model="ray-2",
            prompt="as a watercolour",
        ).id,
    )
    assert media_probe.probe_video(
        asset(modified, "video"), max_pixels=None
    ).duration == pytest.approx(5.0)


def test_the_sdk_deletes_and_reads_luma_errors(sdk: lumaai.LumaAI) -> None:
    made = sdk.generations.image.create(prompt="a small boat", model="photon-1")
    assert made.id
    sdk.generations.delete(made.id)  # 204: the SDK reads no body
    with pytest.raises(lumaai.NotFoundError) as missing:
        sdk.generations.get(made.id)
    assert "not found" in missing.value.body["detail"]  # type: ignore[index]

    with pytest.raises(lumaai.BadRequestError) as short:
        sdk.generations.video.create(prompt="ab", model="ray-2")
    assert "3 at least" in short.value.body["detail"]  # type: ignore[index]

    with pytest.raises(lumaai.UnprocessableEntityError) as looped:
        sdk.generations.video.create(
            prompt="a looping end",
            model="ray-2",
            loop=True,
            keyframes={"frame1": {"type": "image", "url": "http://127.0.0.1/end.png"}},
        )
    assert "loop" in looped.value.body["detail"]  # type: ignore[index]

    with pytest.raises(lumaai.BadRequestError):
        sdk.generations.video.create(prompt="a kite", model="ray-9")  # type: ignore[arg-type]

    unsigned = httpx.get(f"{sdk.base_url}ping")  # no key at all
    assert unsigned.status_code == 401
    assert "API key" in unsigned.json()["detail"]


def test_keys_are_isolated(sdk: lumaai.LumaAI, live_app: str) -> None:
    made = sdk.generations.image.create(prompt="a private picture", model="photon-1")
    with lumaai.LumaAI(
        base_url=f"{live_app}/sim/dream-machine/v1", auth_token="another-key", max_retries=0
    ) as other:
        with pytest.raises(lumaai.NotFoundError):
            other.generations.get(made.id or "")
        assert other.generations.list().generations == []
        with pytest.raises(lumaai.NotFoundError):
            other.generations.delete(made.id or "")
