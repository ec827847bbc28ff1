"""Real media for the Luma API simulators.

The simulator never hands back a placeholder URL with nothing behind it: every output it
returns is backed by media produced here.

* Images (:func:`render_image`) are drawn with Pillow at the requested aspect ratio and format.
  The picture is a deterministic gradient-and-shapes scene seeded by the prompt (its shapes by
  the take too: each job's id), with the prompt itself written on it and a small label (e.g.
  ``"uni-1 · image"``) in the top-left corner.
  An edit (``source=...``) is visibly derived from its source: the source is cropped to the
  canvas, posterised and tinted, and the new prompt is drawn over it.  Reference images appear
  as a strip of thumbnails.
* Videos (:func:`render_video`) are real H.264 MP4 files (libx264, yuv420p, ``moov`` atom at the
  front) at 24 fps by default, with exactly ``round(seconds * fps)`` frames.  Frames are small
  (long side 256 by default) so that a 5 s clip encodes in a small fraction of a second.
  Keyframe images are shown at and around their frame index; a ``source_video`` is recoloured
  frame by frame.
* Layering (:func:`render_layers`) splits an image into three RGBA PNG layers.

:func:`read_frame` and :func:`frame_png` decode individual video frames (for tests, and for chained
derivations such as extending a video from its last frame).

Everything here is pure: bytes (or a path) in, bytes or small value objects out.  No Django.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import math
import random
import struct
import tempfile
import warnings
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps, UnidentifiedImageError

from generations.media_probe import (
    DAMAGED_IMAGE,
    DAMAGED_VIDEO,
    IMAGE_FORMATS,
    NO_VIDEO_TRACK,
    NOT_AN_IMAGE,
    MediaError,
    open_video_input,
    probe_video,
)

__all__ = [
    "ASPECT_RATIOS",
    "LAYER_LONG_SIDES",
    "add_audio_track",
    "canvas_size",
    "frame_png",
    "read_frame",
    "render_image",
    "render_layers",
    "render_video",
]

#: The aspect ratios Luma's API accepts, widest first.
ASPECT_RATIOS: tuple[str, ...] = (
    "3:1",
    "2:1",
    "21:9",
    "16:9",
    "4:3",
    "3:2",
    "1:1",
    "3:4",
    "2:3",
    "9:16",
    "1:2",
    "9:21",
    "1:3",
)

#: Long side, in pixels, of the layers produced for each layering resolution.  The simulator
#: deliberately scales these down (the real service works at 1024 / 2048) to stay fast.
LAYER_LONG_SIDES: dict[str, int] = {"1k": 256, "2k": 512}

#: Longest video the simulator will render, in seconds (a guard against runaway encodes).
MAX_VIDEO_SECONDS = 60.0


def _parse_ratio(aspect_ratio: str) -> tuple[int, int]:
    if aspect_ratio not in ASPECT_RATIOS:
        choices = ", ".join(ASPECT_RATIOS)
        msg = f"Unsupported aspect ratio {aspect_ratio!r}; expected one of {choices}."
        raise ValueError(msg)
    w, h = aspect_ratio.split(":")
    return int(w), int(h)


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def canvas_size(aspect_ratio: str, long_side: int) -> tuple[int, int]:
    """Return ``(width, height)`` for ``aspect_ratio`` (e.g. ``"16:9"``) with the given long side.

    Both dimensions are even (H.264 with 4:2:0 chroma needs that), so ``long_side`` is rounded
    to an even number too.  Raises ``ValueError`` for an unknown ratio or a long side below 16.
    """
    rw, rh = _parse_ratio(aspect_ratio)
    if long_side < 16:
        msg = f"long_side must be at least 16, not {long_side}."
        raise ValueError(msg)
    long_even = _even(long_side)
    if rw >= rh:
        return long_even, _even(long_side * rh / rw)
    return _even(long_side * rw / rh), long_even


def _digest(seed: str) -> bytes:
    return hashlib.sha256(seed.encode("utf-8")).digest()


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return round(r * 255), round(g * 255), round(b * 255)


@dataclass(frozen=True, slots=True)
class _Palette:
    light: tuple[int, int, int]
    dark: tuple[int, int, int]
    accent: tuple[int, int, int]
    tint: tuple[int, int, int]


def _palette(prompt: str) -> _Palette:
    d = _digest(prompt)
    hue = d[0] / 256
    return _Palette(
        light=_hsv(hue, 0.35 + d[1] / 1024, 0.95),
        dark=_hsv(hue + 0.12 + d[2] / 1024, 0.65 + d[3] / 1024, 0.45 + d[4] / 1024),
        accent=_hsv(hue + 0.5, 0.7, 0.98),
        tint=_hsv(hue + 0.33 + d[5] / 2048, 0.8, 0.9),
    )


def _gradient(size: tuple[int, int], prompt: str) -> Image.Image:
    """A diagonal two-colour gradient whose colours and direction derive from the prompt."""
    d = _digest(prompt)
    pal = _palette(prompt)
    vertical = Image.linear_gradient("L")
    horizontal = vertical.transpose(Image.Transpose.ROTATE_90)
    if d[6] & 1:
        horizontal = horizontal.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    grey = Image.blend(vertical, horizontal, 0.2 + 0.6 * d[7] / 255)
    grey = grey.resize(size, Image.Resampling.BILINEAR)
    return ImageOps.colorize(grey, black=pal.dark, white=pal.light)


def _scene(size: tuple[int, int], prompt: str, take: str = "") -> Image.Image:
    """The still scene for ``prompt``: gradient plus a few soft translucent shapes, placed by
    ``take`` too (another take of a prompt: the same colours, another composition)."""
    w, h = size
    pal = _palette(prompt)
    rng = random.Random(_digest(prompt + "\x00shapes" + take))
    base = _gradient(size, prompt).convert("RGBA")
    shapes = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(shapes)
    short = min(w, h)
    # A large "sun", then a few bubbles and a tilted-looking band.
    r = short * rng.uniform(0.22, 0.32)
    cx, cy = w * rng.uniform(0.25, 0.75), h * rng.uniform(0.25, 0.6)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*pal.accent, 150))
    for _ in range(4):
        rr = short * rng.uniform(0.04, 0.12)
        x, y = w * rng.random(), h * rng.random()
        colour = pal.light if rng.random() < 0.5 else pal.tint
        draw.ellipse((x - rr, y - rr, x + rr, y + rr), fill=(*colour, 110))
    band_y = h * rng.uniform(0.55, 0.8)
    draw.polygon(
        [(0, band_y), (w, band_y - h * rng.uniform(0.05, 0.2)), (w, h), (0, h)],
        fill=(*pal.dark, 120),
    )
    shapes = shapes.filter(ImageFilter.GaussianBlur(max(1, short // 96)))
    return Image.alpha_composite(base, shapes).convert("RGB")


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def _text_size(w: int, h: int) -> int:
    return max(11, round(math.sqrt(w * h) / 18))


def _wrap(
    text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int, max_lines: int
) -> list[str]:
    """Greedy word wrap to ``width`` pixels; text that doesn't fit ends with an ellipsis."""
    words = deque(text.split())
    lines: list[str] = []
    while words and len(lines) < max_lines:
        line = words.popleft()
        if font.getlength(line) > width:  # hard-break a word wider than a whole line
            cut = _fitting(line, font, width)
            words.appendleft(line[cut:])
            line = line[:cut]
        else:
            while words and font.getlength(f"{line} {words[0]}") <= width:
                line = f"{line} {words.popleft()}"
        lines.append(line)
    if words and lines:
        last = lines[-1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return lines


def _fitting(word: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> int:
    """How many of `word`'s first characters fit in `width` (at least one), found by halving:
    a few measurements whatever its length, where cutting a character at a time took minutes
    for a prompt of one 5,000-character word."""
    fits, over = 1, len(word)
    while over - fits > 1:
        middle = (fits + over) // 2
        if font.getlength(word[:middle]) <= width:
            fits = middle
        else:
            over = middle
    return fits


def _text_overlay(size: tuple[int, int], prompt: str, label: str) -> Image.Image:
    """A transparent RGBA layer with the prompt in a panel at the bottom and the label top-left."""
    w, h = size
    overlay = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    text_px = _text_size(w, h)
    margin = max(4, text_px // 2)
    text = " ".join(prompt.split())
    if text:
        font = _font(text_px)
        line_h = round(text_px * 1.25)
        max_lines = max(1, int(h * 0.45) // line_h)
        lines = _wrap(text, font, w - 4 * margin, max_lines)
        panel_h = len(lines) * line_h + 2 * margin
        top = h - margin - panel_h
        draw.rounded_rectangle(
            (margin, top, w - margin, h - margin), radius=margin, fill=(0, 0, 0, 140)
        )
        for i, line in enumerate(lines):
            y = top + margin + i * line_h
            draw.text((2 * margin + 1, y + 1), line, font=font, fill=(0, 0, 0, 160))
            draw.text((2 * margin, y), line, font=font, fill=(255, 255, 255, 255))
    if label:
        _draw_tag(draw, (margin, margin), label, max(9, round(text_px * 0.7)))
    return overlay


def _draw_tag(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, px: int) -> None:
    """A small white-on-dark pill with ``text`` whose top-left corner is ``xy``."""
    font = _font(px)
    pad = max(2, px // 3)
    _, _, right, bottom = draw.textbbox((xy[0] + pad, xy[1] + pad), text, font=font)
    draw.rounded_rectangle(
        (xy[0], xy[1], right + pad, bottom + pad), radius=pad * 2, fill=(0, 0, 0, 150)
    )
    draw.text((xy[0] + pad, xy[1] + pad), text, font=font, fill=(255, 255, 255, 255))


def _draw_tag_right(
    draw: ImageDraw.ImageDraw, right_top: tuple[int, int], text: str, px: int
) -> None:
    font = _font(px)
    pad = max(2, px // 3)
    width = draw.textlength(text, font=font)
    _draw_tag(draw, (round(right_top[0] - width - 2 * pad), right_top[1]), text, px)


def _open_image(data: bytes, target: tuple[int, int] | None = None) -> Image.Image:
    """Decode image bytes to RGB (EXIF orientation applied); raises :class:`MediaError`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
        if target is not None and opened.format == "JPEG":
            opened.draft("RGB", target)  # decode JPEGs at a reduced scale: we'll shrink anyway
        opened.load()
        im = ImageOps.exif_transpose(opened)
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(flat, rgba).convert("RGB")
        return im.convert("RGB")
    except UnidentifiedImageError as exc:
        raise MediaError(NOT_AN_IMAGE) from exc
    except Image.DecompressionBombError as exc:
        raise MediaError("This image is too large to read.") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaError(DAMAGED_IMAGE) from exc


def _recolour(im: Image.Image, tint: tuple[int, int, int], strength: float = 0.3) -> Image.Image:
    """Posterise ``im`` and wash it with ``tint``: clearly changed, clearly the same picture."""
    poster = ImageOps.posterize(im.convert("RGB"), 3)
    return Image.blend(poster, Image.new("RGB", im.size, tint), strength)


def _encode_image(im: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "png":
        im.save(buf, format="PNG", compress_level=1)
    else:
        im.convert("RGB").save(buf, format="JPEG", quality=88)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------


def render_image(
    prompt: str,
    *,
    aspect_ratio: str = "1:1",
    fmt: str = "png",
    source: bytes | None = None,
    references: Sequence[bytes] = (),
    long_side: int = 512,
    label: str = "",
    take: str = "",
) -> bytes:
    """Render a deterministic picture for ``prompt`` and return it encoded as PNG or JPEG.

    Without ``source`` the picture is a gradient-and-shapes scene whose colours derive from a
    hash of the prompt.  With ``source`` (the bytes of an image) the result is an edit of it: the
    source is scaled and centre-cropped to the canvas, posterised and tinted with a colour that
    depends on the new prompt.  ``take`` (a job's id, say) moves the scene's shapes, as another
    take of the same prompt differs.  Up to four ``references`` are shown as a thumbnail strip in
    the top-right corner.  The prompt is drawn in a panel along the bottom, ``label`` top-left.

    ``fmt`` is ``"png"`` or ``"jpeg"`` (``"jpg"`` is accepted too).  The canvas is
    :func:`canvas_size` of ``aspect_ratio`` and ``long_side``.  A ``source`` or reference that
    can't be decoded raises :class:`MediaError`; bad arguments raise ``ValueError``.
    """
    fmt = fmt.lower()
    if fmt == "jpg":
        fmt = "jpeg"
    if fmt not in ("png", "jpeg"):
        msg = f"Unsupported image format {fmt!r}; expected 'png' or 'jpeg'."
        raise ValueError(msg)
    size = canvas_size(aspect_ratio, long_side)
    w, h = size
    if source is not None:
        src = _open_image(source, size)
        picture = _recolour(
            ImageOps.fit(src, size, Image.Resampling.BILINEAR), _palette(prompt).tint
        )
    else:
        picture = _scene(size, prompt, take)
    canvas = picture.convert("RGBA")
    if references:
        strip = Image.new("RGBA", size, (0, 0, 0, 0))
        thumb = max(12, min(w, h) // 5)
        border = max(1, thumb // 24)
        margin = max(4, _text_size(w, h) // 2)
        x = w - margin - thumb
        for ref in list(references)[:4]:
            if x < margin:
                break
            picture_ref = ImageOps.fit(_open_image(ref, (thumb, thumb)), (thumb, thumb))
            framed = ImageOps.expand(picture_ref, border=border, fill=(255, 255, 255))
            strip.paste(framed.convert("RGBA"), (x - border, margin - border))
            x -= thumb + margin
        canvas = Image.alpha_composite(canvas, strip)
    canvas = Image.alpha_composite(canvas, _text_overlay(size, prompt, label))
    return _encode_image(canvas.convert("RGB"), fmt)


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------


def render_layers(
    source: bytes, *, prompt: str = "", resolution: str = "1k"
) -> list[tuple[bytes, dict[str, Any]]]:
    """Split ``source`` into three RGBA PNG layers, front to back, each with metadata.

    The layers keep the source's aspect ratio at the simulator's scaled-down sizes: a long side
    of 256 px for ``"1k"`` and 512 px for ``"2k"`` (see :data:`LAYER_LONG_SIDES`).

    0. ``"subject"`` - the centre of the image cut out by a soft-edged ellipse
       (``alpha_hint "soft"``);
    1. ``"midground"`` - a horizontal band across the lower middle, minus the subject
       (``alpha_hint "hard"``);
    2. ``"background"`` - the whole picture, fully opaque, with the subject's area smudged as if
       inpainted (``alpha_hint "none"``).

    Metadata is ``{"index", "label", "description", "alpha_hint"}``.  Raises
    :class:`MediaError` if ``source`` isn't a readable image, ``ValueError`` for an unknown
    resolution.
    """
    if resolution not in LAYER_LONG_SIDES:
        msg = (
            f"Unsupported resolution {resolution!r}; expected one of {', '.join(LAYER_LONG_SIDES)}."
        )
        raise ValueError(msg)
    long_side = LAYER_LONG_SIDES[resolution]
    src = _open_image(source, (long_side, long_side))
    scale = long_side / max(src.size)
    size = (max(1, round(src.width * scale)), max(1, round(src.height * scale)))
    picture = src.resize(size, Image.Resampling.BILINEAR)
    w, h = size

    hard_subject = Image.new("L", size, 0)
    ImageDraw.Draw(hard_subject).ellipse((w * 0.2, h * 0.15, w * 0.8, h * 0.85), fill=255)
    soft_subject = hard_subject.filter(ImageFilter.GaussianBlur(max(1, long_side // 48)))

    band = Image.new("L", size, 0)
    ImageDraw.Draw(band).rectangle((0, round(h * 0.55), w, round(h * 0.85)), fill=255)
    band = Image.composite(Image.new("L", size, 0), band, hard_subject)

    smudged = picture.filter(ImageFilter.GaussianBlur(max(2, long_side // 12)))
    background = Image.composite(smudged, picture, soft_subject)

    subject_layer = picture.convert("RGBA")
    subject_layer.putalpha(soft_subject)
    band_layer = picture.convert("RGBA")
    band_layer.putalpha(band)
    background_layer = background.convert("RGBA")

    about = f" of “{' '.join(prompt.split())}”" if prompt.strip() else ""
    specs = [
        (
            subject_layer,
            "subject",
            f"The central subject{about}, cut out with a soft edge.",
            "soft",
        ),
        (band_layer, "midground", f"The midground band{about}, behind the subject.", "hard"),
        (background_layer, "background", f"The opaque background{about}, subject removed.", "none"),
    ]
    layers: list[tuple[bytes, dict[str, Any]]] = []
    for index, (layer, name, description, alpha_hint) in enumerate(specs):
        meta = {"index": index, "label": name, "description": description, "alpha_hint": alpha_hint}
        layers.append((_encode_image(layer, "png"), meta))
    return layers


# --------------------------------------------------------------------------------------------
def _iter_frames(video: bytes) -> Generator[Any, None, None]:
    container, _ = open_video_input(io.BytesIO(video), video[:64])
    with container:
        if not container.streams.video:
            raise MediaError(NO_VIDEO_TRACK)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            yield from container.decode(stream)
        except av.FFmpegError as exc:
            raise MediaError(DAMAGED_VIDEO) from exc


def read_frame(video: bytes, index: int) -> Image.Image:
    """Decode frame number ``index`` (0-based, presentation order) of ``video`` as an RGB image.

    A negative index counts from the end (``-1`` is the last frame).  Raises ``IndexError`` if
    the video has no such frame and :class:`MediaError` if it isn't a readable video.
    """
    if index >= 0:
        with closing(_iter_frames(video)) as frames:
            for i, frame in enumerate(frames):
                if i == index:
                    image: Image.Image = frame.to_image()
                    return image
    else:
        tail: deque[Any] = deque(_iter_frames(video), maxlen=-index)
        if len(tail) == -index:
            image = tail[0].to_image()
            return image
    msg = f"The video has no frame {index}."
    raise IndexError(msg)


def frame_png(video: bytes, index: int) -> bytes:
    """Frame ``index`` of ``video`` as PNG bytes (``-1`` is the last: a video extends from it)."""
    return _encode_image(read_frame(video, index), "png")


# --------------------------------------------------------------------------------------------
# Videos
# --------------------------------------------------------------------------------------------


def _keyframe_weight(distance: int) -> float:
    """How much of a keyframe shows ``distance`` frames away: solid for ±3, then a 4-frame fade."""
    if distance <= 3:
        return 1.0
    return max(0.0, 1.0 - (distance - 3) / 4)


def _fit_frame(frame: Any, size: tuple[int, int]) -> Image.Image:
    """Scale an ``av.VideoFrame`` to cover ``size`` (with swscale) and centre-crop it."""
    w, h = size
    scale = max(w / frame.width, h / frame.height)
    cw, ch = max(w, math.ceil(frame.width * scale)), max(h, math.ceil(frame.height * scale))
    image: Image.Image = frame.reformat(width=cw, height=ch, format="rgb24").to_image()
    left, top = (cw - w) // 2, (ch - h) // 2
    return image.crop((left, top, left + w, top + h))


def _source_frames(
    source: bytes, size: tuple[int, int], fps: int, count: int, duration: float
) -> Iterator[Image.Image]:
    """``count`` frames sampled from ``source`` at ``fps``, looping it if it's too short.

    Output frame ``n`` (at ``n / fps`` seconds, modulo ``duration``) shows the latest source
    frame whose timestamp is not after that moment.  Streams through the source (re-opening it
    for each loop), so memory stays bounded whatever the source's length.
    """
    produced = 0
    loop = 0
    while produced < count:
        loop_start = produced
        first_time: float | None = None
        previous: Any = None
        last: Any = None
        with closing(_iter_frames(source)) as frames:  # closed on early exit, not at GC
            for i, frame in enumerate(frames):
                last = frame
                t = float(frame.time) if frame.time is not None else i / fps
                if first_time is None:
                    first_time = t
                t -= first_time
                local = produced / fps - loop * duration
                while produced < count and local < duration and local < t - 1e-6:
                    yield _fit_frame(previous if previous is not None else frame, size)
                    produced += 1
                    local = produced / fps - loop * duration
                if produced >= count or local >= duration:
                    break
                previous = frame
        if last is None:
            raise MediaError(DAMAGED_VIDEO)
        tail = previous if previous is not None else last
        while produced < count and produced / fps - loop * duration < duration:
            yield _fit_frame(tail, size)
            produced += 1
        if produced == loop_start:  # a degenerate (near-zero-length) source must not spin
            while produced < count:
                yield _fit_frame(tail, size)
                produced += 1
        loop += 1


def render_video(
    prompt: str,
    *,
    aspect_ratio: str = "16:9",
    seconds: float | None = 5,
    fps: int = 24,
    keyframes: Sequence[tuple[int, bytes]] = (),
    source_video: bytes | None = None,
    long_side: int = 256,
    label: str = "",
) -> bytes:
    """Render an H.264 MP4 (yuv420p, moov atom first) of exactly ``round(seconds * fps)`` frames.

    Without ``source_video`` each frame is an animated scene: a moving shape over the prompt's
    gradient, the prompt in a panel at the bottom, a frame counter top-right and a progress
    bar.  With ``source_video`` each frame is the source's frame at that moment, cropped to the
    canvas, posterised and tinted, with the prompt drawn over it; ``seconds=None`` then keeps the
    source's duration, while a longer ``seconds`` loops the source.  Without a source,
    ``seconds=None`` means 5 s.

    ``keyframes`` are ``(frame_index, image_bytes)`` pairs (a negative index counts from the
    end, ``-1`` being the last frame): the image, fitted to the canvas, fully replaces the scene
    for frames ``index-3 .. index+3`` and crossfades out over the next four frames each side
    (only the counter and progress bar stay on top).

    The canvas is :func:`canvas_size` of ``aspect_ratio`` and ``long_side``.  Raises
    ``ValueError`` for bad arguments and :class:`MediaError` for an unreadable source or
    keyframe image.
    """
    if not 1 <= fps <= 120:
        msg = f"fps must be between 1 and 120, not {fps}."
        raise ValueError(msg)
    size = canvas_size(aspect_ratio, long_side)
    w, h = size
    source_duration = 0.0
    if source_video is not None:
        source_duration = probe_video(source_video, max_pixels=None).duration  # probed on arrival
        if source_duration <= 0:
            raise MediaError(DAMAGED_VIDEO)
    if seconds is None:
        seconds = source_duration if source_video is not None else 5.0
    if not 0 < seconds <= MAX_VIDEO_SECONDS:
        msg = f"seconds must be more than 0 and at most {MAX_VIDEO_SECONDS:g}, not {seconds}."
        raise ValueError(msg)
    count = max(1, round(seconds * fps))

    placed: list[tuple[int, Image.Image]] = []
    for index, data in keyframes:
        position = index + count if index < 0 else index
        if not 0 <= position < count:
            msg = f"Keyframe index {index} is outside the video's {count} frames."
            raise ValueError(msg)
        placed.append((position, ImageOps.fit(_open_image(data, size), size)))

    pal = _palette(prompt)
    text_px = _text_size(w, h)
    margin = max(4, text_px // 2)
    overlay = _text_overlay(size, prompt, label)
    overlay_rgb, overlay_alpha = overlay.convert("RGB"), overlay.getchannel("A")
    counter_px = max(9, round(text_px * 0.7))

    backgrounds: Iterator[Image.Image]
    if source_video is not None:
        backgrounds = (
            _recolour(im, pal.tint)
            for im in _source_frames(source_video, size, fps, count, source_duration)
        )
    else:
        still = _scene(size, prompt)
        backgrounds = (still.copy() for _ in range(count))

    with tempfile.TemporaryDirectory(prefix="sim-video-") as tmp:
        path = Path(tmp) / "out.mp4"
        with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            stream = out.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.options = {"preset": "ultrafast", "crf": "20"}
            for i, frame_image in enumerate(backgrounds):
                if i >= count:
                    break
                progress = i / max(1, count - 1)
                if source_video is None:
                    _draw_motion(frame_image, progress, pal)
                frame_image.paste(overlay_rgb, (0, 0), overlay_alpha)
                for position, key_image in placed:
                    weight = _keyframe_weight(abs(i - position))
                    if weight >= 1.0:
                        frame_image = key_image.copy()
                    elif weight > 0.0:
                        frame_image = Image.blend(frame_image, key_image, weight)
                draw = ImageDraw.Draw(frame_image, "RGBA")
                _draw_tag_right(draw, (w - margin, margin), f"{i + 1}/{count}", counter_px)
                bar = max(2, h // 64)
                draw.rectangle((0, h - bar, round(w * progress), h), fill=(*pal.accent, 255))
                frame = av.VideoFrame.from_image(frame_image)  # type: ignore[no-untyped-call]
                frame.pts = i
                frame.time_base = Fraction(1, fps)
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        return path.read_bytes()


def _draw_motion(image: Image.Image, progress: float, pal: _Palette) -> None:
    """Draw the moving shapes for a point ``progress`` (0..1) through the clip."""
    w, h = image.size
    short = min(w, h)
    angle = 2 * math.pi * progress
    draw = ImageDraw.Draw(image, "RGBA")
    r = short * 0.16
    cx = w / 2 + (w / 2 - r - 4) * math.sin(angle)
    cy = h * 0.42 + h * 0.2 * math.sin(2 * angle)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*pal.accent, 220))
    s = short * 0.07
    ox = w / 2 + w * 0.3 * math.cos(angle * 2)
    oy = h * 0.3 + h * 0.15 * math.sin(angle * 3)
    draw.rounded_rectangle((ox - s, oy - s, ox + s, oy + s), radius=s / 3, fill=(*pal.light, 200))


def add_audio_track(video: bytes, prompt: str, *, rate: int = 44100) -> bytes:
    """The video with an AAC audio track as long as it: a soft tone pitched by ``prompt``.

    The video stream is copied as it is (no re-encode). Raises :class:`MediaError` for an
    unreadable video.
    """
    pitch = 220 + sum(prompt.encode()) % 440
    seconds = probe_video(video, max_pixels=None).duration  # our own render
    container, _ = open_video_input(io.BytesIO(video), video[:64])
    with tempfile.TemporaryDirectory(prefix="sim-audio-") as tmp:
        path = Path(tmp) / "out.mp4"
        with (
            closing(container) as source,
            av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out,
        ):
            if not source.streams.video:
                raise MediaError(NO_VIDEO_TRACK)
            video_in = source.streams.video[0]
            video_out = out.add_stream_from_template(video_in)
            audio_out = out.add_stream("aac", rate=rate, layout="mono")
            for packet in source.demux(video_in):
                if packet.dts is None:
                    continue
                packet.stream = video_out
                out.mux(packet)
            total = round(seconds * rate)
            for start in range(0, total, 1024):
                count = min(1024, total - start)
                frame = av.AudioFrame(format="fltp", layout="mono", samples=count)
                wave = (
                    0.2 * math.sin(2 * math.pi * pitch * (start + i) / rate) for i in range(count)
                )
                frame.planes[0].update(struct.pack(f"<{count}f", *wave))
                frame.sample_rate = rate
                frame.pts = start
                out.mux(audio_out.encode(frame))
            out.mux(audio_out.encode(None))
        return path.read_bytes()
