"""The official SDK (luma-agents) works against the simulator, over real HTTP, for all six types."""

from collections.abc import Iterator

import httpx
import luma_agents
import pytest

from generations import media_probe
from generations.simulators.clock import clock

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("sim_clock")]

SIGNATURES = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8\xff"}


@pytest.fixture
def sdk(live_app: str, settings) -> Iterator[luma_agents.Luma]:
    settings.LUMA_SIM_SPEED = 200.0
    with luma_agents.Luma(base_url=f"{live_app}/sim/v1", auth_token="luma-api-sdk-test") as client:
        yield client


def finish(sdk: luma_agents.Luma, generation_id: str) -> luma_agents.types.Generation:
    """Move the simulator's clock on (it serves from this process) until the job has finished."""
    for _ in range(24 * 60):
        generation = sdk.generations.get(generation_id)
        if generation.state in ("completed", "failed"):
            return generation
        clock.advance(60)
    raise AssertionError(f"{generation_id} never finished")


def downloaded(generation: luma_agents.types.Generation) -> list[bytes]:
    assert generation.state == "completed", generation.failure_reason
    assert generation.output
    return [httpx.get(output.url).raise_for_status().content for output in generation.output]


def test_the_sdk_creates_every_type_and_gets_real_media(sdk: luma_agents.Luma) -> None:
    image = finish(sdk, sdk.generations.create(prompt="a paper boat", type="image").id)
    [png] = downloaded(image)
    assert png.startswith(SIGNATURES["png"])

    edit = sdk.generations.create(
        prompt="make it night",
        type="image_edit",
        source={"generation_id": image.id},
        output_format="jpeg",
    )
    [jpeg] = downloaded(finish(sdk, edit.id))
    assert jpeg.startswith(SIGNATURES["jpeg"])

    video = sdk.generations.create(
        prompt="the boat sails away",
        type="video",
        model="ray-3.2",
        video={"duration": "5s", "resolution": "540p", "start_frame": {"generation_id": image.id}},
    )
    video = finish(sdk, video.id)
    [mp4] = downloaded(video)
    info = media_probe.probe_video(mp4, max_pixels=None)
    assert (info.mime_type, info.codec) == ("video/mp4", "h264")
    assert info.duration == pytest.approx(5.0, abs=0.1)

    video_edit = sdk.generations.create(
        prompt="watercolour style",
        type="video_edit",
        model="ray-3.2",
        source={"generation_id": video.id},
        video={"edit": {"strength": "flex_2", "auto_controls": True}},
    )
    [edited] = downloaded(finish(sdk, video_edit.id))
    assert media_probe.probe_video(edited, max_pixels=None).duration == pytest.approx(5.0, abs=0.1)

    reframe = sdk.generations.create(
        prompt="vertical",
        type="video_reframe",
        model="ray-3.2",
        aspect_ratio="9:16",
        source={"generation_id": video.id},
        video={"source_position": {"x_norm": 0.1, "y_norm": 0.2, "w_norm": 0.8, "h_norm": 0.6}},
    )
    [vertical] = downloaded(finish(sdk, reframe.id))
    reframed = media_probe.probe_video(vertical, max_pixels=None)
    assert reframed.height > reframed.width

    layering = sdk.generations.create(
        prompt="boat and sea",
        type="layering",
        model="uni-1",
        source={"generation_id": image.id},
        layering={"resolution": "2k"},
    )
    layers = finish(sdk, layering.id)
    assert all(output.layer is not None for output in layers.output or [])
    assert all(data.startswith(SIGNATURES["png"]) for data in downloaded(layers))


def test_the_sdk_sees_refusals_as_its_own_errors(sdk: luma_agents.Luma) -> None:
    with pytest.raises(luma_agents.UnprocessableEntityError) as info:
        sdk.generations.create(
            prompt="x", type="video", model="ray-3.2", video={"duration": "10s", "loop": True}
        )
    assert "10-second" in str(info.value)
    with pytest.raises(luma_agents.NotFoundError):
        sdk.generations.get("00000000-0000-4000-8000-000000000000")
