"""Tests for the simulator's media rendering and the upload probing helpers."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import av
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageOps, ImageStat

from generations.media_probe import ImageInfo, MediaError, VideoInfo, probe_image, probe_video
from generations.simulators import media as sim_media
from generations.simulators.media import (
    ASPECT_RATIOS,
    canvas_size,
    frame_png,
    read_frame,
    render_image,
    render_layers,
    render_video,
)
from tests.factories import png, png_mov

pytestmark = pytest.mark.unit

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
FRAME = 1 / 24


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def encode(im: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **params)
    return buf.getvalue()


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def distance(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute per-channel difference (0..255) after shrinking both to 32x32."""
    a = a.convert("RGB").resize((32, 32), Image.Resampling.BOX)
    b = b.convert("RGB").resize((32, 32), Image.Resampling.BOX)
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def bright_pixels(im: Image.Image, box: tuple[int, int, int, int]) -> int:
    """How many pixels in ``box`` are near-white (the colour of the drawn text)."""
    region = im.convert("RGB").crop(box)
    low = ImageChops.darker(ImageChops.darker(*region.split()[:2]), region.split()[2])
    return sum(low.point(lambda v: 255 if v > 235 else 0).histogram()[255:])


def halves(left: tuple[int, int, int], right: tuple[int, int, int], size=(320, 240)) -> bytes:
    """A source picture: two solid colours side by side, with a white disc in the middle."""
    im = Image.new("RGB", size, left)
    im.paste(right, (size[0] // 2, 0, size[0], size[1]))
    w, h = size
    ImageDraw.Draw(im).ellipse((w * 0.4, h * 0.35, w * 0.6, h * 0.65), fill=(255, 255, 255))
    return encode(im)


def checkerboard(size=(320, 180), cell=20) -> Image.Image:
    im = Image.new("RGB", size, (0, 0, 0))
    draw = ImageDraw.Draw(im)
    for y in range(0, size[1], cell):
        for x in range(0, size[0], cell):
            if (x // cell + y // cell) % 2 == 0:
                draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=(0, 255, 60))
    return im


def png_with_header_size(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims ``width`` x ``height`` (with a correct CRC)."""
    data = bytearray(encode(Image.new("1", (8, 8))))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def noisy(size=(200, 150)) -> Image.Image:
    """Incompressible content, so truncating the file really cuts into the pixel data."""
    return Image.frombytes(
        "RGB", size, bytes((i * 7919 + (i >> 3) * 31) % 251 for i in range(size[0] * size[1] * 3))
    )


def tiny_video(fmt: str, codec: str, frames: int = 12, size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=12)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_image(Image.new("RGB", size, (i * 20, 100, 50)))
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


def audio_only_mp4() -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=8000)
        stream.layout = "mono"
        for i in range(8):
            frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
            frame.planes[0].update(bytes(4096))
            frame.pts = i * 1024
            frame.sample_rate = 8000
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


KEY = checkerboard()
RED = encode(Image.new("RGB", (160, 90), (230, 20, 20)))
BLUE = encode(Image.new("RGB", (160, 90), (20, 40, 230)))


@pytest.fixture(scope="module")
def video5() -> bytes:
    return render_video(
        "A red fox running through fresh snow",
        seconds=5,
        keyframes=[(60, encode(KEY))],
        label="ray-2 · video",
    )


@pytest.fixture(scope="module")
def video10() -> bytes:
    return render_video("A long slow pan over a desert at noon", seconds=10)


@pytest.fixture(scope="module")
def red_to_blue() -> bytes:
    """A 2 s source clip that starts red and ends blue."""
    return render_video("source clip", seconds=2, keyframes=[(0, RED), (-1, BLUE)])


# ---------------------------------------------------------------------------------------------
# canvas_size
# ---------------------------------------------------------------------------------------------

EXPECTED_512 = {
    "3:1": (512, 170),
    "2:1": (512, 256),
    "21:9": (512, 220),
    "16:9": (512, 288),
    "4:3": (512, 384),
    "3:2": (512, 342),
    "1:1": (512, 512),
    "3:4": (384, 512),
    "2:3": (342, 512),
    "9:16": (288, 512),
    "1:2": (256, 512),
    "9:21": (220, 512),  # Dream Machine's tallest
    "1:3": (170, 512),
}


def test_all_thirteen_ratios_are_known():
    # The Agents API's twelve and Dream Machine's 9:21.
    assert set(ASPECT_RATIOS) == set(EXPECTED_512)
    assert len(ASPECT_RATIOS) == 13


@pytest.mark.parametrize("ratio", list(EXPECTED_512))
def test_canvas_size_per_ratio(ratio):
    assert canvas_size(ratio, 512) == EXPECTED_512[ratio]
    rw, rh = (int(x) for x in ratio.split(":"))
    for long_side in (256, 300, 1024):
        w, h = canvas_size(ratio, long_side)
        assert w % 2 == 0
        assert h % 2 == 0
        assert max(w, h) == long_side
        assert abs(w / h - rw / rh) < 0.05 * rw / rh


@pytest.mark.parametrize(("ratio", "long_side"), [("5:4", 512), ("16/9", 512), ("1:1", 4)])
def test_canvas_size_rejects_bad_input(ratio, long_side):
    with pytest.raises(ValueError, match=r"aspect ratio|long_side"):
        canvas_size(ratio, long_side)


# ---------------------------------------------------------------------------------------------
# render_image
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ratio", ["3:1", "16:9", "1:1", "9:16", "1:3"])
def test_render_image_png_at_ratio(ratio):
    data = render_image("A lighthouse at dusk", aspect_ratio=ratio, long_side=256)
    assert data.startswith(PNG_MAGIC)
    im = decode(data)
    assert im.format == "PNG"
    assert im.size == canvas_size(ratio, 256)


def test_render_image_jpeg():
    data = render_image("A lighthouse at dusk", fmt="jpeg", aspect_ratio="4:3")
    assert data.startswith(JPEG_MAGIC)
    im = decode(data)
    assert im.format == "JPEG"
    assert im.mode == "RGB"
    assert im.size == (512, 384)


def test_render_image_rejects_unknown_format():
    with pytest.raises(ValueError, match="format"):
        render_image("x", fmt="bmp")


def test_render_image_is_deterministic_and_seeded_by_prompt():
    a1 = render_image("A quiet harbour at dawn", long_side=128)
    a2 = render_image("A quiet harbour at dawn", long_side=128)
    b = render_image("A neon city in the rain", long_side=128)
    assert a1 == a2
    assert distance(decode(a1), decode(b)) > 10


def test_another_take_of_a_prompt_is_another_picture_in_the_same_colours():
    """Seen in demo mode: four variations of a prompt were four copies of one picture."""
    first = decode(render_image("A quiet harbour at dawn", long_side=128, take="1"))
    second = decode(render_image("A quiet harbour at dawn", long_side=128, take="2"))
    again = decode(render_image("A quiet harbour at dawn", long_side=128, take="2"))
    assert distance(first, second) > 3
    assert distance(second, again) == 0
    assert first.getpixel((0, 0)) == second.getpixel((0, 0))  # the same gradient behind


def test_render_image_draws_the_prompt():
    w, h = 512, 512
    bottom = (0, h // 2, w, h)
    with_text = decode(render_image("Words " * 30, long_side=512))
    short_text = decode(render_image("Hi", long_side=512))
    no_text = decode(render_image("", long_side=512))
    assert bright_pixels(no_text, bottom) == 0
    assert bright_pixels(short_text, bottom) > 20
    assert bright_pixels(with_text, bottom) > 10 * bright_pixels(short_text, bottom)


def test_render_image_draws_the_label_top_left():
    corner = (0, 0, 200, 60)
    plain = decode(render_image("A forest", long_side=512))
    labelled = decode(render_image("A forest", long_side=512, label="uni-1 · image"))
    assert bright_pixels(plain, corner) == 0
    assert bright_pixels(labelled, corner) > 20
    # Outside the corner, nothing changed.
    assert ImageChops.difference(plain, labelled).crop((0, 100, 512, 512)).getbbox() is None


def test_edit_is_derived_from_its_source():
    source = halves((200, 40, 40), (40, 60, 200))
    unrelated = halves((40, 200, 60), (240, 220, 40))
    edit = decode(render_image("make it moody", source=source, aspect_ratio="4:3"))
    other_edit = decode(render_image("make it moody", source=unrelated, aspect_ratio="4:3"))
    src_im, unrelated_im = decode(source), decode(unrelated)
    assert distance(edit, src_im) < 45
    assert distance(edit, src_im) * 2 < distance(edit, unrelated_im)
    assert distance(other_edit, unrelated_im) * 2 < distance(other_edit, src_im)
    # ... and visibly changed, not a copy.
    assert distance(edit, src_im) > 8


def test_edit_of_a_render_resembles_it_more_than_an_unrelated_render():
    first = render_image("A mountain lake under a pink sky", aspect_ratio="16:9")
    unrelated = render_image("A green dragon breathing fire", aspect_ratio="16:9")
    edit = decode(render_image("add snow", source=first, aspect_ratio="16:9"))
    assert distance(edit, decode(first)) < distance(edit, decode(unrelated))


def test_edit_is_cropped_to_the_requested_ratio():
    source = halves((200, 40, 40), (40, 60, 200), size=(400, 100))
    edit = decode(render_image("square it", source=source, aspect_ratio="1:1", long_side=256))
    assert edit.size == (256, 256)
    # Centre crop of a red|blue source: the left edge is red-ish, the right edge blue-ish.
    r_left, _, b_left = edit.getpixel((5, 128))
    r_right, _, b_right = edit.getpixel((250, 128))
    assert r_left > b_left
    assert b_right > r_right


def test_edit_rejects_an_unreadable_source():
    with pytest.raises(MediaError):
        render_image("x", source=b"definitely not an image")


def test_references_appear_as_thumbnails_top_right():
    green = encode(Image.new("RGB", (50, 50), (0, 255, 0)))
    plain = decode(render_image("A still life", long_side=512))
    with_refs = decode(render_image("A still life", long_side=512, references=[green, green]))
    top_right = (256, 0, 512, 160)

    def pure_green(im: Image.Image) -> int:
        r, g, b = im.convert("RGB").crop(top_right).split()
        not_green = ImageChops.lighter(r, b).point(lambda v: 255 if v >= 20 else 0)
        mask = ImageChops.darker(
            g.point(lambda v: 255 if v > 240 else 0), ImageOps.invert(not_green)
        )
        return mask.histogram()[255]

    assert pure_green(plain) == 0
    assert pure_green(with_refs) > 2 * (512 // 5) ** 2 * 0.8


# ---------------------------------------------------------------------------------------------
# render_video
# ---------------------------------------------------------------------------------------------


def test_video_is_h264_mp4_of_five_seconds(video5):
    assert video5[4:8] == b"ftyp"
    assert video5.find(b"moov") < video5.find(b"mdat")  # faststart
    info = probe_video(video5, max_pixels=None)
    assert info.format == "mp4"
    assert info.mime_type == "video/mp4"
    assert info.codec == "h264"
    assert info.fps == 24
    assert info.duration == pytest.approx(5.0, abs=FRAME)
    assert info.frames == 120
    assert (info.width, info.height) == (256, 144)
    with av.open(io.BytesIO(video5)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert sum(1 for _ in container.decode(stream)) == 120


def test_video_of_ten_seconds(video10):
    info = probe_video(video10, max_pixels=None)
    assert info.duration == pytest.approx(10.0, abs=FRAME)
    assert info.frames == 240
    assert info.fps == 24


@pytest.mark.parametrize(("ratio", "size"), [("9:16", (144, 256)), ("1:1", (256, 256))])
def test_video_aspect_ratio(ratio, size):
    info = probe_video(render_video("tall", aspect_ratio=ratio, seconds=0.5), max_pixels=None)
    assert (info.width, info.height) == size
    assert info.frames == 12


def test_video_is_animated(video10):
    first, later = read_frame(video10, 0), read_frame(video10, 60)
    assert ImageChops.difference(first, later).getbbox() is not None
    assert distance(first, later) > 1


def test_keyframe_is_visible_at_its_frame(video5):
    key = ImageOps.fit(KEY, (256, 144))
    at_key = read_frame(video5, 60)
    near_key = read_frame(video5, 58)
    assert distance(at_key, key) < 20
    assert distance(near_key, key) < 20
    assert distance(read_frame(video5, 63), key) < 20  # shown solidly for +-3 frames ...
    assert distance(read_frame(video5, 0), key) > 60
    assert distance(read_frame(video5, 45), key) > 60
    assert distance(read_frame(video5, 70), key) > 60  # ... and faded out by 7 frames away
    faded = distance(read_frame(video5, 65), key)  # mid-crossfade
    assert 20 < faded < 90


def test_keyframe_at_the_end_and_last_frame(red_to_blue):
    last = decode(frame_png(red_to_blue, -1))
    assert last.size == (256, 144)
    r, _, b = ImageStat.Stat(last).mean
    assert b > 150 > r
    r0, _, b0 = ImageStat.Stat(read_frame(red_to_blue, 0)).mean
    assert r0 > 150 > b0
    assert ImageChops.difference(last, read_frame(red_to_blue, -1)).getbbox() is None


def test_keyframe_index_must_be_inside_the_video():
    with pytest.raises(ValueError, match="Keyframe"):
        render_video("x", seconds=1, keyframes=[(24, RED)])


def test_seconds_none_without_source_means_five_seconds():
    assert probe_video(render_video("x", seconds=None, long_side=64), max_pixels=None).frames == 120


def test_source_video_keeps_its_duration_and_is_derived(red_to_blue):
    derived = render_video("make it night", source_video=red_to_blue, seconds=None)
    info = probe_video(derived, max_pixels=None)
    assert info.duration == pytest.approx(2.0, abs=FRAME)
    assert info.frames == 48
    unrelated = render_video("unrelated", seconds=2)
    first = read_frame(derived, 0)
    assert distance(first, read_frame(red_to_blue, 0)) < distance(first, read_frame(unrelated, 0))
    r, _, b = ImageStat.Stat(first).mean
    assert r > b  # red at the start ...
    r, _, b = ImageStat.Stat(read_frame(derived, -1)).mean
    assert b > r  # ... blue at the end, like the source
    # Recoloured, not copied.
    assert distance(first, read_frame(red_to_blue, 0)) > 5


def test_source_video_is_looped_to_a_longer_duration(red_to_blue):
    derived = render_video("longer", source_video=red_to_blue, seconds=3, aspect_ratio="1:1")
    info = probe_video(derived, max_pixels=None)
    assert info.frames == 72
    assert (info.width, info.height) == (256, 256)
    r, _, b = ImageStat.Stat(read_frame(derived, 47)).mean
    assert b > r  # end of the first pass
    r, _, b = ImageStat.Stat(read_frame(derived, 48)).mean
    assert r > b  # the source starts over


def test_a_default_video_is_small_enough_to_render_on_every_request():
    # What keeps a simulated render cheap, stated as behaviour: a 256 px long side, 24 fps.
    video = render_video("cheap", seconds=5)
    info = probe_video(video, max_pixels=None)
    assert (info.width, info.height, info.fps, info.frames) == (256, 144, 24.0, 120)
    assert len(video) < 500_000


def test_read_frame_out_of_range(red_to_blue):
    with pytest.raises(IndexError):
        read_frame(red_to_blue, 48)
    with pytest.raises(IndexError):
        read_frame(red_to_blue, -49)
    assert read_frame(red_to_blue, 47).size == (256, 144)


# ---------------------------------------------------------------------------------------------
# render_layers
# ---------------------------------------------------------------------------------------------


def test_layers_are_three_rgba_pngs_with_metadata():
    source = render_image("A cat on a sofa", aspect_ratio="4:3")
    layers = render_layers(source, prompt="A cat on a sofa")
    assert len(layers) == 3
    labels = []
    for i, (data, meta) in enumerate(layers):
        assert data.startswith(PNG_MAGIC)
        im = decode(data)
        assert im.mode == "RGBA"
        assert im.size == (256, 192)
        assert meta["index"] == i
        assert "A cat on a sofa" in meta["description"]
        labels.append(meta["label"])
    assert labels == ["subject", "midground", "background"]
    assert [m["alpha_hint"] for _, m in layers] == ["soft", "hard", "none"]


def test_layer_alpha_matches_hints():
    layers = render_layers(halves((200, 40, 40), (40, 60, 200)))
    alphas = [decode(data).getchannel("A") for data, _ in layers]
    subject, band, background = (
        {value for value, n in enumerate(a.histogram()) if n} for a in alphas
    )
    assert {0, 255} <= subject
    assert len(subject) > 10  # soft edge: many intermediate values
    assert band == {0, 255}
    assert background == {255}
    band_alpha = alphas[1]
    w, h = band_alpha.size
    assert band_alpha.getpixel((w // 2, h * 7 // 10)) == 0  # the subject is not in the band
    assert band_alpha.getpixel((3, h * 7 // 10)) == 255
    assert band_alpha.getpixel((3, h // 4)) == 0


def test_layers_composite_back_to_the_source():
    source = halves((200, 40, 40), (40, 60, 200), size=(300, 300))
    layers = [decode(data) for data, _ in render_layers(source, resolution="2k")]
    assert layers[0].size == (512, 512)
    canvas = layers[2]
    for layer in reversed(layers[:2]):
        canvas = Image.alpha_composite(canvas, layer)
    assert distance(canvas, decode(source)) < 6
    # The background alone lost its subject (the white disc) ...
    assert distance(layers[2].convert("RGB"), decode(source)) > distance(canvas, decode(source))
    # ... which the subject layer holds.
    assert layers[0].getpixel((256, 256)) == (255, 255, 255, 255)


def test_layers_reject_unknown_resolution():
    with pytest.raises(ValueError, match="resolution"):
        render_layers(RED, resolution="4k")


# ---------------------------------------------------------------------------------------------
# probe_image
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "name", "mime"),
    [
        ("PNG", "png", "image/png"),
        ("JPEG", "jpeg", "image/jpeg"),
        ("WEBP", "webp", "image/webp"),
        ("GIF", "gif", "image/gif"),
    ],
)
def test_probe_image_accepts_images(fmt, name, mime):
    data = encode(Image.new("RGB", (120, 80), (10, 200, 30)), fmt)
    assert probe_image(data, max_pixels=10_000) == ImageInfo(name, mime, 120, 80)


def test_probe_image_limit_is_inclusive():
    data = encode(Image.new("RGB", (100, 100)))
    assert probe_image(data, max_pixels=10_000).width == 100
    with pytest.raises(MediaError, match=r"100\u00d7100 pixels; the limit is 0\.009999 megapixels"):
        probe_image(data, max_pixels=9_999)


def test_probe_image_refuses_text_renamed_png(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("Shopping list: eggs, milk, bread.\n" * 20)
    with pytest.raises(MediaError) as excinfo:
        probe_image(path.read_bytes(), max_pixels=50_000_000)
    assert str(excinfo.value) == "This file is not an image we can read."


def test_probe_image_refuses_unsupported_formats():
    with pytest.raises(MediaError, match="not an image"):
        probe_image(encode(Image.new("RGB", (8, 8)), "BMP"), max_pixels=1000)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_probe_image_refuses_truncated_images(fmt):
    data = encode(noisy(), fmt)
    assert probe_image(data, max_pixels=50_000).width == 200
    with pytest.raises(MediaError, match="damaged or incomplete"):
        probe_image(data[: len(data) // 2], max_pixels=50_000)


def test_probe_image_refuses_a_pixel_bomb_from_its_header():
    bomb = png_with_header_size(30_000, 30_000)
    assert len(bomb) < 200
    tracemalloc.start()
    try:
        with pytest.raises(MediaError) as excinfo:
            probe_image(bomb, max_pixels=50_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # refused from the header, never decoded
    assert (
        str(excinfo.value) == "This image is 30000\u00d730000 pixels; the limit is 50 megapixels."
    )


def test_probe_image_checks_size_before_decoding():
    # 6000x6000 is under Pillow's own bomb limit; the header lies (the pixel data is 8x8), so
    # if the image were decoded first the error would be "damaged", not "too large".
    with pytest.raises(MediaError, match=r"6000\u00d76000 pixels; the limit is 16 megapixels"):
        probe_image(png_with_header_size(6000, 6000), max_pixels=16_000_000)
    with pytest.raises(MediaError, match="damaged"):
        probe_image(png_with_header_size(600, 600), max_pixels=16_000_000)


# ---------------------------------------------------------------------------------------------
# probe_video
# ---------------------------------------------------------------------------------------------


def test_probe_video_reads_a_path_without_slurping(tmp_path, video10):
    path = tmp_path / "clip.mp4"
    path.write_bytes(video10)
    assert len(video10) > 150_000
    tracemalloc.start()
    try:
        by_path = probe_video(path, max_pixels=None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < len(video10) / 2
    assert isinstance(by_path, VideoInfo)
    assert by_path == probe_video(str(path), max_pixels=None)
    assert by_path == probe_video(video10, max_pixels=None)
    assert by_path.frames == 240


def test_probe_video_mov_and_webm():
    mov = probe_video(tiny_video("mov", "libx264"), max_pixels=None)
    assert (mov.format, mov.mime_type, mov.codec) == ("mov", "video/quicktime", "h264")
    webm = probe_video(tiny_video("webm", "libvpx"), max_pixels=None)
    assert (webm.format, webm.mime_type, webm.codec) == ("webm", "video/webm", "vp8")
    for info in (mov, webm):
        assert (info.width, info.height, info.frames) == (64, 48, 12)
        assert info.duration == pytest.approx(1.0, abs=1 / 12)
        assert info.fps == 12


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"hello, this is not a video at all" * 10,
        b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n",
        PNG_MAGIC + b"\x00" * 100,
    ],
)
def test_probe_video_refuses_junk(junk):
    with pytest.raises(MediaError, match="not a video"):
        probe_video(junk, max_pixels=None)


def test_probe_video_refuses_mkv():
    with pytest.raises(MediaError, match="not a video"):
        probe_video(tiny_video("matroska", "libx264"), max_pixels=None)


def test_probe_video_refuses_garbage_behind_an_mp4_header():
    with pytest.raises(MediaError, match="damaged"):
        probe_video(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 4, max_pixels=None)


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda n: 400, id="inside-moov"),
        pytest.param(lambda n: n // 2, id="half"),
        pytest.param(lambda n: n * 99 // 100, id="99-percent"),
        pytest.param(lambda n: n - 1, id="last-byte"),  # every packet there, the last one short
    ],
)
def test_probe_video_refuses_truncated_mp4(video5, cut):
    with pytest.raises(MediaError, match="damaged or incomplete"):
        probe_video(video5[: cut(len(video5))], max_pixels=None)


def test_probe_video_refuses_mp4_cut_cleanly_between_frames(video5):
    with av.open(io.BytesIO(video5)) as container:
        positions = [p.pos for p in container.demux(video=0) if p.size]
    assert len(positions) == 120
    with pytest.raises(MediaError, match="damaged or incomplete"):
        probe_video(video5[: positions[60]], max_pixels=None)


def test_probe_video_refuses_a_file_without_video():
    with pytest.raises(MediaError, match="no video track"):
        probe_video(audio_only_mp4(), max_pixels=None)


def test_probe_video_judges_the_pixel_count_by_the_header_before_decoding():
    # The header says 16000x16000 (2 GB as a decoded frame); the frame is no picture at all,
    # so if it were decoded first the error would be "damaged", not "too large".
    bomb = png_mov(b"not a picture", (16000, 16000))
    with pytest.raises(MediaError, match=r"16000\u00d716000 pixels; the limit is 40 megapixels"):
        probe_video(bomb, max_pixels=40_000_000)


def test_probe_video_decodes_no_frame_larger_than_its_header_says():
    honest = probe_video(png_mov(png(size=(1000, 1000)), (1000, 1000)), max_pixels=1_000_000)
    assert (honest.width, honest.height, honest.codec) == (1000, 1000, "png")
    with pytest.raises(MediaError, match="damaged"):
        probe_video(png_mov(png(size=(1000, 1000)), (8, 8)), max_pixels=1_000_000)


def test_media_error_is_a_value_error():
    assert issubclass(MediaError, ValueError)
    assert sim_media.LAYER_LONG_SIDES == {"1k": 256, "2k": 512}


class CountingFont:
    """A font that counts its measurements (each is linear in the text's length)."""

    def __init__(self) -> None:
        self.font = sim_media._font(20)
        self.measured = 0

    def getlength(self, text: str) -> float:
        self.measured += 1
        return self.font.getlength(text)


def test_a_prompt_of_one_long_word_is_wrapped_with_a_bounded_number_of_measurements():
    # Found from outside: an image prompt of 5,000 digits held every web thread for minutes
    # (the simulator drew it, and each poll drew it again), because a word wider than a line
    # was cut one character at a time.
    font = CountingFont()
    lines = sim_media._wrap("9" * 6000, font, 600, 8)  # type: ignore[arg-type]
    assert len(lines) == 8
    assert lines[-1].endswith("…")
    assert all(font.font.getlength(line) <= 600 for line in lines)
    assert "".join(lines).rstrip("…") == "9" * len("".join(lines).rstrip("…"))
    assert font.measured < 400, font.measured


def test_a_long_word_is_cut_where_it_fills_the_line():
    font = sim_media._font(20)
    first, *_ = sim_media._wrap("a" * 300 + " end", font, 200, 4)
    assert font.getlength(first) <= 200
    assert font.getlength(first + "a") > 200
